"""Benchmark the feature build (1 and 12 index dates) and HFRS against comorbidipy at scale.

Usage:
    .venv/bin/python -m benchmarks.bench_features --patients 1000000 --workdir /tmp/cf-bench

Phases run in separate processes so each peak memory (ru_maxrss) is its own:
  generate  random `core.*` tables in a DuckDB file (not timed as part of the budget)
  one       `features.build.build_features` at 1 index date      (budget 60 s)
  twelve    `features.build.build_features` at 12 monthly dates   (budget 300 s, <= 8 GB)
  hfrs      the HFRS model alone (1 and 12 dates) vs comorbidipy on the same 1,000,000
            diagnosis rows, once per date (ratio; target >= 2x faster for 12 dates)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb

from features.build import build_features, build_one, write_index_dates
from features.codelists import load_codelists

AS_OF = date(2025, 3, 31)


def monthly_dates(as_of: date, n: int) -> list[date]:
    """`n` month-ends going back from `as_of` (as_of first)."""
    out = []
    y, m = as_of.year, as_of.month
    for _ in range(n):
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        out.append(date.fromordinal(nxt.toordinal() - 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def generate(db: Path, patients: int, diagnoses: int, light: bool = False) -> dict:
    """Random core tables: ~30 GP events, ~24 prescriptions, community contacts per patient."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    # deferred: tests/helpers goes on the path just above; only the generate phase needs it
    from helpers.core_tables import create_core_tables

    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    for schema in ("ref", "core", "features", "audit"):
        con.execute(f"create schema if not exists {schema}")
    create_core_tables(con, practice=False)
    load_codelists(con)
    con.execute("select setseed(0.42)")
    n = patients
    t0 = time.perf_counter()
    con.execute(
        """
        insert into core.core_practices
        select 'P' || i, 'Practice ' || i, 'PCN' || (i // 10), 'PCN ' || (i // 10),
            'NB' || (i // 25), 'Neighbourhood ' || (i // 25)
        from range(200) t(i)
        """
    )
    con.execute("insert into core.core_lsoa_imd select 'E0' || i, 1 + i % 10 from range(5000) t(i)")
    con.execute(
        f"""
        insert into core.core_patients
        select 'p' || i,
            date_trunc('month', date '1925-01-01' + cast(random() * 365 * 70 as integer)),
            case when random() < 0.55 then '2' else '1' end,
            ['A', 'B', 'C', 'H', 'J', 'M', 'N', 'R', 'Z'][1 + (i % 9)],
            'E0' || (i % 5000), 'P' || (i % 200),
            date '1990-01-01' + cast(random() * 365 * 30 as integer),
            case when random() < 0.03 then date '2023-01-01' + cast(random() * 800 as integer) end,
            case when random() < 0.04 then date '2022-06-01' + cast(random() * 1000 as integer) end,
        from range({n}) t(i)
        """
    )
    # codes: every code list member plus noise, weighted towards noise
    con.execute(
        """
        create temp table bench_codes as
        select row_number() over () as idx, code, is_obs from (
            select code, false as is_obs from ref.efi_deficits_snomed
            union all select code, false from ref.snomed_misc
            union all select snomed_code, true from ref.observation_codes
            union all select cast(100000 + i as varchar), false from range(6000) t(i)
        )
        """
    )
    n_codes = con.execute("select count(*) from bench_codes").fetchall()[0][0]
    if light:  # only what the HFRS comparison reads: patients, practices, spells, diagnoses
        n_codes = 0
    con.execute(
        f"""
        insert into core.core_gp_events
        select e.patient_id, e.event_date, c.code,
            case when c.is_obs then round(e.u * 150, 1) end
        from (
            select 'p' || (i % {n}) as patient_id,
                date '2019-01-01' + cast(random() * 2300 as integer) as event_date,
                1 + cast(floor(random() * {n_codes}) as bigint) as idx, random() as u
            from range({0 if light else 30 * n}) t(i)
        ) e
        join bench_codes c on c.idx = e.idx
        """
    )
    con.execute(
        f"""
        insert into core.core_gp_medications
        select 'p' || (i % {n}), date '2021-01-01' + cast(random() * 1550 as integer), null,
            code || 'AAAAAA', code, null
        from (
            select i, lpad(cast(cast(random() * 400 as integer) as varchar), 9, '0') as code
            from range({0 if light else 24 * n}) t(i)
        )
        """
    )
    n_spells = diagnoses // 4
    con.execute(
        f"""
        insert into core.core_acute_spells
        select 's' || i, 'p' || cast(floor(random() * {n}) as bigint), null, adm,
            case when random() < 0.99 then adm + cast(random() * 20 as integer) end, meth,
            meth like '2%', meth like '1%', '19', null
        from (
            select i, date '2021-01-01' + cast(random() * 1550 as integer) as adm,
                ['21', '22', '11', '12', '31', '81'][1 + cast(floor(random() * 6) as integer)]
                    as meth
            from range({n_spells}) t(i)
        )
        """
    )
    con.execute(
        """
        insert into core.core_acute_diagnoses
        select x.spell_id, x.patient_id, x.admission_date, x.pos,
            case when x.u < 0.4 then w.icd10_3char else x.noise end || '0',
            case when x.u < 0.4 then w.icd10_3char else x.noise end
        from (
            select s.spell_id, s.patient_id, s.admission_date, r.pos, random() as u,
                1 + cast(floor(random() * 109) as integer) as rk,
                chr(65 + cast(floor(random() * 26) as integer))
                || lpad(cast(cast(random() * 99 as integer) as varchar), 2, '0') as noise
            from core.core_acute_spells s cross join range(1, 5) r(pos)
        ) x
        left join ref.hfrs_icd10_weights w on w.rank = x.rk
        """
    )
    con.execute(
        f"""
        insert into core.core_ae_attendances
        select 'a' || i, 'p' || cast(floor(random() * {n}) as bigint), ts, cast(ts as date), '01',
            random() < 0.05, null,
            case when random() < 0.3 then ['394923006', '160734000', '1234567'][1 + i % 3] end,
            random() < 0.3
        from (select i,
                timestamp '2021-01-01' + to_minutes(cast(random() * 2200000 as bigint)) as ts
              from range({n // 2}) t(i))
        """
    )
    con.execute(
        f"""
        insert into core.core_community_contacts
        select 'c' || i, 1, 'p' || cast(floor(random() * {n}) as bigint), 'r' || (i // 4), null, ts,
            cast(ts as date),
            ['district_nursing', 'urgent_community_response', 'reablement', 'intermediate_care',
             'community_matron', 'therapy', 'older_adult_mental_health', 'palliative_care',
             'other'][1 + cast(floor(random() * 9) as integer)],
            'routine', random() < 0.9, 30, 'home'
        from (select i,
                timestamp '2022-01-01' + to_minutes(cast(random() * 1700000 as bigint)) as ts
              from range({0 if light else 5 * n}) t(i))
        """
    )
    con.execute(
        f"""
        insert into core.core_social_care_services
        select 'p' || cast(floor(random() * {n}) as bigint),
            ['home_care', 'reablement', 'residential_care', 'day_care'][1 + i % 4],
            date '2021-01-01' + cast(random() * 1500 as integer),
            case when random() < 0.5 then date '2024-01-01' + cast(random() * 600 as integer) end,
            round(random() * 20, 1)
        from range({n // 10}) t(i)
        """
    )
    con.execute(
        f"""
        insert into core.core_caseload
        select 'p' || cast(floor(random() * {n}) as bigint), 'team',
            date '2023-01-01' + cast(i % 700 as integer), null
        from range({n // 20}) t(i)
        """
    )
    counts = {
        t: con.execute(f"select count(*) from core.{t}").fetchall()[0][0]
        for t in (
            "core_patients",
            "core_gp_events",
            "core_gp_medications",
            "core_acute_spells",
            "core_acute_diagnoses",
            "core_ae_attendances",
            "core_community_contacts",
        )
    }
    con.close()
    return {"seconds": round(time.perf_counter() - t0, 1), "rows": counts, "peak_gb": _peak_gb()}


def build(db: Path, n_dates: int, threads: int | None, memory_limit: str | None) -> dict:
    """Time `build_features` at `n_dates` monthly index dates (a fresh process)."""
    con = duckdb.connect(str(db))
    if threads:
        con.execute(f"set threads = {threads}")
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    t0, c0 = time.perf_counter(), time.process_time()
    rows = build_features(con, monthly_dates(AS_OF, n_dates))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    con.close()
    return {
        "dates": n_dates,
        "rows": rows,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1),
        "peak_gb": round(_peak_gb(), 2),
    }


def hfrs(db: Path) -> dict:
    """The HFRS model alone vs comorbidipy (once per date on the windowed rows)."""
    # deferred: pandas and comorbidipy (a dev extra) are only needed by the hfrs phase
    import pandas

    pandas.core.common.SettingWithCopyWarning = getattr(  # type: ignore[attr-defined]
        pandas.errors, "SettingWithCopyWarning", type("SettingWithCopyWarning", (Warning,), {})
    )
    # deferred: comorbidipy (a dev extra) is only needed by the hfrs phase, after the patch above
    import comorbidipy

    con = duckdb.connect(str(db))
    load_codelists(con)
    dates12 = monthly_dates(AS_OF, 12)
    result: dict = {}
    for label, dates in (("one_date", dates12[:1]), ("twelve_dates", dates12)):
        write_index_dates(con, dates)
        build_one(con, "int_cohort")
        t0, c0 = time.perf_counter(), time.process_time()
        build_one(con, "int_hfrs")
        result[f"sql_{label}_s"] = round(time.perf_counter() - t0, 2)
        result[f"sql_{label}_cpu_s"] = round(time.process_time() - c0, 2)
    diag = con.execute(
        "select patient_id as id, icd10_code as code, admission_date from core.core_acute_diagnoses"
    ).df()
    result["diagnosis_rows"] = len(diag)
    t0, c0 = time.perf_counter(), time.process_time()
    comorbidipy.hfrs(diag[["id", "code"]], id="id", code="code")
    result["comorbidipy_all_rows_once_s"] = round(time.perf_counter() - t0, 2)
    result["comorbidipy_all_rows_once_cpu_s"] = round(time.process_time() - c0, 2)
    t0, c0 = time.perf_counter(), time.process_time()
    for d in dates12:
        d_ts = pandas.Timestamp(d)
        start = pandas.Timestamp(date(d.year - 2, d.month, d.day if d.day < 29 else 28))
        window = diag[(diag["admission_date"] > start) & (diag["admission_date"] <= d_ts)]
        comorbidipy.hfrs(window[["id", "code"]], id="id", code="code")
    result["comorbidipy_twelve_dates_s"] = round(time.perf_counter() - t0, 2)
    result["comorbidipy_twelve_dates_cpu_s"] = round(time.process_time() - c0, 2)
    result["ratio_twelve_dates"] = round(
        result["comorbidipy_twelve_dates_s"] / result["sql_twelve_dates_s"], 2
    )
    result["ratio_twelve_dates_cpu"] = round(
        result["comorbidipy_twelve_dates_cpu_s"] / result["sql_twelve_dates_cpu_s"], 2
    )
    result["ratio_one_date_vs_comorbidipy_once"] = round(
        result["comorbidipy_all_rows_once_s"] / result["sql_one_date_s"], 2
    )
    con.close()
    result["peak_gb"] = round(_peak_gb(), 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--diagnoses", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/casefinder-bench"))
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--light", action="store_true", help="generate only what the HFRS comparison reads"
    )
    parser.add_argument(
        "--memory-limit", default=None, help="DuckDB memory_limit for the builds, e.g. 6GB"
    )
    parser.add_argument(
        "--phase", choices=("all", "generate", "one", "twelve", "hfrs"), default="all"
    )
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / f"core_{args.patients}.duckdb"
    if args.phase == "generate":
        print(json.dumps(generate(db, args.patients, args.diagnoses, args.light)))
        return 0
    if args.phase in ("one", "twelve"):
        n_dates = 1 if args.phase == "one" else 12
        print(json.dumps(build(db, n_dates, args.threads, args.memory_limit)))
        return 0
    if args.phase == "hfrs":
        print(json.dumps(hfrs(db)))
        return 0
    results = {}
    for phase in ("generate", "one", "twelve", "hfrs"):
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.bench_features",
            "--phase",
            phase,
            "--patients",
            str(args.patients),
            "--diagnoses",
            str(args.diagnoses),
            "--workdir",
            str(args.workdir),
        ]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        if args.memory_limit:
            cmd += ["--memory-limit", args.memory_limit]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[phase] = json.loads(out.strip().splitlines()[-1])
        print(phase, results[phase], flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
