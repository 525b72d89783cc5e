"""The model card's pictures draw on hold-outs that cannot estimate everything."""

from __future__ import annotations

from pathlib import Path

from models.card import plot_roc


def test_a_roc_with_no_curve_says_so_and_raises_no_warning(tmp_path: Path) -> None:
    # A small site's housebound hold-out with outcomes of one kind: no ROC for any scorer.
    path = tmp_path / "roc.png"
    plot_roc({"housebound": {"model": {"roc": None}}}, path)  # warnings are errors here
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
