"""What the query page lets through: one SELECT over the predefined views, nothing else.

DuckDB parses the statement (``extract_statements`` for its kind, ``json_serialize_sql``
for its tree), so the check sees what the engine will run rather than guessing from the
text: COPY, ATTACH, INSTALL, LOAD, CREATE, PRAGMA, SET and every other kind are refused,
and so is any table that is not a view or a CTE of the statement (``FROM '/etc/passwd'``
is a table named by a path), any table function (``read_csv``, ``glob``,
``duckdb_secrets()``) and the functions that read the environment or settings. The
engine itself has local files disabled and its configuration locked as a second wall.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb

from arq_batch.kernel.errors import ArqError

# Scalar functions that reveal the process's environment or the engine's settings.
_FORBIDDEN_FUNCTIONS = frozenset({"getenv", "current_setting", "which_secret"})
_ALLOWED_REFS = frozenset({"BASE_TABLE", "JOIN", "SUBQUERY", "EMPTY", "EXPRESSION_LIST"})


class Refused(ArqError):
    """A statement the read-only query page does not run."""

    kind = "query_refused"


def check_read_only(sql: str, views: frozenset[str]) -> None:
    """Refused naming the first reason ``sql`` is not one read-only SELECT over ``views``."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise Refused(str(exc).strip().splitlines()[0]) from exc
    if len(statements) != 1:
        raise Refused(f"one statement at a time (got {len(statements)})")
    if statements[0].type != duckdb.StatementType.SELECT:
        word = (statements[0].query.split() or ["this"])[0].upper()
        raise Refused(f"read-only: {word} statements are refused, only SELECT runs")
    tree = _tree(sql)
    ctes = {name.lower() for name in _cte_names(tree)}
    for node in _nodes(tree):
        _check_node(node, views | ctes)


def _tree(sql: str) -> dict[str, Any]:
    with duckdb.connect() as db:  # a parser only: nothing attached, nothing read
        row = db.execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchone()
    assert row is not None
    tree: dict[str, Any] = json.loads(row[0])
    if tree.get("error"):  # PRAGMA and friends parse as SELECT but are not one
        raise Refused("read-only: only a plain SELECT runs "
                      f"({tree.get('error_message', 'not a SELECT')})")
    return tree


def _check_node(node: dict[str, Any], tables: frozenset[str] | set[str]) -> None:
    kind = node.get("type")
    # A table reference (what FROM and JOIN hold) has an alias and a sample, and no class;
    # only the kinds known to read nothing but views and subqueries pass.
    if "class" not in node and "alias" in node and "sample" in node \
            and kind not in _ALLOWED_REFS:
        raise Refused(f"read-only: {_describe(node)} is not allowed; "
                      "read the views (jobs, predictions, errors, ...)")
    if kind == "BASE_TABLE":
        name = str(node.get("table_name", ""))
        if node.get("schema_name") or node.get("catalog_name") or name.lower() not in tables:
            raise Refused(f"unknown table {name!r}: the query page reads only the views "
                          f"{', '.join(sorted(t for t in tables))}")
    if node.get("class") == "FUNCTION" and node.get("function_name") in _FORBIDDEN_FUNCTIONS:
        raise Refused(f"read-only: the function {node['function_name']}() is not allowed")


def _describe(ref: dict[str, Any]) -> str:
    if ref.get("type") == "TABLE_FUNCTION":
        function = ref.get("function") or {}
        return f"the table function {function.get('function_name', '?')}()"
    return f"a {str(ref.get('type', '?')).lower().replace('_', ' ')}"


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in the parse tree, depth first."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _cte_names(tree: dict[str, Any]) -> Iterator[str]:
    for node in _nodes(tree):
        for entry in (node.get("cte_map") or {}).get("map", []) if isinstance(
                node.get("cte_map"), dict) else []:
            yield str(entry.get("key", ""))
