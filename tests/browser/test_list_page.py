"""Browser: the list page in headless Chromium shows rows, expands reasons, logs no errors."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from reports.html_list import write_page
from reports.lists import Evidence, ListReason, NeighbourhoodList, list_row

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
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Debian Chromium, installed with apt-get when missing (as CI does)."""
    if not Path(CHROMIUM).exists():
        if shutil.which("apt-get") is None:
            pytest.skip("chromium is missing and apt-get is not available to install it")
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True)
    return CHROMIUM


def _page(tmp_path: Path) -> Path:
    nl = NeighbourhoodList(code="N1", name="North", as_of=date(2026, 11, 16), model_version="v1")
    people = [
        ("p1", "9434765919", "Ada", "Lovelace", 0.81, "very_high", "new"),
        ("p2", "9434765854", HOSTILE, "=Smith", 0.55, "high", "up"),
        ("p3", "9434765846", "Eve", "Moore", 0.12, "low", "same"),
    ]
    for rank, (pid, nhs, given, family, score, tier, change) in enumerate(people, start=1):
        record = {
            "rank": rank,
            "nhs_number": nhs,
            "given_name": given,
            "family_name": family,
            "date_of_birth": date(1930, 1, 2),
            "practice_code": "P1",
            "risk_score": score,
            "risk_tier": tier,
            "change": change,
            "efi": 0.3,
            "efi_category": "moderate",
            "hfrs": 6.0,
            "hfrs_band": "intermediate",
            "in_hospital": rank == 2,
            "on_caseload": False,
            "model_version": "v1",
            "is_care_home_resident": False,
        }
        reasons = [
            ListReason(
                "n_emergency_admissions_365d",
                f"{rank} emergency admissions in the last 12 months",
                0.8,
                [Evidence("acute_spells", "2026-10-01", "I500", "Heart failure")],
            ),
            ListReason("age", "aged 90 years", 0.3),
        ]
        row = list_row(record, [r.text for r in reasons])
        row["_patient_id"] = pid
        row["_previous_rank"] = None
        nl.rows.append(row)
        nl.reasons[pid] = reasons
    nl.left.append(
        {
            "nhs_number": "9434765838",
            "given_name": "Fay",
            "family_name": "Gone",
            "date_of_birth": "1931-01-01",
            "previous_rank": 2,
            "previous_as_of": "2026-11-09",
            "reason": "died",
        }
    )
    nl.profile = {"tier": {"very_high": 1, "high": 1, "low": 1}, "frailty": {"moderate": 3}}
    return write_page(nl, tmp_path / "proactive_care_list.html")


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
