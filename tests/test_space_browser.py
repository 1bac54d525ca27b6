"""The Space in a real browser: Debian's Chromium driven by Playwright (``playwright install`` is never used).

Loads the page, uploads a photo, waits for the restored result, runs the lab on an example face and opens
the About tab, saving a screenshot of each tab to a tmp dir, and to ``docs/`` when ``GPEN_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from _space_app import PHOTO, ROOT, launch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 120_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium"
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright python package is not installed")


UPDATE_SCREENSHOTS = os.environ.get("GPEN_UPDATE_SCREENSHOTS") == "1"
SHIPPED_MODEL = ROOT / "gpen_hf" / "assets" / "gpen-default"
# README screenshots show the shipped model; the test run itself uses the tiny random one (fast, seeded).
USE_SHIPPED = UPDATE_SCREENSHOTS and (SHIPPED_MODEL / "config.json").is_file()


@pytest.fixture(scope="module")
def app_url(tiny_space_model):
    model = SHIPPED_MODEL if USE_SHIPPED else tiny_space_model
    demo, url = launch(model)
    try:
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def page(app_url):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(app_url)
            page.get_by_text("GPEN blind face restoration").wait_for()
            yield page
        finally:
            browser.close()


def _screenshot(page, name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    if UPDATE_SCREENSHOTS:
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(path, ROOT / "docs" / name)
    assert path.stat().st_size > 10_000
    return path


def test_restore_tab_in_browser(page, tmp_path):
    page.get_by_role("tab", name="Restore").click()
    page.locator("input[type=file]").first.set_input_files(str(PHOTO))
    page.get_by_role("button", name="Restore", exact=True).click()
    page.get_by_text("face(s)").first.wait_for()
    page.get_by_text("cropped | restored").first.wait_for()
    page.wait_for_timeout(1500)  # let the slider and gallery images paint
    assert page.get_by_text("3 face(s)").count() >= 1
    _screenshot(page, "space_restore.png", tmp_path)


def test_lab_tab_in_browser(page, tmp_path):
    page.get_by_role("tab", name="Degradation lab").click()
    page.get_by_text("Example aligned faces").wait_for()
    page.locator("img[src*='faceapi__sample6__f0_256']").first.click()  # an example row (a table: 2 inputs)
    page.get_by_text("HQ face:").first.wait_for()
    page.get_by_text("jpeg_quality").first.wait_for()  # the parameters JSON, written with the table
    results = "() => document.body.innerText.split('Against the HQ face')[1]"
    before = page.evaluate(results)
    page.get_by_role("button", name="Random, like training").click()  # no re-upload: the HQ face stays
    page.wait_for_function(f"before => ({results})() !== before", arg=before)
    page.wait_for_timeout(1500)
    _screenshot(page, "space_lab.png", tmp_path)


def test_about_tab_in_browser(page, tmp_path):
    page.get_by_role("tab", name="About / model").click()
    banner = "GPEN 128px — the default model" if USE_SHIPPED else "Random, untrained weights"
    page.get_by_text(banner).first.wait_for()
    _screenshot(page, "space_about.png", tmp_path)
