"""`casefinder demo` writes a synthetic ICS under OUT/extracts with its truth beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.commands import demo
from pipelines.contract import FILES


def test_demo_writes_extracts_and_truth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(demo, "DEMO_PATIENTS", 400)
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    printed = capsys.readouterr().out
    extracts = tmp_path / "demo" / "extracts"
    manifest = json.loads((extracts / "manifest.json").read_text())
    assert set(manifest["files"]) == set(FILES)
    assert all((extracts / f"{name}.csv").exists() for name in FILES)
    assert (tmp_path / "demo" / "truth" / "extracts" / "latent_risk.csv").exists()
    assert "truth" in printed and "gp_events" in printed
