"""Database helpers: values written into the statement text for partial indexes."""

from __future__ import annotations

from sqlalchemy import bindparam, column, select, table, text

from backend.core.db import Database, in_sql_text
from tests.fixtures.db import generic_plan

PROBE = table("partial_index_probe", column("id"), column("state"))


async def test_a_generic_plan_uses_a_partial_index_compared_to_a_value_in_the_sql_text(db: Database) -> None:
    async with db.sessionmaker() as session:
        await session.execute(text("create temporary table partial_index_probe (id int, state text) on commit drop"))
        await session.execute(text("create index ix_probe_open on partial_index_probe (id) where state = 'open'"))
        await session.execute(
            text(
                "insert into partial_index_probe "
                "select n, case when n % 1000 = 0 then 'open' else 'closed' end from generate_series(1, 20000) n"
            )
        )
        await session.execute(text("analyze partial_index_probe"))
        open_rows = select(PROBE.c.id).where(PROBE.c.state == in_sql_text("open"), PROBE.c.id > bindparam("after"))

        plan = await generic_plan(session, open_rows, after=0)

    assert "ix_probe_open" in plan, plan


async def test_a_generic_plan_cannot_use_a_partial_index_compared_to_a_bound_value(db: Database) -> None:
    async with db.sessionmaker() as session:
        await session.execute(text("create temporary table partial_index_probe (id int, state text) on commit drop"))
        await session.execute(text("create index ix_probe_open on partial_index_probe (id) where state = 'open'"))
        open_rows = select(PROBE.c.id).where(PROBE.c.state == bindparam("state"), PROBE.c.id > bindparam("after"))

        plan = await generic_plan(session, open_rows, after=0, state="open")

    assert "ix_probe_open" not in plan, plan
