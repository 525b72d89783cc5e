"""The run summary (`run_summary.json`): inputs, cohort counts and list checksums of one run."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from foundation.audit import extracts_summary, latest_snapshot
from foundation.provenance import code_version
from models.scoring import ranking_of
from reports.capacity import feedback_block, this_week_counts


def latest_snapshot_id(con: duckdb.DuckDBPyConnection) -> Any:
    """The snapshot the warehouse's core tables come from (None when there is none)."""
    found = latest_snapshot(con)
    return found[0] if found else None


def extracts_block(con: duckdb.DuckDBPyConnection, snapshot_id: Any) -> dict[str, Any]:
    """The `extracts` block: per extract file its checksum and row counts."""
    if snapshot_id is None:
        return {}
    return dict(extracts_summary(con, snapshot_id))


def died_in_hospital_only(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """Patients registered when they died, on or before `as_of`, whose death is known only from
    hospital data (a spell discharged to `79`; no GP date of death, or a later one).

    `core_patients.date_of_death` already keeps them out of every cohort and list; this is
    the count the run report shows (contract 1.1, "Deaths").
    """
    row = con.execute(
        """
        select count(*) from core.core_patients
        where death_source = 'hospital'
            and date_of_death <= ?
            and registration_start_date <= date_of_death
            and (registration_end_date is null or registration_end_date > date_of_death)
        """,
        [as_of],
    ).fetchone()
    return int(row[0]) if row else 0


def cohort_block(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, int]:
    """Cohort counts: housebound = excluded_opt_out + excluded_other + listed.

    `alive_and_registered` and `excluded_died_in_hospital` (`died_in_hospital_only`) are
    extra keys, outside that sum: a dead patient is in no cohort.
    """
    row = con.execute(
        """
        select
            count(*),
            count(*) filter (where exclusion_reason = 'opt_out'),
            count(*) filter (where exclusion_reason is not null and exclusion_reason <> 'opt_out'),
        from scores.score_cohort where as_of = ?
        """,
        [as_of],
    ).fetchone()
    listed = con.execute("select count(*) from lists.list_week").fetchone()
    # Listed by the cohort but reported died / moved away by the team (off later lists):
    # counted in excluded_other, and by the run report's review section.
    reported = con.execute(
        "select count(*) from scores.score_cohort c where c.as_of = ? and c.is_listed"
        " and c.patient_id not in (select patient_id from lists.list_week)",
        [as_of],
    ).fetchone()
    alive = con.execute(
        "select count(*) from features.feat_patients where index_date = ?", [as_of]
    ).fetchone()
    housebound, opt_out, other = (int(x) for x in (row or (0, 0, 0)))
    reported_gone = int(reported[0]) if reported else 0
    return {
        "housebound": housebound,
        "excluded_opt_out": opt_out,
        "excluded_other": other + reported_gone,
        "listed": int(listed[0]) if listed else 0,
        "alive_and_registered": int(alive[0]) if alive else 0,
        "excluded_died_in_hospital": died_in_hospital_only(con, as_of),
    }


def build_run_summary(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    lists: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """The run summary as OUTPUTS.md defines it (`ranking`: how the list was ranked), plus
    `snapshot_id`, `changes`, `left_list`."""
    snapshot_id = latest_snapshot_id(con)
    version = con.execute(
        "select min(model_version) from scores.scores where as_of = ?", [as_of]
    ).fetchone()
    changes = dict(
        con.execute("select change, count(*) from lists.list_week group by 1 order by 1").fetchall()
    )
    left = dict(
        con.execute(
            "select reason, count(*) from lists.list_left_week group by 1 order by 1"
        ).fetchall()
    )

    this_week = this_week_counts(con)
    return {
        "as_of": as_of.isoformat(),
        "model_version": (version[0] if version else None) or "",
        "code_version": code_version(),
        "ranking": ranking_of(con, as_of),
        "extracts": extracts_block(con, snapshot_id),
        "cohort": cohort_block(con, as_of),
        "lists": {
            code: {
                "rows": item["rows"],
                # null: no capacity for this neighbourhood this week (this_week empty)
                "this_week": this_week.get(code),
                "sha256": item["sha256"],
                "folder": item["folder"],
            }
            for code, item in sorted(lists.items())
        },
        "snapshot_id": None if snapshot_id is None else str(snapshot_id),
        "changes": {k: int(v) for k, v in changes.items()},
        "left_list": {k: int(v) for k, v in left.items()},
        "feedback": feedback_block(con, as_of),
    }


def write_run_summary(summary: dict[str, Any], path: Path) -> Path:
    """Write the summary as indented JSON."""
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
