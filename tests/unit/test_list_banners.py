"""The week's banners: the run's checks in a neighbourhood lead's words (reports/banners.py)."""

from __future__ import annotations

from reports.banners import lead_banner
from reports.run_report import Check, ranking_check


def test_a_fallback_ranking_is_a_warning_and_a_banner():
    assert ranking_check({"method": "model", "reason": ""}) is None
    check = ranking_check({"method": "fallback", "reason": "model not registered: AUROC low"})
    assert check is not None and check.breached and check.level == "warning"
    assert check.message.endswith("model not registered: AUROC low")
    text = lead_banner(check)
    assert text is not None
    assert text.startswith("Ranked by a points score, not by the risk model")
    assert "did not pass its quality checks" in text and "not a probability" in text
    data = ranking_check({"method": "fallback", "reason": "the hold-out rows (0) are empty"})
    assert data is not None
    assert "too little data" in (lead_banner(data) or "")


def test_breached_data_checks_speak_to_the_lead():
    rejected = Check(
        "quarantine_rate:gp_events.csv", 0.62, 0.05, True, "62% quarantined", "warning"
    )
    assert lead_banner(rejected) == (
        "Data warning: 62% of the GP records (diagnoses, codes and measurements) (gp_events) "
        "received this week were rejected as unreadable, so this list may be missing patients "
        "or reasons. Your data team has the details in the run report."
    )
    fewer = Check("volume:acute_spells.csv", -0.4, -0.3, True, "rows read", "warning")
    assert "hold 40% fewer rows than last week's" in (lead_banner(fewer) or "")
    assert "hospital admission records (acute_spells)" in (lead_banner(fewer) or "")
    shrank = Check("list_size:NB01", -0.844, -0.2, True, "list NB01", "warning")
    assert "the list for NB01 is 84% shorter than the last one" in (lead_banner(shrank) or "")


def test_checks_not_breached_or_not_for_leads_make_no_banner():
    assert lead_banner(Check("volume:gp_events.csv", -0.1, -0.3, False, "ok")) is None
    assert lead_banner(Check("psi:efi", 0.4, 0.25, True, "drift", "warning")) is None
    assert lead_banner(Check("retraining", "rejected", "gate", True, "kept", "warning")) is None
