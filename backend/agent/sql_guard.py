"""SQL guard: one read-only query over the retail tables, columns checked, LIMIT forced, SQL regenerated."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError
from sqlglot.optimizer.qualify import qualify

RETAIL_COLUMNS: dict[str, dict[str, str]] = {
    "stores": {"id": "bigint", "name": "text", "city": "text"},
    "members": {
        "id": "bigint",
        "store_id": "bigint",
        "name": "text",
        "phone": "text",
        "level": "smallint",
        "total_spent": "numeric",
        "created_at": "timestamptz",
    },
    "orders": {
        "id": "bigint",
        "store_id": "bigint",
        "member_id": "bigint",
        "paid_at": "timestamptz",
        "pay_status": "smallint",
        "channel": "text",
        "amount": "numeric",
        "original_amount": "numeric",
    },
    "order_items": {
        "id": "bigint",
        "order_id": "bigint",
        "sku": "text",
        "category": "text",
        "qty": "int",
        "price": "numeric",
    },
    "member_coupons": {
        "id": "bigint",
        "member_id": "bigint",
        "store_id": "bigint",
        "campaign": "text",
        "threshold": "numeric",
        "value": "numeric",
        "issued_at": "timestamptz",
        "expires_at": "timestamptz",
        "redeemed_at": "timestamptz",
        "order_id": "bigint",
    },
    "daily_store_sales": {
        "day": "date",
        "store_id": "bigint",
        "channel": "text",
        "member_level": "smallint",
        "orders": "int",
        "paid_orders": "int",
        "gmv": "numeric",
        "original_amount": "numeric",
    },
    "daily_coupon_stats": {
        "day": "date",
        "store_id": "bigint",
        "member_level": "smallint",
        "issued": "int",
        "redeemed": "int",
    },
    "coupons": {
        "id": "bigint",
        "name": "text",
        "type": "text",
        "threshold": "numeric",
        "value": "numeric",
        "max_redemptions": "int",
        "start_at": "timestamptz",
        "end_at": "timestamptz",
        "status": "text",
        "created_at": "timestamptz",
    },
    "campaigns": {
        "id": "bigint",
        "name": "text",
        "goal": "text",
        "budget": "numeric",
        "duration_days": "int",
        "plan_json": "jsonb",
        "coupon_id": "bigint",
        "created_at": "timestamptz",
    },
}
SCHEMA = "retail"

_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "TruncateTable",
        "Command",
        "Into",
        "Lock",
        "Copy",
        "Set",
        "Transaction",
        "Commit",
        "Rollback",
        "Grant",
        "Revoke",
        "Use",
        "Pragma",
        "LoadData",
        "Analyze",
    )
    if hasattr(exp, name)
)
# Functions that read files, sleep, reach other servers, change settings or sequences, or inspect the server.
_DENIED_FUNCTION = re.compile(
    r"^(pg_|lo_|dblink|set_config|current_setting|nextval|setval|currval|lastval|query_to_xml|"
    r"table_to_xml|cursor_to_xml|database_to_xml|schema_to_xml|txid_|copy|inet_|version$|has_.*_privilege)"
)
# Functions sqlglot does not model (parsed as anonymous) that are still fine in a report.
_ALLOWED_ANONYMOUS = frozenset(
    {"date_trunc", "to_char", "date_part", "make_interval", "width_bucket", "generate_series", "age", "justify_days"}
)


class SqlRejected(ValueError):
    """The guard refused a statement; `code` is stable, the message precise enough to correct the SQL."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class GuardVerdict:
    """An accepted statement: the regenerated SQL to execute and what the guard changed."""

    sql: str
    limit_applied: int
    limit_was: int | None
    tables: tuple[str, ...] = field(default_factory=tuple)

    def debug(self) -> dict[str, object]:
        """Verdict as shown in the agent's debug output."""
        return {
            "passed": True,
            "limit_applied": self.limit_applied,
            "limit_was": self.limit_was,
            "tables": list(self.tables),
        }


def guard_sql(sql: str, *, max_rows: int, columns: Mapping[str, Mapping[str, str]] = RETAIL_COLUMNS) -> GuardVerdict:
    """Accept one SELECT over the allowed retail tables and return the SQL to run, or raise SqlRejected."""
    if columns is RETAIL_COLUMNS:
        return _guard_retail(sql, max_rows)
    return _guard(sql, max_rows, columns)


@lru_cache(maxsize=512)
def _guard_retail(sql: str, max_rows: int) -> GuardVerdict:
    # Verdicts are pure functions of the text; the semantic layer repeats the same SQL within a day.
    return _guard(sql, max_rows, RETAIL_COLUMNS)


def _guard(sql: str, max_rows: int, columns: Mapping[str, Mapping[str, str]]) -> GuardVerdict:
    try:
        statements = [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except ParseError as exc:
        raise SqlRejected("parse_error", f"SQL does not parse: {_first_line(str(exc))}") from exc
    if len(statements) != 1:
        raise SqlRejected("multiple_statements", f"exactly one statement is allowed, found {len(statements)}")
    tree: exp.Expr = statements[0]
    if not isinstance(tree, exp.Query):
        raise SqlRejected("not_a_query", f"only SELECT queries are allowed, found {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise SqlRejected("forbidden_clause", f"{node.key.upper()} is not allowed in a report query")
        if isinstance(node, exp.Func):
            _check_function(node)
    tables = _check_tables(tree, columns)
    _check_columns(tree, columns)
    limit_was, limit = _force_limit(tree, max_rows)
    return GuardVerdict(tree.sql(dialect="postgres", comments=False), limit, limit_was, tuple(tables))


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "syntax error"


def _check_function(node: exp.Func) -> None:
    name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
    if _DENIED_FUNCTION.match(name):
        raise SqlRejected("forbidden_function", f"function {name}() is not allowed")
    if isinstance(node, exp.Anonymous) and name not in _ALLOWED_ANONYMOUS:
        raise SqlRejected("unknown_function", f"function {name}() is not allowed in report queries")


def _check_tables(tree: exp.Expr, columns: Mapping[str, Mapping[str, str]]) -> list[str]:
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    used: list[str] = []
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        schema = table.db.lower()
        if not name:
            raise SqlRejected("forbidden_table", "table functions are not allowed")
        if table.catalog:
            raise SqlRejected("forbidden_table", f"cross-database reference {table.sql()} is not allowed")
        if not schema and name in cte_names:
            continue
        if schema and schema != SCHEMA:
            raise SqlRejected("forbidden_schema", f"schema {schema} is not allowed: use retail.<table>")
        if name not in columns:
            allowed = ", ".join(f"{SCHEMA}.{t}" for t in columns)
            raise SqlRejected("forbidden_table", f"table {name} is not allowed; allowed tables: {allowed}")
        table.set("db", exp.to_identifier(SCHEMA))
        if f"{SCHEMA}.{name}" not in used:
            used.append(f"{SCHEMA}.{name}")
    return used


def _check_columns(tree: exp.Expr, columns: Mapping[str, Mapping[str, str]]) -> None:
    schema: dict[str, object] = {SCHEMA: {table: dict(cols) for table, cols in columns.items()}}
    try:
        qualify(tree.copy(), schema=schema, dialect="postgres", validate_qualify_columns=True, quote_identifiers=False)
    except OptimizeError as exc:
        raise SqlRejected("unknown_column", f"{exc}; known columns: {_column_hint(columns)}") from exc


def _column_hint(columns: Mapping[str, Mapping[str, str]]) -> str:
    return "; ".join(f"{SCHEMA}.{table}({', '.join(cols)})" for table, cols in columns.items())


def _force_limit(tree: exp.Expr, max_rows: int) -> tuple[int | None, int]:
    current = tree.args.get("limit")
    was: int | None = None
    if current is not None:
        value = current.expression
        if not (isinstance(value, exp.Literal) and value.is_int):
            raise SqlRejected("bad_limit", "LIMIT must be an integer literal")
        was = int(value.this)
    limit = min(was, max_rows) if was is not None else max_rows
    tree.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
    return was, limit
