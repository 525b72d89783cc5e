"""The Dask scale-out's settings, options and pieces that need no cluster: the address
setting and option, the Dask trainer's settings, and the scored rows workers hand back."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from foundation.errors import CasefinderError
from foundation.settings import load_settings
from models.dask_train import DaskRiskClassifier
from models.scoring import ScoredRows
from models.train import RiskClassifier


@pytest.mark.parametrize("value", ["local", "tcp://10.0.0.5:8786", " tls://sched:8786 "])
def test_a_dask_address_setting_is_local_or_a_scheduler_address(value: str) -> None:
    settings = load_settings(env={"CASEFINDER_DASK_ADDRESS": value})
    assert settings.dask_address == value.strip()


def test_no_dask_address_means_one_process() -> None:
    assert load_settings(env={}).dask_address is None
    assert load_settings(env={"CASEFINDER_DASK_ADDRESS": "  "}).dask_address is None


def test_a_bad_dask_address_setting_is_one_clear_error() -> None:
    with pytest.raises(CasefinderError, match=r"CASEFINDER_DASK_ADDRESS.*not a scheduler address"):
        load_settings(env={"CASEFINDER_DASK_ADDRESS": "my-cluster:8786"})


@pytest.mark.parametrize("command", ["train", "run"])
def test_commands_take_a_dask_address(command: str, tmp_path: Path) -> None:
    from pipelines.cli import build_parser

    extra = ["--extracts", str(tmp_path)] if command == "run" else []
    args = build_parser().parse_args([command, *extra, "--dask-address", "tcp://10.0.0.5:8786"])
    assert args.dask_address == "tcp://10.0.0.5:8786"


def test_a_bad_dask_address_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from pipelines.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["train", "--dask-address", "my-cluster:8786"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--dask-address" in err and "not a scheduler address" in err
    assert len(err.strip().splitlines()) == 1


def test_train_command_hands_the_dask_address_to_the_flow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import build_parser
    from pipelines.commands import train as command
    from pipelines.flows import train as flow_module

    seen: dict[str, object] = {}

    def fake_train(**kwargs: object) -> dict[str, object]:
        seen.update(kwargs)
        raise CasefinderError("stop here")

    monkeypatch.setattr(flow_module, "train", fake_train)
    warehouse = tmp_path / "wh.duckdb"
    warehouse.touch()
    args = build_parser().parse_args(
        ["train", "--warehouse", str(warehouse), "--dask-address", "local"]
    )
    with pytest.raises(CasefinderError, match="stop here"):
        command.run(args)
    assert seen["dask_address"] == "local"


def test_the_dask_trainer_has_the_same_settings_and_defaults_as_one_process() -> None:
    # A setting added to RiskClassifier must reach DaskRiskClassifier too (DaskRiskClassifier.like).
    single = inspect.signature(RiskClassifier.__init__).parameters
    spread = inspect.signature(DaskRiskClassifier.__init__).parameters
    assert [n for n in spread if n != "client"] == list(single)
    for name, param in single.items():
        assert spread[name].default == param.default, name
    base = RiskClassifier(num_leaves=7, random_state=3)
    like = DaskRiskClassifier.like(base, client=None)
    assert {k: v for k, v in like.get_params().items() if k != "client"} == base.get_params()
    assert like.lightgbm_params() == base.lightgbm_params()


def _rows(ids: list[str], seed: int, f: int = 3) -> ScoredRows:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(len(ids), f))
    values[0, 1] = np.nan  # a missing feature value
    contributions = rng.normal(size=(len(ids), f)) / 7
    base = np.full(len(ids), -1.25)
    raw = base + contributions.sum(axis=1)
    risk = 1 / (1 + np.exp(-raw))
    return ScoredRows(ids, values, raw, risk, contributions, base)


def test_scored_rows_survive_the_parquet_handover_bit_for_bit(tmp_path: Path) -> None:
    names = ["age", "efi", "hfrs"]
    rows = _rows(["b", "a", "c"], seed=1)
    pq.write_table(rows.to_arrow(names), tmp_path / "part.parquet")
    back = ScoredRows.from_arrow(pq.read_table(tmp_path / "part.parquet"), names)
    assert back.patient_ids == rows.patient_ids
    for attr in ("values", "raw_score", "risk_score", "contributions", "base_value"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(rows, attr))
    assert np.isnan(back.values[0, 1])


def test_parts_are_gathered_in_patient_order_and_a_doubled_patient_is_refused() -> None:
    north, south = _rows(["p3", "p1"], seed=2), _rows(["p2", "p4"], seed=3)
    whole = ScoredRows.concat([north, south], n_features=3)
    assert whole.patient_ids == ["p1", "p2", "p3", "p4"]
    np.testing.assert_array_equal(whole.values[0], north.values[1])
    np.testing.assert_array_equal(whole.contributions[1], south.contributions[0])
    assert len(ScoredRows.concat([], n_features=3)) == 0
    assert ScoredRows.concat([], n_features=3).values.shape == (0, 3)
    with pytest.raises(ValueError, match="more than one batch"):
        ScoredRows.concat([north, north], n_features=3)
