"""Browser: the list page in headless Chromium opens on the patient table, shows rows, expands
reasons, prints as a list with each patient's reasons, logs no errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.small_list import HOSTILE, small_list

from reports.html_list import write_page

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Debian Chromium, installed with apt-get when missing (as CI does)."""
    if not Path(CHROMIUM).exists():
        if shutil.which("apt-get") is None:
            pytest.skip("chromium is missing and apt-get is not available to install it")
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True)
    return CHROMIUM


def _page(tmp_path: Path, **kwargs) -> Path:
    return write_page(small_list(**kwargs), tmp_path / "proactive_care_list.html")


def test_list_page_shows_rows_expands_reasons_and_logs_no_errors(chromium, tmp_path):
    from playwright.sync_api import sync_playwright

    path = _page(tmp_path)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            rows = page.locator("#list tbody tr.patient")
            assert rows.count() == 3
            assert rows.nth(0).locator("td").nth(1).inner_text() == "9434765919"
            detail = page.locator("#list tbody tr.detail").nth(0)
            assert not detail.is_visible()
            rows.nth(0).locator("button.expand").click()
            assert detail.is_visible()
            assert "1 emergency admissions in the last 12 months" in detail.inner_text()
            assert "Heart failure" in detail.inner_text()
            # The hostile name is shown as text, never run.
            assert HOSTILE in rows.nth(1).inner_text()
            # Sorting by risk score ascending puts the lowest first; filtering by tier narrows.
            page.locator("th[data-key=score]").click()
            assert rows.nth(0).locator("td").nth(1).inner_text() == "9434765846"
            page.select_option("#f-tier", "high")
            assert page.locator("#list tbody tr.patient:visible").count() == 1
            assert page.locator("#shown").inner_text() == "1 of 3 shown"
            assert "died" in page.locator("#left").inner_text()
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith("file://") for u in requests)


VIEWPORT = {"width": 1280, "height": 800}
BANNER = "Data warning: 40% of the hospital admission records (acute_spells) were rejected."
# A4 landscape in PDF points (297 x 210 mm), within a point of rounding.
A4_LANDSCAPE = (841.9, 595.3)


def _pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """Width and height of every page of a PDF, from its page objects' MediaBoxes."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes]


def test_the_page_opens_on_this_weeks_patients_and_prints_them_with_their_reasons(
    chromium, tmp_path
):
    from playwright.sync_api import sync_playwright

    # Patient 2 was reviewed recently: patients 1 and 3 are this week's.
    path = _page(tmp_path, this_week=["true", "false", "true"], banners=[BANNER])
    shot, pdf_path = tmp_path / "first_viewport.png", tmp_path / "list.pdf"
    seen = f"(screenshot {shot}, PDF {pdf_path})"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(path.as_uri())
            page.screenshot(path=str(shot))
            # The warning is on top, and the table of this week's patients still opens the page.
            assert page.get_by_role("alert").first.inner_text() == BANNER
            heading = page.locator("#list tbody#this-week tr.group")
            assert heading.is_visible() and heading.inner_text().startswith("This week"), seen
            first = page.locator("#list tbody tr.patient").first.bounding_box()
            assert first is not None and first["y"] + first["height"] <= VIEWPORT["height"], seen
            table_top = page.locator("#list").bounding_box()
            summary_top = page.locator("section.summary").bounding_box()
            assert table_top["y"] < summary_top["y"], seen
            ranks = page.locator("#list tbody tr.patient td:first-child").all_inner_texts()
            assert ranks == ["1", "3", "2"], seen
            assert "Rest of the list" in page.locator("#list tbody#rest tr.group").inner_text()

            page.emulate_media(media="print")
            for control in ("#q", "#f-tier", "#f-hospital", "button.expand >> nth=0"):
                assert not page.locator(control).is_visible(), f"{control} printed {seen}"
            details = page.locator("#list tbody tr.detail")
            assert details.count() == 3
            for i, rank in enumerate(("1", "3", "2")):
                detail = details.nth(i)
                assert detail.is_visible(), f"reasons of rank {rank} not printed {seen}"
                text = detail.inner_text()
                assert f"{rank} emergency admissions in the last 12 months" in text, seen
                assert f"aged {94 - int(rank)} years" in text, seen
            # No paper size given here: the page's own print stylesheet (@page) decides it.
            page.pdf(path=str(pdf_path), prefer_css_page_size=True)
        finally:
            browser.close()
    pages = _pdf_pages(pdf_path.read_bytes())
    assert 1 <= len(pages) <= 2, f"{len(pages)} pages {seen}"
    for width, height in pages:
        assert abs(width - A4_LANDSCAPE[0]) < 1 and abs(height - A4_LANDSCAPE[1]) < 1, seen
