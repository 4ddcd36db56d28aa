"""The salesbot command line as operators run it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import select

from backend.audit.models import AuditEvent
from backend.core.secrets import load_or_create_demo_secrets
from tests.fixtures.db import app_client

STRONG_KEY = "q8Hk2V4sXm1nP0aR5tY7uI9oL3jK6hG2fD4sA8zX0cE="


def salesbot(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess with a controlled environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "JWT_", "ENCRYPTION_", "REDIS_"))}
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_serve_refuses_the_demo_jwt_secret(tmp_path: Path) -> None:
    demo = load_or_create_demo_secrets(tmp_path)
    result = salesbot(
        "serve", env={"JWT_SECRET": demo["jwt_secret"], "ENCRYPTION_KEY": demo["encryption_key"]}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "refusing to serve with unsafe secrets" in result.stderr
    assert "JWT_SECRET is the demo secret" in result.stderr


def test_bench_table_puts_each_figure_beside_its_baseline_and_ratio() -> None:
    from backend.cli import bench_table

    rows = [
        {
            "figure": "SOP planning",
            "value": 8.5,
            "baseline": "plain INSERT",
            "baseline_value": 5.0,
            "unit": "s",
            "ratio": 1.7,
        }
    ]

    assert bench_table(rows)[2] == "| SOP planning | 8.50 s | plain INSERT | 5.00 s | 1.70x |"


def test_worker_refuses_to_run_without_redis(tmp_path: Path) -> None:
    result = salesbot("worker", env={"DATABASE_URL": "postgresql://localhost/none"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "salesbot worker needs REDIS_URL" in result.stderr


def test_serve_refuses_when_no_secret_is_set(tmp_path: Path) -> None:
    result = salesbot("serve", env={}, cwd=tmp_path)
    assert result.returncode == 2
    assert "JWT_SECRET is not set" in result.stderr


def test_serve_refuses_an_unmigrated_database(tmp_path: Path, test_databases) -> None:
    url = test_databases.create("salesbot_cli_empty")
    env = {"JWT_SECRET": "k3J9-vQ2pL8xZ7mN4bR6tY1wE5sD0fG_hU2iO8pA", "ENCRYPTION_KEY": STRONG_KEY, "DATABASE_URL": url}
    result = salesbot("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "run `salesbot migrate` first" in result.stderr


def test_bad_configuration_exits_with_a_one_line_reason(tmp_path: Path) -> None:
    result = salesbot("serve", env={"PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad configuration" in lines[0]


def test_migrate_then_user_create_gives_a_user_who_can_log_in(tmp_path: Path, test_databases, settings) -> None:
    url = test_databases.create("salesbot_cli")
    migrated = salesbot("migrate", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    created = salesbot(
        "user",
        "create",
        "--username",
        "boss",
        "--password",
        "s3cret-pass",
        "--role",
        "admin",
        "--org",
        "Acme",
        env={"DATABASE_URL": url},
        cwd=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    assert "created admin boss" in created.stdout
    duplicate = salesbot(
        "user",
        "create",
        "--username",
        "boss",
        "--password",
        "s3cret-pass",
        "--role",
        "sales",
        env={"DATABASE_URL": url},
        cwd=tmp_path,
    )
    assert duplicate.returncode == 2 and "already taken" in duplicate.stderr

    cli_settings = settings.model_copy(deep=True)
    cli_settings.database.url = url

    async def log_in() -> httpx.Response:
        async with app_client(cli_settings) as http:
            return await http.post("/api/auth/login", json={"username": "boss", "password": "s3cret-pass"})

    response = asyncio.run(log_in())
    assert response.status_code == 200
    assert response.json()["user"]["organization"]["name"] == "Acme"


def test_keygen_prints_secrets_that_pass_the_serve_check(tmp_path: Path) -> None:
    result = salesbot("keygen", env={}, cwd=tmp_path)
    values = dict(line.split("=", 1) for line in result.stdout.split())
    assert set(values) == {"JWT_SECRET", "ENCRYPTION_KEY"}
    serve = salesbot("serve", env={**values, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}, cwd=tmp_path)
    assert "unsafe secrets" not in serve.stderr
    assert json.dumps(values)  # printable, no stray characters


def test_demo_serves_then_stops_its_embedded_postgres_on_sigterm(tmp_path: Path) -> None:
    import signal
    import time

    import psutil

    from tests.fixtures.db import free_port

    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "JWT_", "ENCRYPTION_", "REDIS_"))}
    demo = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "demo", "--port", str(port), "--data-dir", str(tmp_path / "var")],
        env=base,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except httpx.HTTPError:
                assert demo.poll() is None and time.monotonic() < deadline, "demo did not start"
                time.sleep(0.5)
        assert health.json() == {"ok": True}
        logins = json.loads((tmp_path / "var" / "demo-logins.json").read_text())
        assert sorted(login["role"] for login in logins) == ["admin", "finance", "manager", "sales"]
    finally:
        demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=60)
    assert demo.returncode == 0, output
    data_dir = str(tmp_path / "var" / "pg")
    leftovers = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and data_dir in (p.info["cmdline"] or [])
    ]
    assert leftovers == []


async def test_user_set_active_is_audited_as_done_from_the_command_line(
    tmp_path: Path, settings, db, make_user
) -> None:
    user, _ = await make_user()
    result = await asyncio.to_thread(
        salesbot,
        "user",
        "set-active",
        "--username",
        user.username,
        "--disabled",
        env={"DATABASE_URL": settings.database.url},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    async with db.sessionmaker() as session:
        rows = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.target_id == str(user.id), AuditEvent.action == "user.disable")
            )
        ).all()
    assert [(row.actor_id, row.detail) for row in rows] == [
        (None, {"before": {"is_active": True}, "after": {"is_active": False}, "via": "cli"})
    ]


def test_kb_remove_deletes_a_loaded_document_and_refuses_an_unknown_one(tmp_path: Path, test_databases) -> None:
    url = test_databases.create("salesbot_cli_kb")
    env = {"DATABASE_URL": url}
    assert salesbot("migrate", env=env, cwd=tmp_path).returncode == 0
    docs = tmp_path / "kb"
    docs.mkdir()
    (docs / "coupons.md").write_text("# 满减券\ntags: campaign\n\n## 门槛\n门槛按客单价设定。\n", encoding="utf-8")
    loaded = salesbot("kb", "load", str(docs), env=env, cwd=tmp_path, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert "documents loaded 1" in loaded.stdout
    removed = salesbot("kb", "remove", "coupons.md", env=env, cwd=tmp_path, timeout=120)
    assert removed.returncode == 0, removed.stderr
    assert "removed coupons.md" in removed.stdout
    again = salesbot("kb", "remove", "coupons.md", env=env, cwd=tmp_path, timeout=120)
    assert again.returncode == 2 and "no shared document 'coupons.md'" in again.stderr


def test_seed_retail_refresh_rollups_rebuilds_them_without_new_data(tmp_path: Path, test_databases) -> None:
    url = test_databases.create("salesbot_cli_rollups")
    env = {"DATABASE_URL": url}
    assert salesbot("migrate", env=env, cwd=tmp_path).returncode == 0
    seeded = salesbot("seed", "retail", "--orders", "2000", env=env, cwd=tmp_path, timeout=180)
    assert seeded.returncode == 0, seeded.stderr
    refreshed = salesbot("seed", "retail", "--refresh-rollups", env=env, cwd=tmp_path, timeout=120)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "rollups rebuilt: daily_store_sales" in refreshed.stdout
    assert "orders" not in refreshed.stdout  # no new data was generated
