"""`casefinder demo`'s first step writes a synthetic ICS under OUT/extracts, truth beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundation.contract import FILES
from pipelines.commands import demo


def test_demo_extracts_are_a_full_set_with_truth_beside_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo, "DEMO_PATIENTS", 400)
    result = demo.make_demo_extracts(tmp_path / "demo")
    extracts = tmp_path / "demo" / "extracts"
    assert result.out_dir == extracts
    manifest = json.loads((extracts / "manifest.json").read_text())
    assert set(manifest["files"]) == set(FILES)
    assert all((extracts / f"{name}.csv").exists() for name in FILES)
    assert result.truth_dir == tmp_path / "demo" / "truth" / "extracts"
    assert (result.truth_dir / "latent_risk.csv").exists()
