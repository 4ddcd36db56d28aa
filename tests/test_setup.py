"""Packaging: a wheel (`pip install .`, not editable) carries the Alembic migrations inside `backend`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from setuptools.dist import Distribution

from backend.config import REPO_ROOT


def setup_module_of_the_repository() -> ModuleType:
    """setup.py loaded as a module (its setup() call only runs as __main__)."""
    spec = importlib.util.spec_from_file_location("salesbot_setup", REPO_ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def migration_files(root: Path) -> set[Path]:
    """Files of a migrations directory relative to it (byte code left out)."""
    return {
        path.relative_to(root)
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_the_wheel_build_puts_every_migration_into_the_backend_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO_ROOT)
    build = setup_module_of_the_repository().BuildPyWithMigrations(
        Distribution({"name": "salesbot", "packages": ["backend"], "script_name": "setup.py"})
    )
    build.build_lib = str(tmp_path)
    build.ensure_finalized()
    build.run()
    shipped = tmp_path / "backend" / "migrations"
    assert migration_files(shipped) == migration_files(REPO_ROOT / "migrations")
    assert {"env.py", "script.py.mako"} <= {path.name for path in shipped.iterdir()}
    assert (tmp_path / "backend" / "app.py").is_file()


def test_a_source_distribution_carries_the_migrations_for_the_wheel_build() -> None:
    manifest = (REPO_ROOT / "MANIFEST.in").read_text().splitlines()
    assert "graft migrations" in manifest
