"""SQL guard: accepted queries are regenerated with a forced LIMIT; every known bypass is rejected."""

from __future__ import annotations

import pytest

from backend.agent.sql_guard import SqlRejected, guard_sql

BYPASSES = [
    ("data-modifying CTE", "WITH x AS (DELETE FROM retail.orders RETURNING *) SELECT * FROM x", "forbidden_clause"),
    (
        "CTE with update",
        "WITH u AS (UPDATE retail.members SET level = 5 RETURNING id) SELECT id FROM u",
        "forbidden_clause",
    ),
    (
        "CTE with insert",
        "WITH i AS (INSERT INTO retail.stores (name, city) VALUES ('x', 'y') RETURNING id) SELECT id FROM i",
        "forbidden_clause",
    ),
    ("select into", "SELECT * INTO retail.copy FROM retail.orders", "forbidden_clause"),
    ("multiple statements", "SELECT 1 FROM retail.stores; DROP TABLE retail.orders", "multiple_statements"),
    (
        "statement after comment",
        "SELECT id FROM retail.stores; -- harmless\nDELETE FROM retail.orders",
        "multiple_statements",
    ),
    ("for update", "SELECT id FROM retail.orders FOR UPDATE", "forbidden_clause"),
    ("for share", "SELECT id FROM retail.orders FOR SHARE", "forbidden_clause"),
    ("plain delete", "DELETE FROM retail.orders", "not_a_query"),
    ("drop", "DROP TABLE retail.orders", "not_a_query"),
    ("copy to file", "COPY retail.orders TO '/tmp/orders.csv'", "not_a_query"),
    ("set role", "SET ROLE postgres", "not_a_query"),
    ("pg_read_file", "SELECT pg_read_file('/etc/passwd')", "forbidden_function"),
    ("pg_sleep", "SELECT pg_sleep(10) FROM retail.stores", "forbidden_function"),
    ("dblink", "SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)", "forbidden_function"),
    ("lo_import", "SELECT lo_import('/etc/passwd')", "forbidden_function"),
    ("set_config", "SELECT set_config('statement_timeout', '0', false)", "forbidden_function"),
    ("nextval", "SELECT nextval('retail.orders_id_seq')", "forbidden_function"),
    ("system catalog", "SELECT * FROM pg_catalog.pg_authid", "forbidden_schema"),
    ("unqualified catalog", "SELECT usename FROM pg_user", "forbidden_table"),
    ("information schema", "SELECT table_name FROM information_schema.tables", "forbidden_schema"),
    ("other schema", "SELECT username FROM public.users", "forbidden_schema"),
    ("knowledge base schema", "SELECT content FROM kb.chunks", "forbidden_schema"),
    ("audit table of retail", "SELECT request_json FROM retail.action_logs", "forbidden_table"),
    ("cross database", "SELECT * FROM otherdb.retail.orders", "forbidden_table"),
    ("catalog in subquery", "SELECT id FROM retail.stores WHERE id IN (SELECT oid FROM pg_class)", "forbidden_table"),
    ("non-literal limit", "SELECT id FROM retail.stores LIMIT (SELECT 1000000)", "bad_limit"),
    ("unknown function", "SELECT my_exfiltrate(id) FROM retail.stores", "unknown_function"),
    ("not sql", "give me all the orders please", "parse_error"),
]


@pytest.mark.parametrize(("sql", "code"), [(sql, code) for _, sql, code in BYPASSES], ids=[n for n, _, _ in BYPASSES])
def test_bypass_is_rejected(sql: str, code: str) -> None:
    with pytest.raises(SqlRejected) as rejected:
        guard_sql(sql, max_rows=1000)
    assert rejected.value.code == code


def test_comment_trick_is_stripped_from_the_executed_sql() -> None:
    verdict = guard_sql("SELECT id /* ; DROP TABLE retail.orders */ FROM retail.stores -- ; DELETE", max_rows=10)
    assert verdict.sql == "SELECT id FROM retail.stores LIMIT 10"


def test_missing_limit_is_added() -> None:
    verdict = guard_sql("SELECT id FROM retail.stores", max_rows=500)
    assert verdict.sql.endswith("LIMIT 500")
    assert (verdict.limit_was, verdict.limit_applied) == (None, 500)


def test_larger_limit_is_lowered_and_smaller_kept() -> None:
    assert guard_sql("SELECT id FROM retail.stores LIMIT 100000", max_rows=1000).limit_applied == 1000
    assert guard_sql("SELECT id FROM retail.stores LIMIT 5", max_rows=1000).limit_applied == 5


def test_unqualified_retail_table_is_qualified_in_the_executed_sql() -> None:
    verdict = guard_sql("SELECT name FROM stores", max_rows=10)
    assert "FROM retail.stores" in verdict.sql


def test_unknown_column_names_the_column_and_lists_known_ones() -> None:
    with pytest.raises(SqlRejected) as rejected:
        guard_sql("SELECT o.total FROM retail.orders AS o", max_rows=10)
    assert rejected.value.code == "unknown_column"
    assert "total" in rejected.value.message
    assert "retail.orders(id, store_id, member_id, paid_at" in rejected.value.message


def test_ctes_joins_filters_and_set_operations_pass() -> None:
    sql = (
        "WITH a AS (SELECT o.store_id AS store_id, COUNT(*) FILTER (WHERE o.pay_status = 1) AS n "
        "FROM retail.orders AS o GROUP BY o.store_id) "
        "SELECT s.name, a.n FROM a JOIN retail.stores AS s ON s.id = a.store_id "
        "UNION ALL SELECT 'total', COUNT(*) FROM retail.orders"
    )
    verdict = guard_sql(sql, max_rows=50)
    assert set(verdict.tables) == {"retail.orders", "retail.stores"}
    assert verdict.sql.endswith("LIMIT 50")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT c.store_id, COUNT(c.redeemed_at) FROM retail.member_coupons AS c GROUP BY c.store_id",
        "SELECT r.day, SUM(r.gmv) FROM retail.daily_store_sales AS r GROUP BY r.day",
        "SELECT r.store_id, SUM(r.redeemed) FROM retail.daily_coupon_stats AS r GROUP BY r.store_id",
    ],
    ids=["member coupons", "sales rollup", "coupon rollup"],
)
def test_coupon_and_rollup_tables_are_open_to_report_queries(sql: str) -> None:
    assert guard_sql(sql, max_rows=10).sql.endswith("LIMIT 10")


def test_rollup_bookkeeping_table_is_not_open_to_report_queries() -> None:
    with pytest.raises(SqlRejected) as rejected:
        guard_sql("SELECT refreshed_at FROM retail.rollup_state", max_rows=10)
    assert rejected.value.code == "forbidden_table"
