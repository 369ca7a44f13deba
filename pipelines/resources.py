"""Resources per environment, picked once by name (``PHYSWORLD_ENV=local|prod``).

Secrets are ``dg.EnvVar`` (read at launch, hidden in the UI), never read at import.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from physworld_core.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_LOCAL_LAKE = str(REPO_ROOT / ".physworld" / "lake")


class StoreResource(dg.ConfigurableResource):
    """The lake (Delta tables) and its content-addressed blob store, local or on S3."""

    root: str = DEFAULT_LOCAL_LAKE
    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    region: str = "us-east-1"
    allow_http: bool | None = None

    def store(self) -> Store:
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
        return Store.at(self.root, options)


def resources_for(env_name: str, local_lake: str | None = None) -> dict:
    """``local``: the embedded default (a Delta lake on disk). ``prod``: S3 with credentials from the environment."""
    by_env = {
        "local": lambda: {"store": StoreResource(root=local_lake or DEFAULT_LOCAL_LAKE)},
        "prod": lambda: {
            "store": StoreResource(
                root=dg.EnvVar("PHYSWORLD_LAKE"),
                endpoint_url=dg.EnvVar("AWS_ENDPOINT_URL"),
                access_key_id=dg.EnvVar("AWS_ACCESS_KEY_ID"),
                secret_access_key=dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
                region=dg.EnvVar("AWS_REGION"),
            )
        },
    }
    if env_name not in by_env:
        raise ValueError(f"PHYSWORLD_ENV={env_name!r} is not one of {', '.join(by_env)}")
    return by_env[env_name]()
