"""The atlas in headless Chromium: no console messages, the search box filters the features, and
a screenshot for people to look at.

Renders the hand-built results tree, or the results of a finished run when SAIL_REPORT_RESULTS
names its results/ folder (labels of SAIL_REPORT_LABELLER, default offline). The screenshot is
written beside the page and copied into SAIL_SCREENSHOT_DIR when that is set.
"""

import os
import shutil
import subprocess
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from PIL import Image, ImageStat

from sail_core.report.atlas import AtlasSettings, write_atlas
from sail_core.report.files import DataFiles, SaeFiles

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr",
)  # fmt: skip
WINDOW = (1280, 2000)

pytestmark = pytest.mark.slow


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian packages chromium, chromium-driver)")
    return subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip


def console_messages(run: subprocess.CompletedProcess) -> list[str]:
    """What the page wrote to the console, uncaught errors included (Chromium logs both)."""
    return [line for line in run.stderr.splitlines() if ":CONSOLE" in line]


class FeatureCards(HTMLParser):
    """(feature, search text, hidden) of every feature card of a DOM dump."""

    def __init__(self, dom: str):
        super().__init__()
        self.cards: list[tuple[int, str, bool]] = []
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "article" and "feature" in (attributes.get("class") or "").split():
            self.cards.append(
                (int(attributes["data-feature"]), attributes["data-search"], "hidden" in attributes)
            )


def visible(profile: Path, url: str) -> list[int]:
    run = chromium(profile, "--dump-dom", url)
    assert console_messages(run) == []
    return [feature for feature, _, hidden in FeatureCards(run.stdout).cards if not hidden]


def _demo_atlas(results: Path, page: Path) -> None:
    labeller = os.environ.get("SAIL_REPORT_LABELLER", "offline")
    rankings = sorted((results / "eval" / "ranking").glob("*.parquet"))
    selected = pl.concat([pl.read_parquet(p) for p in rankings]).filter(pl.col("selected"))
    saes = [SaeFiles(results, e, s, labeller) for e, s in selected.select("encoder", "sae").rows()]
    settings = AtlasSettings("SAIL feature atlas", 60, 5, 64, "val")
    write_atlas(page, DataFiles(results), saes, settings)


@pytest.fixture
def atlas(tmp_path, request) -> Path:
    demo = os.environ.get("SAIL_REPORT_RESULTS")
    page = tmp_path / "results" / "report" / "index.html"
    if demo:
        _demo_atlas(Path(demo), page)
    else:
        tree = request.getfixturevalue("results_tree")
        write_atlas(page, tree.data, tree.saes, tree.settings)
    return page


def test_console_check_sees_script_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    run = chromium(tmp_path / "profile", "--dump-dom", page.as_uri())
    assert any("undefinedFunction is not defined" in m for m in console_messages(run))


def test_atlas_renders_searches_and_looks_right(atlas, tmp_path):
    profile = tmp_path / "profile"
    run = chromium(profile, "--dump-dom", atlas.as_uri())
    assert console_messages(run) == []
    cards = FeatureCards(run.stdout).cards
    assert cards and not any(hidden for _, _, hidden in cards)

    first, text, _ = cards[0]
    word = max(text.split()[3:] or ["feature"], key=len)
    expected = [feature for feature, search, _ in cards if word in search]
    assert visible(profile, f"{atlas.as_uri()}?q={urllib.parse.quote(word)}") == expected
    assert visible(profile, f"{atlas.as_uri()}?q=%23{first}") == [first]
    assert visible(profile, f"{atlas.as_uri()}#q=%23{first}") == [first]
    if not os.environ.get("SAIL_REPORT_RESULTS"):
        assert visible(profile, f"{atlas.as_uri()}?q=liver") == [3]
        assert visible(profile, f"{atlas.as_uri()}?q=no-such-thing") == []

    screenshot = atlas.parent / "screenshot.png"
    size = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    chromium(profile, f"--screenshot={screenshot}", size, "--hide-scrollbars", atlas.as_uri())
    with Image.open(screenshot) as image:
        assert image.size == WINDOW
        assert max(ImageStat.Stat(image.convert("L")).stddev) > 10  # not a blank page
    if target := os.environ.get("SAIL_SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(screenshot, Path(target) / "report_screenshot.png")
