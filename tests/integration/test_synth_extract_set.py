"""The synthetic extract set: conformance to the contract, defects, determinism, realism."""

from __future__ import annotations

import csv
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from foundation.contract import FILES, MANIFEST_NAME, ColumnType, nhs_number_is_valid
from pipelines.cli import main
from synthetic import generate, params, realism

EXTRACT_DATE = date(2026, 11, 16)
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
DATETIME_RE = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$"
ICD10_RE = r"^[A-Z]\d{2}(\d|X)?\d?[DA-]?$"


def read_text(path: Path) -> pl.DataFrame:
    """An extract file as landed: every column text, empty string as null."""
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")


def read_defects(truth: Path) -> pl.DataFrame:
    return pl.read_csv(truth / "defects.csv", schema_overrides={"row_number": pl.Int64})


@pytest.fixture(scope="module")
def ics(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One 20,000-patient set with the default defect rate (the issue's `--seed 3` example)."""
    root = tmp_path_factory.mktemp("synth")
    result = generate(root / "x", patients=20_000, seed=3)
    return result.out_dir, result.truth_dir


def _bad_rows(name: str, df: pl.DataFrame, practices: set[str]) -> set[int]:
    """1-based rows of `df` that break a contract rule (types, vocabularies, references)."""
    spec = FILES[name]
    bad = pl.Series([False] * df.height)
    for col in spec.columns:
        if col.name not in df.columns:
            continue
        s = df.get_column(col.name)
        present = s.is_not_null() & (s != "")
        if col.required and not col.name.startswith("diag_"):
            bad |= ~present
        if col.name == "diag_01":
            bad |= ~present
        check: pl.Series | None = None
        if col.type == ColumnType.NHS_NUMBER:
            check = s.map_elements(nhs_number_is_valid, return_dtype=pl.Boolean)
        elif col.type == ColumnType.DATE:
            check = s.str.contains(DATE_RE) & s.str.to_date("%Y-%m-%d", strict=False).is_not_null()
        elif col.type == ColumnType.DATETIME:
            check = s.str.contains(DATETIME_RE)
        elif col.type == ColumnType.SNOMED:
            check = s.str.contains(r"^\d{6,18}$")
        elif col.type == ColumnType.BNF:
            check = s.str.len_chars() == 15
        elif col.type == ColumnType.ICD10:
            norm = s.str.strip_chars().str.replace(".", "", literal=True)
            check = norm.str.contains(ICD10_RE)
        elif col.type in (ColumnType.NUMBER, ColumnType.INTEGER):
            check = s.cast(pl.Float64, strict=False).is_not_null()
        elif col.type == ColumnType.BOOLEAN:
            check = s.is_in(["true", "false"])
        if check is not None:
            bad |= present & ~check.fill_null(False)
        if col.vocabulary is not None:
            bad |= present & ~s.is_in(list(col.vocabulary))
    if name == "gp_patients":
        bad |= ~df.get_column("practice_code").is_in(list(practices))
    return {i + 1 for i in np.flatnonzero(bad.to_numpy())}


def test_every_file_conforms_except_the_listed_defects(ics: tuple[Path, Path]) -> None:
    out, truth = ics
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["extract_date"] == EXTRACT_DATE.isoformat()
    assert set(manifest["files"]) == set(FILES)
    defects = read_defects(truth)
    practices = set(read_text(out / "practices.csv").get_column("practice_code"))
    for name, spec in FILES.items():
        path = out / f"{name}.csv"
        df = read_text(path)
        assert df.height == manifest["files"][name]["rows"], name
        assert df.height > 0, name
        header = {c.lstrip("\ufeff") for c in df.columns}
        assert set(spec.column_names) <= header, name
        extra = header - set(spec.column_names)
        listed_extra = defects.filter((pl.col("file") == name) & (pl.col("kind") == "extra_column"))
        assert extra == set(listed_extra.get_column("column")), name
        has_bom = path.read_bytes().startswith(b"\xef\xbb\xbf")
        listed_bom = defects.filter((pl.col("file") == name) & (pl.col("kind") == "bom")).height
        assert has_bom == (listed_bom == 1), name
        df = df.rename({c: c.lstrip("\ufeff") for c in df.columns})
        mine = defects.filter((pl.col("file") == name) & pl.col("row_number").is_not_null())
        flagged = set(mine.filter(pl.col("kind") != "duplicate_row").get_column("row_number"))
        assert _bad_rows(name, df, practices) == flagged, name
        dup_rows = mine.filter(pl.col("kind") == "duplicate_row").get_column("row_number").to_list()
        rows = df.rows()
        for r in dup_rows:
            assert rows[r - 1] == rows[r - 2], (name, r)
        assert df.height - df.unique().height == len(dup_rows), name


def test_nothing_in_the_extracts_is_dated_after_the_extract_date(ics: tuple[Path, Path]) -> None:
    out, _ = ics
    last = EXTRACT_DATE.isoformat()
    for name, spec in FILES.items():
        df = read_text(out / f"{name}.csv")
        df = df.rename({c: c.lstrip("\ufeff") for c in df.columns})
        for col in spec.columns:
            if col.type in (ColumnType.DATE, ColumnType.DATETIME):
                s = df.get_column(col.name)
                iso = s.filter(s.str.contains(r"^\d{4}-\d{2}-\d{2}"))
                assert (iso.str.slice(0, 10) <= last).all(), (name, col.name)


def test_defect_rates_are_close_to_the_configured_rate(ics: tuple[Path, Path]) -> None:
    out, truth = ics
    defects = read_defects(truth).filter(pl.col("row_number").is_not_null())
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    for name in ("gp_events", "gp_medications", "community_contacts", "ae_attendances"):
        rows = manifest["files"][name]["rows"]
        n = defects.filter(pl.col("file") == name).height
        assert 0.0035 <= n / rows <= 0.0065, (name, n, rows)
    kinds = set(defects.get_column("kind"))
    assert kinds == {
        "invalid_nhs_number",
        "unparseable_date",
        "unknown_practice_code",
        "duplicate_row",
    }


def _housebound_at(events: pl.DataFrame, as_of: str) -> set[str]:
    """Housebound per the contract: latest housebound/no-longer code, or a care home code."""
    misc = pl.read_csv(
        Path(__file__).resolve().parents[2] / "features" / "codelists" / "snomed_misc.csv",
        schema_overrides={"code": pl.Utf8},
    )
    cat = misc.select(pl.col("code").alias("snomed_code"), "category")
    ev = events.filter(pl.col("event_date") <= as_of).join(cat, on="snomed_code")
    care_home = set(ev.filter(pl.col("category") == "care_home_residence").get_column("nhs_number"))
    latest = (
        ev.filter(pl.col("category").is_in(["housebound", "no_longer_housebound"]))
        .sort(["nhs_number", "event_date", "category"])
        .group_by("nhs_number")
        .agg(pl.col("category").last())
    )
    hb = set(latest.filter(pl.col("category") == "housebound").get_column("nhs_number"))
    return hb | care_home


def _auroc(score: np.ndarray, label: np.ndarray) -> float:
    order = np.argsort(score, kind="stable")
    ranks = np.empty(score.size)
    ranks[order] = np.arange(1, score.size + 1)
    pos = label == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_population_is_recognisable_and_housebound_rates_are_realistic(
    ics: tuple[Path, Path],
) -> None:
    out, truth = ics
    risk = pl.read_csv(truth / "latent_risk.csv", schema_overrides={"nhs_number": pl.Utf8})
    clean = lambda s: s.str.replace_all(r"[ -]", "")  # noqa: E731
    patients = read_text(out / "gp_patients.csv").with_columns(clean(pl.col("nhs_number")))
    events = read_text(out / "gp_events.csv")
    events = events.rename({c: c.lstrip("\ufeff") for c in events.columns})
    events = events.with_columns(clean(pl.col("nhs_number")))
    listed = risk.join(patients, on="nhs_number", how="inner")
    age = (
        EXTRACT_DATE - listed.get_column("date_of_birth").str.to_date(strict=False)
    ).dt.total_days() / 365.25
    assert 0.15 <= (age >= 65).mean() <= 0.25
    assert 0.45 <= (listed.get_column("sex") == "2").mean() <= 0.55
    hb = _housebound_at(events, EXTRACT_DATE.isoformat())
    is_hb = risk.get_column("nhs_number").is_in(list(hb)).to_numpy()
    assert 0.012 <= is_hb.mean() <= 0.035
    assert is_hb.sum() >= 200
    outcome = risk.get_column("outcome_12m").to_numpy()
    assert 0.25 <= outcome[is_hb].mean() <= 0.55
    assert outcome.mean() < 0.12
    latent = risk.get_column("latent_risk_12m").to_numpy()
    assert _auroc(latent[is_hb], outcome[is_hb]) >= 0.75
    types = set(risk.get_column("outcome_type").drop_nulls())
    assert types == {"emergency_admission", "death"}
    practices = read_text(out / "practices.csv")
    assert practices.height >= 12 and practices.get_column("neighbourhood_code").n_unique() >= 6


@pytest.fixture(scope="module")
def figures(ics: tuple[Path, Path]) -> dict[str, Any]:
    """The published-share figures of the 20,000-patient set (docs/synthetic-data.md)."""
    return realism.measure(*ics)


def test_efi_categories_of_the_over_65s_are_as_published(figures: dict[str, Any]) -> None:
    """Clegg 2016: about 50% fit, 35% mild, 12% moderate, 3% severe."""
    efi = figures["efi_65_plus"]
    assert 0.35 <= efi["fit"] <= 0.65
    assert 0.2 <= efi["mild"] <= 0.45
    assert 0.05 <= efi["moderate"] <= 0.2
    assert 0.005 <= efi["severe"] <= 0.10


def test_emergency_admissions_are_as_published(figures: dict[str, Any]) -> None:
    """Lloyd 2022: 0.38 emergency admissions a year at 65+ among people admitted in 3 years;
    the housebound more, well under 2; nobody in a spiral of admissions."""
    assert 0.25 <= figures["emergency_12m_mean_65_plus_admitted_3y"] <= 0.55
    assert 0.2 <= figures["emergency_12m_mean_housebound"] <= 1.5
    assert figures["emergency_12m_max"] <= 8


def test_hfrs_of_admitted_over_75s_is_mostly_low_or_intermediate(
    figures: dict[str, Any],
) -> None:
    """Gilbert 2018: high risk (> 15) about a fifth; no score far beyond real coding."""
    hfrs = figures["hfrs_75_plus_admitted_2y"]
    assert hfrs["n"] >= 300
    assert hfrs["high"] <= 0.35
    assert hfrs["low"] >= 0.25
    assert hfrs["max"] <= 80


def test_hospitalisation_rises_with_efi_category_as_published(figures: dict[str, Any]) -> None:
    """Clegg 2016: one-year hospitalisation hazard ratios 1.93 / 3.04 / 4.73 against fit."""
    hr = figures["hospitalisation_hr_vs_fit"]
    assert 1.2 <= hr["mild"] < hr["moderate"] < hr["severe"]
    assert 2.0 <= hr["moderate"] <= 5.0
    assert 3.0 <= hr["severe"] <= 10.0


def test_housebound_and_care_home_shares_are_as_published(figures: dict[str, Any]) -> None:
    """About 8% of the over-65s housebound or in a care home, a third of them in care homes;
    the housebound are old and their latent risk is rarely near certainty."""
    hb = figures["housebound"]
    assert 0.05 <= hb["share_65_plus"] <= 0.12
    assert 0.2 <= hb["care_home_share"] <= 0.5
    assert hb["mean_age"] >= 72
    assert figures["housebound_latent_share_ge_095"] <= 0.10
    auc = figures["housebound_auroc"]
    assert auc["latent"] >= auc["efi"] + 0.03


def _write(root: Path, name: str, **kw: object) -> Path:
    return generate(root / name, patients=1_500, seed=11, **kw).out_dir  # type: ignore[arg-type]


def _assert_identical_sets(a: Path, b: Path) -> None:
    """The same extract files, each byte-identical, and byte-identical truth files."""
    files = sorted(p.name for p in a.iterdir())
    assert files == sorted(p.name for p in b.iterdir())
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    for t in ("latent_risk.csv", "defects.csv"):
        truth_a, truth_b = (d.parent / "truth" / d.name / t for d in (a, b))
        assert truth_a.read_bytes() == truth_b.read_bytes()


def test_same_seed_and_options_give_byte_identical_files(tmp_path: Path) -> None:
    a, b = _write(tmp_path / "a", "x"), _write(tmp_path / "b", "x")
    _assert_identical_sets(a, b)
    c = _write(tmp_path / "c", "x", extract_date=EXTRACT_DATE, defect_rate=0.005)
    assert (a / "gp_events.csv").read_bytes() == (c / "gp_events.csv").read_bytes()
    other = generate(tmp_path / "d" / "x", patients=1_500, seed=12).out_dir
    assert (a / "gp_events.csv").read_bytes() != (other / "gp_events.csv").read_bytes()


def test_worker_processes_change_no_byte_and_leave_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(params, "CHUNK_SIZE", 500)  # three chunks, two of them in parallel
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    one = generate(tmp_path / "one" / "x", patients=1_500, seed=11, workers=1).out_dir
    two = generate(tmp_path / "two" / "x", patients=1_500, seed=11, workers=2).out_dir
    _assert_identical_sets(one, two)
    assert not (two / ".synth-parts").exists()
    assert "POLARS_MAX_THREADS" not in os.environ  # set for the worker processes only


def test_extracts_a_week_apart_describe_the_same_people(tmp_path: Path) -> None:
    later = EXTRACT_DATE + timedelta(days=7)
    a = _write(tmp_path, "early", defect_rate=0.0)
    b = _write(tmp_path, "late", defect_rate=0.0, extract_date=later)
    pa_, pb = read_text(a / "gp_patients.csv"), read_text(b / "gp_patients.csv")
    early_people = pa_.get_column("nhs_number").str.replace_all(r"[ -]", "")
    assert set(early_people) <= set(pb.get_column("nhs_number").str.replace_all(r"[ -]", ""))
    for name, col in (
        ("gp_events", "event_date"),
        ("gp_medications", "issue_date"),
        ("acute_spells", "admission_date"),
        ("ae_attendances", "arrival_datetime"),
    ):
        ea = read_text(a / f"{name}.csv")
        eb = read_text(b / f"{name}.csv").filter(
            (pl.col(col).str.slice(0, 10) <= EXTRACT_DATE.isoformat())
            & pl.col("nhs_number").str.replace_all(r"[ -]", "").is_in(early_people.to_list())
        )
        if name == "acute_spells":  # spells open at the first cut may have closed since
            ea = ea.drop("discharge_date", "discharge_destination")
            eb = eb.drop("discharge_date", "discharge_destination")
        if name == "gp_medications":  # the 3-year medication window moves on a week
            start = (EXTRACT_DATE - timedelta(days=3 * 365 - 7)).isoformat()
            ea = ea.filter(pl.col(col) > start)
            eb = eb.filter(pl.col(col) > start)
        assert ea.sort(ea.columns).equals(eb.sort(eb.columns)), name
    ca = read_text(a / "community_contacts.csv").fill_null("")
    cb = read_text(b / "community_contacts.csv").fill_null("")
    assert ca.join(cb, on=ca.columns, how="anti").height == 0
    assert read_text(b / "gp_events.csv").height > read_text(a / "gp_events.csv").height


def test_clean_sets_have_no_defects_and_parquet_matches_csv(tmp_path: Path) -> None:
    csv_dir = _write(tmp_path / "csv", "x", defect_rate=0.0)
    pq_dir = _write(tmp_path / "pq", "x", defect_rate=0.0, fmt="parquet")
    defects = read_defects(tmp_path / "csv" / "truth" / "x")
    assert defects.height == 0
    for name in FILES:
        c = read_text(csv_dir / f"{name}.csv")
        p = read_text(pq_dir / f"{name}.parquet")
        assert c.columns == p.columns == list(FILES[name].column_names), name
        assert c.equals(p), name
        assert not (csv_dir / f"{name}.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    spells = read_text(csv_dir / "acute_spells.csv")
    diag = pl.concat([spells.get_column(f"diag_{i:02d}") for i in range(1, 21)]).drop_nulls()
    messy = diag.filter(~diag.str.contains(r"^[A-Z]\d{2}[0-9X]$"))
    assert 0.02 <= messy.len() / diag.len() <= 0.2  # messy ICD-10 forms even when clean


def test_synth_command_writes_a_set_and_rejects_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cli"
    assert main(["synth", "--out", str(out), "--patients", "300", "--clean"]) == 0
    assert "gp_events" in capsys.readouterr().out
    with (out / "gp_patients.csv").open(newline="") as fh:
        assert (
            sum(1 for _ in csv.reader(fh)) - 1
            == json.loads((out / MANIFEST_NAME).read_text())["files"]["gp_patients"]["rows"]
        )
    assert main(["synth", "--out", str(out), "--extract-date", "2019-01-01"]) == 2
    assert "extract-date" in capsys.readouterr().err
    assert main(["synth", "--out", str(out), "--defect-rate", "0.9"]) == 2
