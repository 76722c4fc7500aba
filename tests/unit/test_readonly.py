"""The query page's check: one SELECT over the views; every other statement class, table
function, path or setting read is refused (DuckDB's own parser decides)."""

from __future__ import annotations

import pytest

from arq_batch.query.readonly import Refused, check_read_only

VIEWS = frozenset({"jobs", "predictions", "errors", "violations"})

ALLOWED = [
    "SELECT * FROM jobs",
    "FROM jobs SELECT outcome, count(*) GROUP BY ALL",
    "WITH done AS (SELECT * FROM jobs WHERE outcome = 'done') SELECT count(*) FROM done",
    "SELECT j.job_id FROM jobs j JOIN errors e ON j.message_id = e.message_id",
    "SELECT * FROM jobs WHERE job_id IN (SELECT job_id FROM violations) LIMIT 5",
    "SELECT 1 AS one UNION ALL SELECT 2",
    "VALUES (1, 'a'), (2, 'b')",
]
REFUSED = {
    "COPY jobs TO '/tmp/out.csv'": "COPY",
    "COPY (SELECT 1) TO 's3://arq-batch-s3/x.csv'": "COPY",
    "ATTACH '/tmp/x.duckdb' AS x": "ATTACH",
    "DETACH x": "DETACH",
    "INSTALL httpfs": "INSTALL",
    "LOAD httpfs": "LOAD",
    "CREATE TABLE t AS SELECT * FROM jobs": "CREATE",
    "CREATE OR REPLACE VIEW jobs AS SELECT 1": "CREATE",
    "CREATE SECRET s (TYPE s3)": "CREATE",
    "PRAGMA version": "only a plain SELECT",
    "PRAGMA enable_profiling": "PRAGMA",
    "SET disabled_filesystems = ''": "SET",
    "RESET lock_configuration": "RESET",
    "SELECT * FROM read_csv('/etc/passwd')": "read_csv",
    "SELECT * FROM read_text('/etc/hostname')": "read_text",
    "SELECT * FROM '/etc/passwd'": "unknown table",
    "SELECT * FROM 'data.csv'": "unknown table",
    "SELECT * FROM 's3://another-bucket/secrets.csv'": "unknown table",
    "SELECT * FROM glob('/*')": "glob",
    "SELECT * FROM duckdb_secrets()": "duckdb_secrets",
    "SELECT * FROM jobs, read_parquet('/tmp/x.parquet')": "read_parquet",
    "SELECT getenv('AWS_SECRET_ACCESS_KEY')": "getenv",
    "SELECT current_setting('s3_secret_access_key')": "current_setting",
    "SELECT * FROM information_schema.tables": "unknown table",
    "SELECT 1; SELECT 2": "one statement",
    "DESCRIBE jobs": "not allowed",
    "EXPLAIN SELECT 1": "EXPLAIN",
    "DELETE FROM jobs": "DELETE",
    "UPDATE jobs SET outcome = 'done'": "UPDATE",
    "INSERT INTO jobs VALUES (1)": "INSERT",
    "EXPORT DATABASE '/tmp/db'": "EXPORT",
    "CALL duckdb_settings()": "CALL",
    "USE memory": "USE",
    "SELEC * FROM jobs": "syntax error",
}


@pytest.mark.parametrize("sql", ALLOWED)
def test_a_select_over_the_views_passes(sql: str) -> None:
    check_read_only(sql, VIEWS)


@pytest.mark.parametrize("sql", REFUSED)
def test_every_other_statement_class_and_any_file_read_is_refused(sql: str) -> None:
    with pytest.raises(Refused, match=REFUSED[sql]):
        check_read_only(sql, VIEWS)
