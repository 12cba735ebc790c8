"""The fleet report as a person sees it: headless Chromium opens the page and takes a screenshot.

Needs the Debian package chromium (`make test` installs it). Without it the test is skipped on a
developer's machine and fails in CI. REPORT_SCREENSHOT=<path> keeps the screenshot (the docs'
docs/images/fleet-report.png is made that way).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from PIL import Image

from ansible_collections.meshops.multicluster.plugins.module_utils._verify.report import render_html
from tests.report_model import sample

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def chromium():
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail("Chromium is missing: apt-get install chromium")
    pytest.skip("Chromium is not installed (apt-get install chromium)")


def test_report_page_renders_in_a_browser(chromium, tmp_path):
    page, png = tmp_path / "mesh-report.html", tmp_path / "mesh-report.png"
    page.write_text(render_html(sample()), encoding="utf-8")
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--user-data-dir=%s" % (tmp_path / "profile"), "--screenshot=%s" % png, "--window-size=1400,1000",
         page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and png.is_file(), proc.stderr[-2000:]
    assert png.stat().st_size > 10_000
    with Image.open(png) as image:
        assert image.size == (1400, 1000)
        rgb = image.convert("RGB")
        colours = [colour for count, colour in rgb.getcolors(maxcolors=1 << 20)]
    assert len(colours) > 50  # text, badges and diagram, not one flat colour
    # The verdict's red and the healthy cluster's green are on screen: the inline CSS was applied.
    assert any(r > 150 and g < 80 and b < 80 for r, g, b in colours)
    assert any(g > 100 and r < 60 and b < 90 for r, g, b in colours)
    if os.environ.get("REPORT_SCREENSHOT"):
        shutil.copy(png, os.environ["REPORT_SCREENSHOT"])
