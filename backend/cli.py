"""The `salesbot` command line: demo, serve, migrate, user, keygen."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.agent.commands import load_kb, retail_is_seeded
from backend.agent.kb import STARTER_DIR
from backend.audit import service as audit
from backend.auth import service as auth_service
from backend.auth.models import Role, User
from backend.config import Settings
from backend.core.db import Database, DatabaseNotMigrated, ensure_migrated
from backend.core.errors import AppError
from backend.core.runtime import database_url, ensure_demo_data, load_demo_logins, migrate
from backend.core.secrets import apply_demo_secrets, weak_secret_problems
from backend.organizations.service import get_or_create
from backend.replies.knowledge import SALES_STARTER_DIR

T = TypeVar("T")
app = typer.Typer(help="WeChat sales-assistant platform.", no_args_is_help=True, add_completion=False)
user_app = typer.Typer(help="Manage console users.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console(stderr=True)
out = Console()
DataDirOption = Annotated[Path | None, typer.Option(help="Data dir of the embedded database (default ./var).")]


def fail(reason: str) -> None:
    """Exit non-zero with a one-line reason."""
    console.print(f"[red]error:[/red] {reason}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def load_settings(mode: str, data_dir: Path | None = None) -> Settings:
    """Settings from the environment / .env, or a one-line failure on bad configuration."""
    try:
        settings = Settings(SALESBOT_MODE=mode)
    except ValidationError as exc:
        first = exc.errors()[0]
        fail(f"bad configuration {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
        raise
    if data_dir is not None:
        settings.data_dir = data_dir
    settings.data_dir = settings.data_dir.resolve()
    return settings


def with_session(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one unit of work in a committed session on a short-lived engine."""

    async def run() -> T:
        database = Database(url)
        try:
            async with database.sessionmaker() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await database.dispose()

    return asyncio.run(run())


def run_server(settings: Settings) -> None:
    """Serve the ASGI app with uvicorn until interrupted."""
    import uvicorn

    from backend.app import create_app
    from backend.core.logs import configure_logging

    configure_logging(settings.server.log_level, json_lines=settings.server.log_json)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that kills the
    # process before `finally` blocks run, leaving the embedded PostgreSQL behind.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        timeout_graceful_shutdown=3,
        proxy_headers=True,
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its state.")] = Path("var"),
) -> None:
    """Run everything embedded (database, secrets, demo users) and serve the console."""
    settings = load_settings("demo", data_dir)
    settings.server.host, settings.server.port = host, port
    apply_demo_secrets(settings)
    console.print("starting PostgreSQL…" if not settings.database.url else "connecting to PostgreSQL…")
    with database_url(settings) as url:
        with console.status("applying database migrations…"):
            migrate(url)
        with console.status("creating the demo organisation and users…"):
            logins = load_demo_logins(settings.data_dir)
            asyncio.run(_seed_demo(url, logins))
        if not asyncio.run(retail_is_seeded(url)):
            seed_retail_with_progress(url, orders=40_000, seed=42)
        with console.status("loading the starter knowledge base…"):
            for directory in (STARTER_DIR, SALES_STARTER_DIR):
                asyncio.run(load_kb(url, directory, model_path=settings.embeddings.model_path))
        print_demo_banner(settings, logins)
        run_server(settings)


async def _seed_demo(url: str, logins: list[dict[str, str]]) -> None:
    database = Database(url)
    try:
        await ensure_demo_data(database, logins)
    finally:
        await database.dispose()


def print_demo_banner(settings: Settings, logins: list[dict[str, str]]) -> None:
    """Print the console URL and the demo logins."""
    table = Table(title="演示账号 Demo logins")
    for column in ("role", "username", "password"):
        table.add_column(column)
    for login in logins:
        table.add_row(login["role"], login["username"], login["password"])
    out.print(table)
    out.print(f"Console: {settings.public_base_url}/  (logins also in {settings.data_dir}/demo-logins.json)")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default PORT).")] = None,
) -> None:
    """Serve the API, Socket.IO and console with production settings from the environment."""
    settings = load_settings("serve")
    settings.server.host = host or settings.server.host
    settings.server.port = port or settings.server.port
    problems = weak_secret_problems(settings)
    if problems:
        fail("refusing to serve with unsafe secrets: " + "; ".join(problems))
    with database_url(settings) as url:
        try:
            asyncio.run(_check_migrated(url))
        except DatabaseNotMigrated as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot reach the database: {exc}")
        run_server(settings)


@app.command()
def worker() -> None:
    """Run ingest consumers, SOP dispatch and leader-elected jobs (no API); settings from the environment."""
    settings = load_settings("worker")
    database_url = settings.database.url
    if not database_url:
        fail("salesbot worker needs DATABASE_URL: the database the API instances use")
        return
    if not settings.redis.url:
        fail("salesbot worker needs REDIS_URL: workers share the pacer, the ingest stream and events through Redis")
    problems = weak_secret_problems(settings)
    if problems:
        fail("refusing to run with unsafe secrets: " + "; ".join(problems))
    from backend.core.logs import configure_logging
    from backend.worker import MetricsUnavailable, lower_cpu_priority, run_worker

    configure_logging(settings.server.log_level, json_lines=settings.server.log_json)
    lower_cpu_priority(settings.worker.niceness)
    try:
        asyncio.run(_check_migrated(database_url))
    except DatabaseNotMigrated as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot reach the database: {exc}")
    try:
        asyncio.run(run_worker(settings))
    except MetricsUnavailable as exc:
        fail(str(exc))


async def _check_migrated(url: str) -> None:
    database = Database(url)
    try:
        await ensure_migrated(database.engine)
    finally:
        await database.dispose()


@app.command("migrate")
def migrate_command(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    data_dir: DataDirOption = None,
) -> None:
    """Upgrade the database schema (embedded PostgreSQL when DATABASE_URL is unset)."""
    settings = load_settings("cli", data_dir)
    with database_url(settings) as url, console.status(f"migrating to {revision}…"):
        migrate(url, revision)
    out.print(f"database migrated to {revision}")


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Option(help="Login name.")],
    password: Annotated[str, typer.Option(help="Password (>= 8 characters).", prompt=True, hide_input=True)],
    role: Annotated[Role, typer.Option(help="admin, manager, sales or finance.")],
    org: Annotated[str, typer.Option(help="Organisation name (created when missing).")] = "Default",
    display_name: Annotated[str, typer.Option(help="Name shown in the console.")] = "",
    data_dir: DataDirOption = None,
) -> None:
    """Create a console user."""
    if len(password) < 8:
        fail("password must have at least 8 characters")

    async def work(session: AsyncSession) -> User:
        organization = await get_or_create(session, name=org)
        return await auth_service.create_user(
            session,
            organization_id=organization.id,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
        )

    settings = load_settings("cli", data_dir)
    with database_url(settings) as url:
        try:
            user = with_session(url, work)
        except AppError as exc:
            fail(exc.message)
            return
    out.print(f"created {role.value} {username} ({user.id}) in {org}")


@user_app.command("set-active")
def user_set_active(
    username: Annotated[str, typer.Option(help="Login name.")],
    active: Annotated[bool, typer.Option("--active/--disabled", help="Enable or disable the user.")],
    data_dir: DataDirOption = None,
) -> None:
    """Enable or disable a console user (disabling signs them out everywhere)."""

    async def work(session: AsyncSession) -> bool:
        user = await session.scalar(select(User).where(User.username == username))
        if user is None:
            return False
        before = auth_service.user_audit(user)
        user.is_active = active
        if not active:
            await auth_service.revoke_user_sessions(session, user_id=user.id)
        after = auth_service.user_audit(user)
        await audit.record(
            session,
            organization_id=user.organization_id,
            actor_id=None,
            action=auth_service.update_action(before, after),
            target_type="user",
            target_id=str(user.id),
            detail={**audit.changes(before, after), "via": "cli"},
        )
        return True

    settings = load_settings("cli", data_dir)
    with database_url(settings) as url:
        if not with_session(url, work):
            fail(f"no user named {username!r}")
    out.print(f"{username} is now {'active' if active else 'disabled'}")


@app.command()
def sim(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 2531,
    callback_url: Annotated[str | None, typer.Option(help="Where to post GeWe callbacks.")] = None,
    token: Annotated[str | None, typer.Option(help="X-GEWE-TOKEN the simulator accepts (any when unset).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for a reproducible world and customers.")] = None,
    accounts: Annotated[int, typer.Option(help="Accounts logged in from the start.")] = 0,
    customers: Annotated[bool, typer.Option(help="Scripted customers chatting.")] = True,
    duplicates: Annotated[float, typer.Option(help="Probability of a duplicate callback delivery.")] = 0.0,
) -> None:
    """Run the GeWe-compatible simulator alone."""
    from bots.simulator.server import run

    out.print(f"GeWe simulator on http://{host}:{port}/v2/api (control API under /_sim)")
    run(
        host,
        port,
        callback_url=callback_url,
        token=token,
        seed=seed,
        accounts=accounts,
        scripted_customers=customers,
        duplicate_probability=duplicates,
    )


@app.command("config")
def config_command(
    env_example: Annotated[bool, typer.Option("--env-example", help="Print a complete .env template.")] = False,
) -> None:
    """List every setting with its environment variable, default and description."""
    from backend.config import env_example as render_env_example
    from backend.config import env_reference

    if env_example:
        out.print(render_env_example(), end="", markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title="Settings")
    for column in ("group", "variable", "default", "description"):
        table.add_column(column)
    for row in env_reference():
        table.add_row(*row)
    out.print(table)


@app.command()
def bench(
    only: Annotated[str | None, typer.Option(help="Run only benchmarks whose path contains this text.")] = None,
    report: Annotated[Path, typer.Option(help="Markdown report to write.")] = Path("var/bench.md"),
) -> None:
    """Run every benchmark in tests/perf (each prints its figures against a same-run baseline)."""
    import platform
    import subprocess
    import sys
    import time
    from datetime import UTC, datetime

    from backend.config import REPO_ROOT

    scripts = sorted((REPO_ROOT / "tests" / "perf").glob("*/bench_*.py"))
    scripts = [script for script in scripts if only is None or only in str(script)]
    if not scripts:
        fail("no benchmark matched")
    sections = [
        "# Benchmarks",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.platform()}.",
    ]
    failed = 0
    rows: list[dict[str, Any]] = []
    outputs: list[str] = []
    for script in scripts:
        name = script.relative_to(REPO_ROOT)
        console.rule(str(name))
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        lines = result.stdout.splitlines()
        rows += [json.loads(line[len(BENCH_ROW_PREFIX) :]) for line in lines if line.startswith(BENCH_ROW_PREFIX)]
        printed = "\n".join(line for line in lines if not line.startswith(BENCH_ROW_PREFIX))
        typer.echo(printed)
        if result.returncode != 0:
            failed += 1
            typer.echo(result.stderr[-2000:], err=True)
        status = "ok" if result.returncode == 0 else f"failed (exit {result.returncode})"
        outputs += ["", f"### {name}", "", f"{status}, {elapsed:.0f} s", "", "```", printed.rstrip(), "```"]
    sections += ["", *bench_table(rows), "", "## Output of each benchmark", *outputs]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(sections) + "\n")
    out.print(f"report written to {report}")
    if failed:
        raise typer.Exit(code=1)


BENCH_ROW_PREFIX = "BENCH_ROW\t"  # tests/perf/support.py prints the table's rows behind it


def bench_table(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown table of benchmark figures against their same-run baselines."""
    table = ["| figure | value | baseline (same run) | baseline value | ratio |", "|---|---:|---|---:|---:|"]
    for row in rows:
        unit = row["unit"]
        table.append(
            f"| {row['figure']} | {row['value']:,.2f} {unit} | {row['baseline']} | "
            f"{row['baseline_value']:,.2f} {unit} | {row['ratio']:.2f}x |"
        )
    return table


@app.command()
def keygen() -> None:
    """Print fresh production secrets (JWT_SECRET, ENCRYPTION_KEY) for the .env file."""
    out.print(f"JWT_SECRET={secrets.token_urlsafe(48)}")
    out.print(f"ENCRYPTION_KEY={base64.urlsafe_b64encode(os.urandom(32)).decode()}")


seed_app = typer.Typer(help="Generate demo data.", no_args_is_help=True)
app.add_typer(seed_app, name="seed")
kb_app = typer.Typer(help="Store-agent knowledge base.", no_args_is_help=True)
app.add_typer(kb_app, name="kb")


@seed_app.command("retail")
def seed_retail_command(
    orders: Annotated[int, typer.Option(help="Orders over the last 90 days (members scale with them).")] = 40_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
    refresh_rollups: Annotated[
        bool,
        typer.Option("--refresh-rollups", help="Only rebuild the daily rollups from the current orders (no new data)."),
    ] = False,
    data_dir: DataDirOption = None,
) -> None:
    """Replace the retail schema's stores, members, orders and items with generated data with planted stories."""
    settings = load_settings("cli", data_dir)
    if refresh_rollups:
        from backend.agent.commands import refresh

        with database_url(settings) as url, console.status("rebuilding the retail rollups…"):
            rows = asyncio.run(refresh(url))
        out.print("rollups rebuilt: " + ", ".join(f"{name} {count:,} rows" for name, count in rows.items()))
        return
    with database_url(settings) as url:
        result, summary = seed_retail_with_progress(url, orders=orders, seed=seed)
    current, previous = summary["current"], summary["previous"]
    out.print(
        f"stores {result.stores}, members {result.members}, orders {summary['orders']} "
        f"(paid {summary['paid_orders']}), order items {summary['order_items']}; data up to {summary['anchor']}"
    )
    out.print(
        f"last 7 days: GMV {current.get('gmv', 0):,.2f}, orders {current.get('orders', 0)}, "
        f"average order value {current.get('aov', 0):,.2f}"
    )
    out.print(
        f"repeat rate last 7 days {current.get('repeat_rate', 0):.2%} vs previous 7 days {previous.get('repeat_rate', 0):.2%}"
    )


def seed_retail_with_progress(url: str, *, orders: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """Seed the retail schema with a progress bar on stderr; returns the seed result and its summary."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from backend.agent.commands import seed as run_seed

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("retail orders", total=orders)

        def advance(kind: str, count: int) -> None:
            if kind == "orders":
                bar.advance(task, count)

        return asyncio.run(run_seed(url, orders=orders, seed_value=seed, progress=advance))


@kb_app.command("load")
def kb_load_command(
    directory: Annotated[
        Path | None, typer.Argument(help="Directory of Markdown files (default: the starter KB).")
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Chunk, embed and store Markdown documents (unchanged documents are skipped)."""
    source = directory or STARTER_DIR
    if not source.is_dir():
        fail(f"{source} is not a directory")
    settings = load_settings("cli", data_dir)
    with database_url(settings) as url, console.status(f"embedding {source}…"):
        counts = asyncio.run(load_kb(url, source, model_path=settings.embeddings.model_path))
    out.print(f"documents loaded {counts['documents']}, chunks {counts['chunks']}, unchanged {counts['skipped']}")


@kb_app.command("remove")
def kb_remove_command(
    source: Annotated[
        str, typer.Argument(help="The document's source, as loaded (its file name, e.g. repeat-rate.md).")
    ],
    data_dir: DataDirOption = None,
) -> None:
    """Delete a shared document and its chunks (and their Chroma vectors)."""
    from backend.agent.commands import remove_kb_document

    settings = load_settings("cli", data_dir)
    with database_url(settings) as url:
        removed = asyncio.run(remove_kb_document(url, source, model_path=settings.embeddings.model_path))
    if not removed:
        fail(f"no shared document {source!r} in the knowledge base")
    out.print(f"removed {source}")


def main() -> None:
    """Entry point of the `salesbot` console script."""
    app()


if __name__ == "__main__":
    main()
