"""The HTML report: self-contained, and its charts really draw in a headless Chromium.

The page script marks each canvas with data-drawn and data-painted (the pixels that
are not blank) after Chart.js has drawn it. Chromium is required in CI (CI or
PUNCHCARD_REQUIRE_CHROMIUM set; scripts/ensure-chromium installs it) and the test is
skipped elsewhere when it is missing.
"""

import os
import re
import shutil
import subprocess

import pytest

from punchcard.engine.dryrun.html import CHARTS, render_html

REQUIRE = ("PUNCHCARD_REQUIRE_CHROMIUM", "CI")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--virtual-time-budget=15000"]


def _chromium() -> str:
    for name in (os.environ.get("PUNCHCARD_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    required = [n for n in REQUIRE if os.environ.get(n, "").strip().lower() not in ("", "0", "false", "no")]
    if required:
        pytest.fail(f"Chromium is required ({required[0]} is set): run scripts/ensure-chromium", pytrace=False)
    pytest.skip("Chromium is not installed (scripts/ensure-chromium installs it)")


@pytest.fixture(scope="module")
def page(demo_report, tmp_path_factory):
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(demo_report), encoding="utf-8")
    return path


def test_the_page_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert "<script src" not in text and "<link" not in text and "@import" not in text
    assert "Chart.js v4" in text and "Released under the MIT License" in text  # the vendored library, inline
    assert all(f'id="{chart}"' in text for chart in CHARTS)


def test_top_members_link_to_their_traces(page, demo_report):
    text = page.read_text(encoding="utf-8")
    for member in demo_report["top_members"]:
        assert f'href="#{member["anchor"]}"' in text and f'id="{member["anchor"]}"' in text


def _run(browser: str, page, tmp_path, *extra) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)


def test_every_chart_draws_in_chromium(page, tmp_path):
    browser = _chromium()
    result = _run(browser, page, tmp_path, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body[^>]*>", result.stdout).group(0)
    assert f'data-charts-drawn="{len(CHARTS)}"' in body, body
    for chart in CHARTS:
        canvas = re.search(rf'<canvas id="{chart}"[^>]*>', result.stdout).group(0)
        painted = int(re.search(r'data-painted="(\d+)"', canvas).group(1))
        assert 'data-drawn="true"' in canvas and painted > 2000, canvas


def test_a_screenshot_is_not_blank(page, tmp_path):
    browser = _chromium()
    shot = tmp_path / "report.png"
    result = _run(browser, page, tmp_path, "--window-size=1280,1600", f"--screenshot={shot}")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    assert shot.stat().st_size > 50_000  # a page of charts compresses to far more than a blank one


def test_without_chart_js_nothing_is_marked_drawn(page, tmp_path):
    """The markers come from drawing, not from the page: take Chart.js out and none appear."""
    browser = _chromium()
    text = page.read_text(encoding="utf-8")
    start = text.index("<script>/*!\n * Chart.js")
    broken = tmp_path / "no-chart.html"
    broken.write_text(text[:start] + text[text.index("</script>", start) + len("</script>"):], encoding="utf-8")
    result = _run(browser, broken, tmp_path, "--dump-dom")
    assert result.returncode == 0
    body = re.search(r"<body[^>]*>", result.stdout).group(0)
    canvases = re.findall(r"<canvas[^>]*>", result.stdout)
    assert len(canvases) == len(CHARTS) and "data-charts-drawn" not in body
    assert not any("data-drawn" in canvas for canvas in canvases)
