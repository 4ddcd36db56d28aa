"""The files in deploy/ agree with the code: settings they set exist, commands they run exist, nginx and the
read-only role keep the guarantees docs/scale-out.md describes. Fast, no network, no nginx or Docker."""

from __future__ import annotations

import importlib.util
import inspect
import re
import shlex
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import typer.main
import uvicorn.config
import yaml

import backend.app
import backend.cli
from backend.config import REPO_ROOT, ServerSettings, env_reference

DEPLOY = REPO_ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
API_UNIT = DEPLOY / "systemd" / "salesbot-api@.service"
WORKER_UNIT = DEPLOY / "systemd" / "salesbot-worker@.service"
MIGRATE_UNIT = "salesbot-migrate.service"
IMAGE = "salesbot:local"  # the image deploy/Dockerfile builds in compose

# Variables the deploy files may set that are not salesbot settings: the images' own documented variables.
IMAGE_VARIABLES = {
    # postgres / pgvector image
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    # elasticsearch image
    "discovery.type",
    "xpack.security.enabled",
    "ES_JAVA_OPTS",
    # uvicorn (the server `salesbot serve` runs): addresses trusted for X-Forwarded-* headers
    "FORWARDED_ALLOW_IPS",
}


def setting_names() -> set[str]:
    """Environment variable names of every salesbot setting."""
    return {row[1] for row in env_reference()}


def unit_directives(path: Path) -> list[tuple[str, str]]:
    """(key, value) of every directive of a systemd unit, comments skipped."""
    directives = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        directives.append((key.strip(), value.strip()))
    return directives


def unit_values(path: Path, key: str) -> list[str]:
    """Every value of one directive of a unit."""
    return [value for name, value in unit_directives(path) if name == key]


def unit_environment(path: Path) -> dict[str, str]:
    """Variables set with Environment= lines."""
    variables = {}
    for value in unit_values(path, "Environment"):
        for assignment in shlex.split(value):
            name, _, setting = assignment.partition("=")
            variables[name] = setting
    return variables


def compose() -> dict[str, Any]:
    """deploy/docker-compose.yml, with YAML anchors and merge keys resolved."""
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def compose_services_running(subcommand: str) -> dict[str, dict[str, Any]]:
    """Compose services whose command is `salesbot <subcommand> ...`."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("command", [])[:2] == ["salesbot", subcommand]
    }


def parse_salesbot_command(argv: list[str]) -> dict[str, Any]:
    """Parse argv (what follows `salesbot`) with the real CLI without running it; the parsed parameters.

    Raises when the command does not exist or rejects an option or value.
    """
    commands: dict[str, Any] = typer.main.get_command(backend.cli.app).commands  # type: ignore[attr-defined]
    name, *options = argv
    assert name in commands, f"salesbot has no command {name!r} (it has {sorted(commands)})"
    with commands[name].make_context(name, options) as context:
        return dict(context.params)


def nginx_conf() -> str:
    """deploy/nginx.conf without comments."""
    return "\n".join(line.split("#", 1)[0] for line in (DEPLOY / "nginx.conf").read_text().splitlines())


def nginx_block(text: str, header: str) -> str:
    """The body of the first `<header> { ... }` block (balanced braces)."""
    match = re.search(re.escape(header) + r"\s*\{", text)
    assert match, f"nginx.conf has no block {header!r}"
    depth, start = 1, match.end()
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError(f"unbalanced braces after {header!r}")


def readonly_sql_statements() -> list[str]:
    """Top-level SQL statements of deploy/readonly_role.sql, whitespace folded.

    Comments and psql meta-commands are dropped (a trailing one, like `\\gset`, ends its statement), and
    a DO block stays one statement.
    """
    text = ""
    for line in (DEPLOY / "readonly_role.sql").read_text().splitlines():
        code, meta, _ = line.split("--", 1)[0].partition("\\")
        text += code + (";" if meta and code.strip() else "") + "\n"
    statements, current = [], ""
    for piece in text.split(";"):
        current += piece
        if current.count("$$") % 2 == 0:  # not inside a dollar-quoted body
            if current.strip():
                statements.append(" ".join(current.split()))
            current = ""
        else:
            current += ";"
    return statements


def readonly_migration() -> ModuleType:
    """The migration that creates the store agent's read-only role."""
    (path,) = (REPO_ROOT / "migrations" / "versions").glob("*ff4caa929018*.py")
    spec = importlib.util.spec_from_file_location("readonly_role_migration", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_systemd_units_set_only_existing_settings(unit: Path) -> None:
    unknown = set(unit_environment(unit)) - setting_names()
    assert not unknown, f"{unit.name} sets variables that are not salesbot settings: {sorted(unknown)}"


def test_compose_sets_only_settings_or_documented_image_variables() -> None:
    allowed = setting_names() | IMAGE_VARIABLES
    unknown = {
        f"{name}: {variable}"
        for name, service in compose()["services"].items()
        for variable in service.get("environment") or {}
        if variable not in allowed
    }
    assert not unknown, f"docker-compose.yml sets unknown variables: {sorted(unknown)}"


def test_forwarded_allow_ips_is_read_by_uvicorn() -> None:
    assert "FORWARDED_ALLOW_IPS" in inspect.getsource(uvicorn.config.Config.__init__)


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_systemd_units_run_salesbot_commands_that_exist(unit: Path) -> None:
    (exec_start,) = unit_values(unit, "ExecStart")
    program, *argv = shlex.split(exec_start.replace("%i", "8001"))
    assert Path(program).name == "salesbot"
    parse_salesbot_command(argv)


def test_compose_services_run_salesbot_commands_that_exist() -> None:
    commands = [service["command"] for service in compose()["services"].values() if service.get("image") == IMAGE]
    assert len(commands) >= 4  # migrate, two API instances, worker
    for command in commands:
        assert command[0] == "salesbot"
        parse_salesbot_command(command[1:])


def test_api_unit_runs_serve_on_the_instance_port_of_loopback() -> None:
    (exec_start,) = unit_values(API_UNIT, "ExecStart")
    assert shlex.split(exec_start)[1:] == ["serve", "--host", "127.0.0.1", "--port", "%i"]


def test_api_unit_turns_sop_dispatch_off() -> None:
    assert unit_environment(API_UNIT)["SOP_DISPATCH"] == "false"


def test_api_unit_leaves_callback_processing_to_workers() -> None:
    assert unit_environment(API_UNIT)["INGEST_CONSUME"] == "false"


def test_worker_unit_runs_salesbot_worker() -> None:
    (exec_start,) = unit_values(WORKER_UNIT, "ExecStart")
    assert shlex.split(exec_start)[1:] == ["worker"]


@pytest.mark.parametrize("unit", [API_UNIT, WORKER_UNIT], ids=lambda path: path.name)
def test_api_and_worker_units_want_and_follow_the_migration(unit: Path) -> None:
    assert MIGRATE_UNIT in " ".join(unit_values(unit, "Wants")).split()
    assert MIGRATE_UNIT in " ".join(unit_values(unit, "After")).split()


def test_migrate_unit_is_a_oneshot_salesbot_migrate() -> None:
    unit = DEPLOY / "systemd" / MIGRATE_UNIT
    assert unit_values(unit, "Type") == ["oneshot"]
    assert shlex.split(unit_values(unit, "ExecStart")[0])[1:] == ["migrate"]


def test_compose_api_services_turn_sop_dispatch_off() -> None:
    api_services = compose_services_running("serve")
    assert len(api_services) >= 2
    for service in api_services.values():
        assert service["environment"]["SOP_DISPATCH"] == "false"


def test_compose_api_services_leave_callback_processing_to_workers() -> None:
    for service in compose_services_running("serve").values():
        assert service["environment"]["INGEST_CONSUME"] == "false"


def test_compose_worker_runs_salesbot_worker() -> None:
    assert compose()["services"]["worker"]["command"] == ["salesbot", "worker"]


def test_compose_nginx_rewrites_every_bare_metal_upstream_to_an_api_service() -> None:
    services = compose()["services"]
    script = " ".join(services["nginx"]["command"])
    rewrites = dict(re.findall(r"s/server ([0-9\\.]+:\d+)/server ([\w-]+:\d+)/", script))
    upstream_addresses = set(re.findall(r"server\s+(127\.0\.0\.1:\d+)", nginx_conf()))
    assert {address.replace("\\.", ".") for address in rewrites} == upstream_addresses
    for target in rewrites.values():
        host, port = target.split(":")
        assert services[host]["command"][:2] == ["salesbot", "serve"]
        assert services[host]["command"][-1] == port


def test_nginx_socketio_location_upgrades_websockets() -> None:
    location = nginx_block(nginx_conf(), "location /socket.io/")
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", location)
    assert re.search(r"proxy_set_header\s+Connection\s+\$\w+;", location)
    assert re.search(r"proxy_http_version\s+1\.1;", nginx_conf())


def test_nginx_socketio_upstream_is_sticky() -> None:
    location = nginx_block(nginx_conf(), "location /socket.io/")
    (upstream,) = re.findall(r"proxy_pass\s+http://([\w-]+)\s*;", location)
    balancing = nginx_block(nginx_conf(), f"upstream {upstream}")
    assert re.search(r"^\s*(ip_hash|hash\s+\$remote_addr(\s+consistent)?)\s*;", balancing, re.MULTILINE)


def test_nginx_socketio_location_has_long_read_timeouts() -> None:
    location = nginx_block(nginx_conf(), "location /socket.io/")
    (timeout,) = re.findall(r"proxy_read_timeout\s+(\d+)s;", location)
    assert int(timeout) >= 60  # longer than Engine.IO's 25 s ping interval plus its 20 s timeout


def test_nginx_limits_the_callback_body_size() -> None:
    location = nginx_block(nginx_conf(), "location /callbacks/gewe/")
    assert re.search(r"client_max_body_size\s+\d+[km];", location)


def _nginx_bytes(size: str) -> int:
    number, unit = int(size[:-1]), size[-1].lower()
    return number * {"k": 1024, "m": 1024 * 1024}[unit]


def test_nginx_body_limits_are_within_the_apps_own() -> None:
    # nginx refuses first; the app's limits (413 too) hold when it is reached without nginx.
    defaults = {name: field.default for name, field in ServerSettings.model_fields.items()}
    api = re.search(r"^\s*client_max_body_size\s+(\d+[km]);", nginx_conf(), re.MULTILINE)
    callbacks = re.search(r"client_max_body_size\s+(\d+[km]);", nginx_block(nginx_conf(), "location /callbacks/gewe/"))
    assert api is not None and callbacks is not None
    assert _nginx_bytes(api.group(1)) <= defaults["max_body_bytes"]
    assert _nginx_bytes(callbacks.group(1)) <= defaults["callback_max_body_bytes"]


def test_nginx_routes_every_path_prefix_of_the_app() -> None:
    text = nginx_conf()
    locations = set(re.findall(r"location\s+(?:=\s+)?(\S+)\s*\{", text))
    for prefix in backend.app.API_PREFIXES:
        assert any(location.startswith(prefix.rstrip("/")) for location in locations), (
            f"nginx.conf has no location for the app's {prefix} (served or deliberately blocked)"
        )


def test_readonly_role_grants_only_select_on_tables() -> None:
    role = readonly_migration().ROLE
    grants = [statement for statement in readonly_sql_statements() if statement.upper().startswith("GRANT")]
    table_grants = [g for g in grants if re.match(r"GRANT \S.* ON (?!SCHEMA )", g, re.IGNORECASE)]
    other_grants = [g for g in grants if g not in table_grants]
    assert table_grants and all(g.upper().startswith("GRANT SELECT ON ") for g in table_grants), table_grants
    # Besides SELECT on tables: USAGE on the schema (needed to name its tables) and the role to the app's login.
    allowed = {f"GRANT USAGE ON SCHEMA retail TO {role}", f'GRANT {role} TO :"app_user"'}
    assert set(other_grants) <= allowed, other_grants


def test_readonly_role_mirrors_the_migration() -> None:
    migration = readonly_migration()
    statements = readonly_sql_statements()
    (select_grant,) = [s for s in statements if s.upper().startswith("GRANT SELECT ON ")]
    tables = select_grant[len("GRANT SELECT ON ") : select_grant.upper().index(" TO ")].split(", ")
    assert tables == [f"retail.{table}" for table in migration.READABLE]
    assert select_grant.endswith(f" TO {migration.ROLE}")
    assert f"GRANT USAGE ON SCHEMA retail TO {migration.ROLE}" in statements
    assert any(f"CREATE ROLE {migration.ROLE} NOLOGIN" in s for s in statements)
