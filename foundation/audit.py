"""Reading back what ingest recorded: snapshots and the `extracts` block of run_summary.json."""

from __future__ import annotations

from datetime import date

import duckdb


def _has_audit(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'audit' "
        "and table_name in ('snapshots', 'loads')"
    ).fetchone()
    return bool(row) and int(row[0]) == 2


def latest_snapshot(con: duckdb.DuckDBPyConnection) -> tuple[int, date] | None:
    """The snapshot `core` reflects: the loaded one with the latest extract date (then id)."""
    if not _has_audit(con):
        return None
    row = con.execute(
        "select snapshot_id, extract_date from audit.snapshots where status = 'loaded' "
        "order by extract_date desc, snapshot_id desc limit 1"
    ).fetchone()
    return (int(row[0]), row[1]) if row else None


def find_snapshot(
    con: duckdb.DuckDBPyConnection,
    fingerprint: tuple[tuple[str, str], ...],
    extract_date: date,
) -> tuple[int, date] | None:
    """A loaded snapshot of exactly these files (name and sha256) at this date, if any."""
    if not _has_audit(con):
        return None
    wanted = ";".join(f"{name}:{sha}" for name, sha in sorted(fingerprint))
    row = con.execute(
        "select s.snapshot_id, s.extract_date from audit.snapshots s "
        "join audit.loads l using (snapshot_id) "
        "where s.status = 'loaded' and s.extract_date = ? "
        "group by s.snapshot_id, s.extract_date "
        "having string_agg(l.file || ':' || l.sha256, ';' order by l.file) = ? "
        "order by s.snapshot_id desc limit 1",
        [extract_date, wanted],
    ).fetchone()
    return (int(row[0]), row[1]) if row else None


def extracts_summary(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, dict]:
    """The `extracts` block of run_summary.json for one snapshot (counts and checksums only).

    `{"<file>": {"sha256", "read", "loaded", "quarantined", "duplicates"}}`, where
    `read = loaded + quarantined + duplicates` for every file; `acute_spells` adds
    `diagnoses_quarantined`, the secondary diagnoses quarantined on their own (outside that
    sum: their spells are counted as loaded or quarantined like any row).
    """
    rows = con.execute(
        "select file, sha256, rows_read, rows_loaded, rows_quarantined, rows_duplicate "
        "from audit.loads where snapshot_id = ? order by file",
        [snapshot_id],
    ).fetchall()
    out: dict[str, dict] = {
        str(file): {
            "sha256": str(sha),
            "read": int(read),
            "loaded": int(loaded),
            "quarantined": int(quarantined),
            "duplicates": int(duplicates),
        }
        for file, sha, read, loaded, quarantined, duplicates in rows
    }
    if "acute_spells" in out:
        out["acute_spells"]["diagnoses_quarantined"] = diagnoses_quarantined(con, snapshot_id)
    return out


def diagnoses_quarantined(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> int:
    """Secondary diagnoses quarantined on their own in one snapshot (0 before they existed)."""
    present = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'quarantine' "
        "and table_name = 'rejected_diagnoses'"
    ).fetchone()
    if not present or not present[0]:
        return 0
    row = con.execute(
        "select count(*) from quarantine.rejected_diagnoses q "
        "join audit.loads l on l.load_id = q.load_id where l.snapshot_id = ?",
        [snapshot_id],
    ).fetchone()
    return int(row[0]) if row else 0


def quarantine_by_rule(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, dict]:
    """Quarantined rows per file and rule for one snapshot (counts only); a secondary
    diagnosis rule (`diag_02_format` ...) counts the diagnoses it quarantined."""
    rows = con.execute(
        "select q.file, q.rule, count(distinct q.row_number) from ("
        "select load_id, file, rule, row_number from quarantine.rejected_rows "
        "union all select load_id, file, rule, row_number from quarantine.rejected_diagnoses"
        ") q join audit.loads l on l.load_id = q.load_id where l.snapshot_id = ? "
        "group by q.file, q.rule order by q.file, q.rule",
        [snapshot_id],
    ).fetchall()
    out: dict[str, dict] = {}
    for file, rule, n in rows:
        out.setdefault(str(file), {})[str(rule)] = int(n)
    return out
