"""What a person sees: `make ui` (dagster dev on 127.0.0.1) loaded in Debian's headless Chromium.

The asset graph must show every stage and every table, a materialized asset's page its partition, run,
metadata and key picture without a click (Dagster renders markdown inline under 1,000 characters only; see
assets/metadata.py), and an asset's overview its columns with their descriptions and units. Screenshots are
kept as test artifacts under ``$PHYSWORLD_ARTIFACTS/ui`` (default ``.physworld/artifacts/ui``) for a person
to look at after CI.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ASSETS = (
    "tasks",
    "scenes",
    "videos",
    "video_scores",
    "reconstructions",
    "twins",
    "policies",
    "evaluations",
    "rollouts",
    "lerobot_dataset",
    "video_training_set",
)
GROUPS = ("scenes", "generation", "reconstruction", "learning", "evaluation", "export")
ARTIFACTS = Path(os.environ.get("PHYSWORLD_ARTIFACTS", REPO / ".physworld" / "artifacts")) / "ui"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        if path := shutil.which(name):
            return path
    pytest.fail("Chromium is not installed: run `make setup` (infra/setup.sh installs Debian's chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browse(url: str, profile: Path, screenshot: Path | None = None, height: int = 900) -> str:
    """Load ``url`` headless with background networking off; return the rendered DOM (or take a picture)."""
    args = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=20000",
        f"--window-size=1400,{height}",
    ]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium failed on {url}: {done.stderr[-2000:]}")
    return done.stdout


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A Dagster home with one materialized partition, and `make ui`'s command serving it."""
    import dagster as dg

    root = tmp_path_factory.mktemp("ui")
    home, lake = root / "dagster_home", root / "lake"
    home.mkdir()
    shutil.copy(REPO / "infra" / "dagster.local.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PHYSWORLD_LAKE": str(lake), "PHYSWORLD_ENV": "local"}
    materialize = (
        "import dagster as dg\n"
        "from pipelines.definitions import build_definitions\n"
        "from pipelines.tasks import add_task\n"
        "defs = build_definitions('local'); instance = dg.DagsterInstance.get()\n"
        "add_task(instance, defs.resources['store'].store(), 'bin-0003', 'benchmark:bin:3')\n"
        "result = defs.resolve_job_def('physworld').execute_in_process(partition_key='bin-0003',\n"
        "    instance=instance, asset_selection=[dg.AssetKey('scenes'), dg.AssetKey('videos')])\n"
        "assert result.success\n"
    )
    subprocess.run([sys.executable, "-c", materialize], cwd=REPO, env=env, check=True, timeout=600)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.ui"],
        cwd=REPO,
        env={**env, "PHYSWORLD_UI_PORT": str(port)},
        stdout=open(root / "ui.log", "wb"),  # noqa: SIM115 - the server writes it until teardown
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 240
        while True:
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise AssertionError(f"make ui did not come up: {(root / 'ui.log').read_text()[-3000:]}")
                time.sleep(1)
        # A person dismisses Dagster's one-time community prompt once; so does the test (a real mutation).
        request = urllib.request.Request(
            f"{base}/graphql",
            data=b'{"query": "mutation { setNuxSeen }"}',
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=30)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield base, root / "chromium"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    del dg


def _assert_picture(path: Path, height: int = 900) -> None:
    import numpy as np
    from PIL import Image

    assert path.exists(), f"no screenshot at {path}"
    pixels = np.asarray(Image.open(path).convert("L"), dtype=float)
    assert pixels.shape == (height, 1400) and pixels.std() > 5, "the screenshot is blank"


def _coloured_pixels(path: Path) -> int:
    """Saturated pixels: Dagster's pages are grey and white but for small icons, so a picture shows here."""
    import numpy as np
    from PIL import Image

    hsv = np.asarray(Image.open(path).convert("HSV"), dtype=int)
    return int(((hsv[..., 1] > 80) & (hsv[..., 2] > 60)).sum())


def _inline_pictures(dom: str) -> dict[str, str]:
    """alt text -> source of every picture rendered in the page (a "[Show Markdown]" one is not)."""
    from html.parser import HTMLParser

    found: dict[str, str] = {}

    class Images(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                attributes = dict(attrs)
                found[attributes.get("alt") or ""] = attributes.get("src") or ""

    Images().feed(dom)
    return found


def test_lineage_graph_shows_the_pipeline_groups_and_the_catalog_every_asset(ui):
    base, profile = ui
    dom = _browse(f"{base}/asset-groups", profile)
    assert "Global asset lineage" in dom
    missing = [group for group in GROUPS if group not in dom]
    assert not missing, f"stage groups missing from the lineage graph: {missing}"
    _browse(f"{base}/asset-groups", profile, ARTIFACTS / "asset_lineage.png")
    _assert_picture(ARTIFACTS / "asset_lineage.png")
    catalog = _browse(f"{base}/assets", profile)
    missing = [asset for asset in ASSETS if asset not in catalog]
    assert not missing, f"assets missing from the catalog: {missing}"
    assert "Join the Dagster community" not in catalog


def test_materialization_page_shows_partition_run_and_metadata(ui):
    base, profile = ui
    url = f"{base}/assets/scenes?view=events&partition=bin-0003"
    dom = _browse(url, profile)
    for text in ("bin-0003", "materialized in run", "prompt", "valid_depth_fraction"):
        assert text in dom, f"{text!r} not on the scenes materialization page"
    _browse(url, profile, ARTIFACTS / "scenes_materialization.png")
    _assert_picture(ARTIFACTS / "scenes_materialization.png")


@pytest.mark.parametrize(
    ("asset", "picture"),
    [("scenes", "rgb | depth (near = bright)"), ("videos", "sample 0: first, middle, last frame")],
)
def test_the_key_picture_shows_without_a_click(ui, asset, picture):
    base, profile = ui
    url = f"{base}/assets/{asset}?view=events&partition=bin-0003"
    pictures = _inline_pictures(_browse(url, profile))
    assert picture in pictures, (
        f"{picture!r} is not shown inline on {asset}'s page; shown: {sorted(pictures)}"
    )
    assert pictures[picture].startswith("data:image/svg+xml")
    shot = ARTIFACTS / f"{asset}_key_picture.png"
    _browse(url, profile, shot)
    _assert_picture(shot)
    assert _coloured_pixels(shot) > 20_000, f"no picture to be seen in {shot}"


def test_an_asset_overview_lists_its_columns_with_descriptions_and_units(ui):
    base, profile = ui
    url = f"{base}/assets/videos"
    dom = _browse(url, profile)
    for text in ("checks_json", "generation wall time [s]", "frame width [px]"):
        assert text in dom, f"{text!r} not on the videos overview"
    _browse(url, profile, ARTIFACTS / "videos_overview.png", height=1600)
    _assert_picture(ARTIFACTS / "videos_overview.png", height=1600)
