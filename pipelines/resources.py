"""Resources per environment, picked once by name (``PHYSWORLD_ENV=local|prod``).

Secrets are ``dg.EnvVar`` (read at launch, hidden in the UI), never read at import. Code outside a run (the
CLI, sensors' helpers, scripts) gets its store through :func:`environment_store`, which resolves those
variables exactly as a run does, so ``physworld add-task`` and the run it prepares see the same lake.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from physworld_core.errors import PhysworldError
from physworld_core.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOCAL_LAKE = str(REPO_ROOT / ".physworld" / "lake")
ENVIRONMENTS = ("local", "prod", "k8s")


class ConfigurationError(PhysworldError):
    """The environment does not say where the lake is or how to reach it."""


class StoreResource(dg.ConfigurableResource):
    """The lake (Delta tables) and its content-addressed blob store, local or on S3."""

    root: str = DEFAULT_LOCAL_LAKE
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-east-1"
    allow_http: bool | None = None

    def store(self) -> Store:
        """The store this resource describes. Outside a run its fields may still be ``dg.EnvVar``s (Dagster
        resolves them only when it initialises resources for a run): resolve them the same way here, instead of
        taking the variable's *name* for its value."""
        unresolved = [value.env_var_name for value in self.__dict__.values() if isinstance(value, dg.EnvVar)]
        if unresolved:
            missing = [name for name in unresolved if not os.environ.get(name)]
            if missing:
                raise ConfigurationError(
                    f"PHYSWORLD_ENV={os.environ.get('PHYSWORLD_ENV', 'local')} reads {', '.join(unresolved)} "
                    f"from the environment, but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} "
                    "not set; export them (see README, Configuration)"
                )
            return self.process_config_and_initialize().store()
        options = None
        if self.root.startswith("s3://"):
            from physworld_core.lake import s3_storage_options

            options = s3_storage_options(
                endpoint_url=self.endpoint_url,
                access_key_id=self.access_key_id,
                secret_access_key=self.secret_access_key,
                region=self.region,
                allow_http=self.allow_http,
            )
        try:
            return Store.at(self.root, options)
        except ValueError as error:
            raise ConfigurationError(f"lake root {self.root!r}: {error}") from None


def _prod() -> dict:
    return {
        "store": StoreResource(
            root=dg.EnvVar("PHYSWORLD_LAKE"),
            endpoint_url=dg.EnvVar("AWS_ENDPOINT_URL"),
            access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
            secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
            region=dg.EnvVar("AWS_REGION"),
        )
    }


def resources_for(env_name: str, local_lake: str | None = None) -> dict:
    """``local``: the embedded default (a Delta lake on disk). ``prod``: S3 with credentials from the environment.
    ``k8s``: the same resources as ``prod``, each step in its own pod (see :mod:`pipelines.k8s`)."""
    by_env = {
        "local": lambda: {"store": StoreResource(root=local_lake or DEFAULT_LOCAL_LAKE)},
        "prod": _prod,
        "k8s": _prod,
    }
    if env_name not in by_env:
        raise ConfigurationError(f"PHYSWORLD_ENV={env_name!r} is not one of {', '.join(ENVIRONMENTS)}")
    return by_env[env_name]()


def environment_name() -> str:
    """``PHYSWORLD_ENV`` (default ``local``), read when a command or the definitions are built."""
    return os.environ.get("PHYSWORLD_ENV", "local")


def environment_store() -> Store:
    """The store a run of this environment would use: same resource, same variables, resolved now."""
    return resources_for(environment_name(), os.environ.get("PHYSWORLD_LAKE"))["store"].store()
