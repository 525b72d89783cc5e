"""Ingest a synthetic extract set with injected defects: each defect is caught, nothing else."""

from __future__ import annotations

import duckdb
import pytest

from foundation.warehouse import ensure_layers
from pipelines.ingest.extracts import discover
from pipelines.ingest.load import load_extract_set

synthetic = pytest.importorskip("synthetic")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("synth")
    result = synthetic.generate(root / "extracts", patients=2000, seed=7, defect_rate=0.02)
    con = duckdb.connect()
    ensure_layers(con)
    load_extract_set(con, discover(result.out_dir), b"k" * 32)
    con.execute(
        "create table truth as select file, try_cast(row_number as bigint) as row_number, "
        '"column" as column_name, kind from read_csv(?, all_varchar = true)',
        [str(result.truth_dir / "defects.csv")],
    )
    return con


@pytest.mark.slow
def test_every_injected_row_defect_is_quarantined_with_a_reason(
    loaded: duckdb.DuckDBPyConnection,
) -> None:
    missed = loaded.execute(
        "select t.file, t.row_number, t.kind from truth t "
        "where t.row_number is not null and t.kind <> 'duplicate_row' and not exists ("
        "select 1 from quarantine.rejected_rows q "
        "where q.file = t.file and q.row_number = t.row_number and q.reason is not null)"
    ).fetchall()
    assert missed == []
    assert (
        loaded.execute(
            "select count(*) from truth where row_number is not null and kind <> 'duplicate_row'"
        ).fetchone()[0]
        > 0
    )


@pytest.mark.slow
def test_every_injected_duplicate_is_counted_as_a_duplicate(
    loaded: duckdb.DuckDBPyConnection,
) -> None:
    truth = set(
        loaded.execute("select file, row_number from truth where kind = 'duplicate_row'").fetchall()
    )
    found = set(loaded.execute("select file, row_number from quarantine.duplicate_rows").fetchall())
    assert truth and found == truth


@pytest.mark.slow
def test_good_rows_are_only_rejected_as_orphans_of_a_broken_patient_row(
    loaded: duckdb.DuckDBPyConnection,
) -> None:
    extra_rules = loaded.execute(
        "select distinct q.rule from quarantine.rejected_rows q anti join truth t "
        "on t.file = q.file and t.row_number = q.row_number"
    ).fetchall()
    assert {r[0] for r in extra_rules} <= {"patient_exists"}
    orphan_patients = loaded.execute(
        "select count(distinct raw.nhs_digits(original_values::json ->> 'nhs_number')) "
        "from quarantine.rejected_rows where rule = 'patient_exists'"
    ).fetchone()[0]
    broken_patient_rows = loaded.execute(
        "select count(*) from truth where file = 'gp_patients' and kind = 'invalid_nhs_number'"
    ).fetchone()[0]
    assert orphan_patients <= broken_patient_rows


@pytest.mark.slow
def test_counts_reconcile_and_file_level_quirks_are_recorded(
    loaded: duckdb.DuckDBPyConnection,
) -> None:
    for file, read, loaded_rows, quarantined, duplicates in loaded.execute(
        "select file, rows_read, rows_loaded, rows_quarantined, rows_duplicate from audit.loads"
    ).fetchall():
        assert read == loaded_rows + quarantined + duplicates, file
    extra = loaded.execute(
        "select file, column_name from truth where kind = 'extra_column'"
    ).fetchall()
    for file, column in extra:
        recorded = loaded.execute(
            "select extra_columns from audit.loads where file = ?", [file]
        ).fetchone()[0]
        assert column in recorded
