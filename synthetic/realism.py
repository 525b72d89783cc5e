"""Measure a synthetic extract set against published English shares, without the pipeline's SQL.

An independent, deliberately plain reading of the extracts (polars only): eFI category of the
over-65s, emergency admissions, HFRS of admitted over-75s, housebound and care home shares,
the one-year hospitalisation gradient by eFI category, and how well the generator's latent
risk, the eFI and the HFRS rank the housebound. `python -m synthetic.realism OUT_DIR` prints
the figures that docs/synthetic-data.md quotes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from synthetic.reference import CODELISTS_DIR

EFI_DEFICITS = 36
EFI_CUTS = (0.12, 0.24, 0.36)  # fit <= 0.12 < mild <= 0.24 < moderate <= 0.36 < severe
EFI_CATEGORIES = ("fit", "mild", "moderate", "severe")
HFRS_BANDS = (5.0, 15.0)  # Gilbert 2018: low < 5, intermediate 5-15, high > 15
POLYPHARMACY = 5  # distinct medicines (BNF chemical substance) in 12 months
YEAR = 365.25


@dataclass(frozen=True)
class Extracts:
    """The four extract files the measures read, with clean NHS numbers and parsed dates."""

    extract_date: date
    patients: pl.DataFrame
    events: pl.DataFrame
    medications: pl.DataFrame
    spells: pl.DataFrame


def _nhs(col: str = "nhs_number") -> pl.Expr:
    return pl.col(col).str.replace_all(r"[ -]", "")


def _day(col: str) -> pl.Expr:
    return pl.col(col).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)


def _read(path: Path) -> pl.DataFrame:
    df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    return df.rename({c: c.lstrip("\ufeff") for c in df.columns})


def load(out_dir: Path) -> Extracts:
    """Read a CSV extract set written by `casefinder synth`."""
    out_dir = Path(out_dir)
    manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    patients = _read(out_dir / "gp_patients.csv").select(
        _nhs(),
        _day("date_of_birth").alias("dob"),
        _day("registration_start_date").alias("reg_start"),
        _day("registration_end_date").alias("reg_end"),
        _day("date_of_death").alias("death"),
    )
    events = _read(out_dir / "gp_events.csv").select(
        _nhs(),
        _day("event_date").alias("day"),
        pl.col("snomed_code").alias("code"),
        pl.col("numeric_value").cast(pl.Float64, strict=False).alias("value"),
    )
    medications = _read(out_dir / "gp_medications.csv").select(
        _nhs(), _day("issue_date").alias("day"), pl.col("bnf_code").str.slice(0, 9).alias("bnf")
    )
    diag = [f"diag_{i:02d}" for i in range(1, 21)]
    spells = _read(out_dir / "acute_spells.csv").select(
        _nhs(),
        _day("admission_date").alias("day"),
        pl.col("admission_method").str.strip_chars().alias("method"),
        pl.concat_list(
            [
                pl.col(c).str.replace_all(r"[^A-Za-z0-9]", "").str.to_uppercase().str.slice(0, 3)
                for c in diag
            ]
        ).alias("icd3"),
    )
    return Extracts(
        extract_date=date.fromisoformat(manifest["extract_date"]),
        patients=patients.drop_nulls("dob").unique("nhs_number", keep="first"),
        events=events.drop_nulls("day"),
        medications=medications.drop_nulls("day"),
        spells=spells.drop_nulls("day"),
    )


def _codes(category_file: str, column: str, value: str, code_col: str = "code") -> list[str]:
    table = pl.read_csv(CODELISTS_DIR / category_file, infer_schema=False)
    return table.filter(pl.col(column) == value).get_column(code_col).to_list()


def population(x: Extracts, on: date) -> pl.DataFrame:
    """People registered and alive on `on`, with their age in years."""
    return x.patients.filter(
        (pl.col("reg_start") <= on)
        & (pl.col("reg_end").is_null() | (pl.col("reg_end") > on))
        & (pl.col("death").is_null() | (pl.col("death") > on))
    ).select("nhs_number", ((pl.lit(on) - pl.col("dob")).dt.total_days() / YEAR).alias("age"))


def housebound(x: Extracts, on: date) -> pl.DataFrame:
    """`nhs_number`, `care_home` of people housebound on `on`: the latest housebound / no
    longer housebound code says so, or a care home residence code was recorded."""
    hb = set(_codes("snomed_misc.csv", "category", "housebound"))
    no = set(_codes("snomed_misc.csv", "category", "no_longer_housebound"))
    ch = set(_codes("snomed_misc.csv", "category", "care_home_residence"))
    ev = x.events.filter(pl.col("day") <= on)
    status = (
        ev.filter(pl.col("code").is_in(hb | no))
        .group_by("nhs_number", "day")
        .agg(pl.col("code").is_in(hb).any().alias("is_hb"))
        .sort("day")
        .group_by("nhs_number")
        .agg(pl.col("is_hb").last())
        .filter(pl.col("is_hb"))
        .select("nhs_number")
    )
    care = ev.filter(pl.col("code").is_in(ch)).select("nhs_number").unique()
    return pl.concat(
        [
            status.join(care, on="nhs_number", how="anti").with_columns(care_home=pl.lit(False)),
            care.with_columns(care_home=pl.lit(True)),
        ]
    )


def efi(x: Extracts, on: date) -> pl.DataFrame:
    """`nhs_number`, `efi`: coded deficits (Clegg 2016 code list), the main value rules
    (Barthel <= 18, low haemoglobin, eGFR < 60, falls count > 0, 6CIT >= 8), polypharmacy
    (5+ distinct medicines in 12 months), over 36. Everyone with no deficit scores 0."""
    codes = pl.read_csv(CODELISTS_DIR / "efi_deficits_snomed.csv", infer_schema=False).select(
        "code", "slug"
    )
    obs = pl.read_csv(CODELISTS_DIR / "observation_codes.csv", infer_schema=False)
    ev = x.events.filter(pl.col("day") <= on)
    coded = ev.join(codes, on="code").select("nhs_number", "slug")
    hb = housebound(x, on).select("nhs_number", pl.lit("housebound").alias("slug"))
    last_year = on - timedelta(days=365)

    def obs_rule(name: str, rule: pl.Expr, slug: str, recent: bool = False) -> pl.DataFrame:
        sel = obs.filter(pl.col("observation") == name).get_column("snomed_code").to_list()
        rows = ev.filter(pl.col("code").is_in(sel) & rule)
        if recent:
            rows = rows.filter(pl.col("day") > last_year)
        return rows.select("nhs_number", pl.lit(slug).alias("slug"))

    value = pl.col("value")
    g_per_l = pl.when(value >= 25).then(value).otherwise(value * 10)
    rules = [
        obs_rule("barthel_index", value <= 18, "activity-limitation"),
        obs_rule("haemoglobin", g_per_l < 120, "anaemia"),
        obs_rule("egfr", value < 60, "ckd"),
        obs_rule("falls_in_last_12_months", value > 0, "falls"),
        obs_rule("six_cit", value >= 8, "cognitive-problems"),
    ]
    poly = (
        x.medications.filter((pl.col("day") <= on) & (pl.col("day") > last_year))
        .group_by("nhs_number")
        .agg(pl.col("bnf").n_unique().alias("n"))
        .filter(pl.col("n") >= POLYPHARMACY)
        .select("nhs_number", pl.lit("polypharmacy").alias("slug"))
    )
    deficits = pl.concat([coded, hb, poly, *rules]).unique()
    return deficits.group_by("nhs_number").agg((pl.len() / EFI_DEFICITS).alias("efi"))


def efi_category(score: pl.Expr) -> pl.Expr:
    low, mid, high = EFI_CUTS
    return (
        pl.when(score <= low)
        .then(pl.lit("fit"))
        .when(score <= mid)
        .then(pl.lit("mild"))
        .when(score <= high)
        .then(pl.lit("moderate"))
        .otherwise(pl.lit("severe"))
    )


def emergency(x: Extracts) -> pl.DataFrame:
    return x.spells.filter(pl.col("method").str.starts_with("2"))


def count_between(spells: pl.DataFrame, start: date, end: date, name: str) -> pl.DataFrame:
    """Spells per person admitted in (start, end]."""
    return (
        spells.filter((pl.col("day") > start) & (pl.col("day") <= end))
        .group_by("nhs_number")
        .agg(pl.len().alias(name))
    )


def hfrs(x: Extracts, on: date) -> pl.DataFrame:
    """`nhs_number`, `hfrs`: sum of the weights of the distinct ICD-10 categories coded in any
    spell admitted in the 2 years up to `on` (Gilbert 2018), for everyone with such a spell."""
    weights = pl.read_csv(CODELISTS_DIR / "hfrs_icd10_weights.csv", infer_schema=False).select(
        pl.col("icd10_3char").alias("icd3"), pl.col("weight").cast(pl.Float64)
    )
    recent = x.spells.filter((pl.col("day") > on - timedelta(days=730)) & (pl.col("day") <= on))
    cats = recent.explode("icd3").drop_nulls("icd3").select("nhs_number", "icd3").unique()
    scored = cats.join(weights, on="icd3").group_by("nhs_number").agg(pl.col("weight").sum())
    return (
        recent.select("nhs_number")
        .unique()
        .join(scored, on="nhs_number", how="left")
        .select("nhs_number", pl.col("weight").fill_null(0.0).alias("hfrs"))
    )


def auroc(score: np.ndarray, label: np.ndarray) -> float:
    """Area under the ROC curve (ties get their average rank)."""
    s = pl.Series(score).rank("average").to_numpy()
    pos = label == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((s[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def measure(out_dir: Path, truth_dir: Path | None = None) -> dict[str, object]:
    """Every figure docs/synthetic-data.md quotes, as data."""
    x = load(out_dir)
    d = x.extract_date
    year_ago = d - timedelta(days=365)
    people = population(x, d)
    old = people.filter(pl.col("age") >= 65)
    hb = housebound(x, d).join(people, on="nhs_number")
    scores = people.join(efi(x, d), on="nhs_number", how="left").with_columns(
        pl.col("efi").fill_null(0.0)
    )
    cat = scores.filter(pl.col("age") >= 65).with_columns(category=efi_category(pl.col("efi")))
    shares = {c: float((cat["category"] == c).mean()) for c in EFI_CATEGORIES}

    em = emergency(x)
    any_3y = count_between(x.spells, d - timedelta(days=3 * 365), d, "n_any")
    em_12m = count_between(em, year_ago, d, "n_em")
    admitted_old = old.join(any_3y, on="nhs_number").join(em_12m, on="nhs_number", how="left")
    hb_em = hb.join(em_12m, on="nhs_number", how="left")
    max_12m = em_12m.join(people, on="nhs_number").get_column("n_em").max()

    h = hfrs(x, d).join(people.filter(pl.col("age") >= 75), on="nhs_number")
    hv = h.get_column("hfrs")

    # One-year hospitalisation by eFI category a year before the extract (Clegg 2016's outcome).
    base = population(x, year_ago).filter(pl.col("age") >= 65)
    base = base.join(efi(x, year_ago), on="nhs_number", how="left").with_columns(
        category=efi_category(pl.col("efi").fill_null(0.0))
    )
    base = base.join(em_12m, on="nhs_number", how="left").with_columns(
        admitted=pl.col("n_em").fill_null(0) > 0
    )
    cum_hazard = {
        c: -float(np.log1p(-base.filter(pl.col("category") == c)["admitted"].mean()))
        for c in EFI_CATEGORIES
    }
    result: dict[str, object] = {
        "extract_date": d.isoformat(),
        "registered_alive": people.height,
        "share_65_plus": old.height / people.height,
        "efi_65_plus": shares,
        "emergency_12m_mean_65_plus_admitted_3y": float(admitted_old["n_em"].fill_null(0).mean()),
        "emergency_12m_mean_housebound": float(hb_em["n_em"].fill_null(0).mean()),
        "emergency_12m_max": int(max_12m or 0),
        "hfrs_75_plus_admitted_2y": {
            "n": h.height,
            "low": float((hv < HFRS_BANDS[0]).mean()),
            "intermediate": float(((hv >= HFRS_BANDS[0]) & (hv <= HFRS_BANDS[1])).mean()),
            "high": float((hv > HFRS_BANDS[1]).mean()),
            "median": float(hv.median()),
            "p99": float(hv.quantile(0.99)),
            "max": float(hv.max()),
        },
        "hospitalisation_hr_vs_fit": {
            c: cum_hazard[c] / cum_hazard["fit"] for c in EFI_CATEGORIES[1:]
        },
        "housebound": {
            "n": hb.height,
            "share_registered": hb.height / people.height,
            "share_65_plus": hb.filter(pl.col("age") >= 65).height / old.height,
            "care_home_share": float(hb["care_home"].mean()),
            "mean_age": float(hb["age"].mean()),
        },
    }
    if truth_dir is not None:
        result.update(_truth_measures(Path(truth_dir), hb, scores, x, d))
    return result


def _truth_measures(
    truth_dir: Path, hb: pl.DataFrame, scores: pl.DataFrame, x: Extracts, d: date
) -> dict[str, object]:
    truth = pl.read_csv(truth_dir / "latent_risk.csv", schema_overrides={"nhs_number": pl.Utf8})
    sub = (
        hb.select("nhs_number")
        .join(truth, on="nhs_number")
        .join(scores.select("nhs_number", "efi"), on="nhs_number", how="left")
        .join(hfrs(x, d), on="nhs_number", how="left")
        .with_columns(pl.col("efi").fill_null(0.0), pl.col("hfrs").fill_null(0.0))
    )
    y = sub["outcome_12m"].to_numpy()
    latent = sub["latent_risk_12m"].to_numpy()
    return {
        "housebound_event_rate_12m": float(y.mean()),
        "housebound_latent_mean": float(latent.mean()),
        "housebound_latent_share_ge_095": float((latent >= 0.95).mean()),
        "housebound_auroc": {
            "latent": auroc(latent, y),
            "efi": auroc(sub["efi"].to_numpy(), y),
            "hfrs": auroc(sub["hfrs"].to_numpy(), y),
        },
        "event_rate_12m_all": float(truth["outcome_12m"].mean()),
    }


def list_measures(lists_dir: Path, truth_dir: Path) -> dict[str, object]:
    """Published proactive-care lists against the generator's truth: how many listed patients
    score 0.95 or more, their 12-month event rate, and the event rate per risk tier."""
    files = sorted(Path(lists_dir).rglob("proactive_care_list.csv"))
    listed = pl.concat(
        [
            pl.read_csv(f, infer_schema=False).select(
                _nhs(), pl.col("risk_score").cast(pl.Float64), "risk_tier"
            )
            for f in files
        ]
    )
    truth = pl.read_csv(truth_dir / "latent_risk.csv", schema_overrides={"nhs_number": pl.Utf8})
    joined = listed.join(truth, on="nhs_number")
    tiers = joined.group_by("risk_tier").agg(
        pl.len().alias("n"),
        pl.col("outcome_12m").mean().alias("event_rate"),
        pl.col("risk_score").mean().alias("mean_score"),
    )
    return {
        "listed": listed.height,
        "share_score_ge_095": float((listed["risk_score"] >= 0.95).mean()),
        "max_score": float(listed["risk_score"].max()),
        "event_rate_12m": float(joined["outcome_12m"].mean()),
        "tiers": {
            r["risk_tier"]: {
                "n": r["n"],
                "event_rate": r["event_rate"],
                "mean_score": r["mean_score"],
            }
            for r in tiers.sort("mean_score", descending=True).iter_rows(named=True)
        },
    }


def main(argv: list[str]) -> int:
    """`python -m synthetic.realism OUT_DIR [LISTS_DIR]`: print the figures as JSON."""
    out = Path(argv[0])
    truth = out.parent / "truth" / out.name
    figures = measure(out, truth if truth.exists() else None)
    if len(argv) > 1:
        figures["lists"] = list_measures(Path(argv[1]), truth)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
