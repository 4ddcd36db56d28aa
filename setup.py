"""Build hook: ship the Alembic migrations inside the `backend` package of a wheel (pyproject.toml holds the rest).

The migrations live in `migrations/` at the top of the repository, next to the packages, which is where a checkout
and an editable install (`pip install -e .`) find them. A regular install (`pip install .`, a wheel) has no such
directory, so the build copies it to `backend/migrations/`, where `backend.core.db.locate_migrations` looks first.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def copy_migrations(source: Path, package_dir: Path) -> list[Path]:
    """Copy the migrations directory (env.py, script.py.mako, versions/) into a built package; the files copied."""
    target = package_dir / "migrations"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return sorted(path for path in target.rglob("*") if path.is_file())


class BuildPyWithMigrations(build_py):
    """build_py that also puts migrations/ into backend/ (not for editable installs, which use the checkout)."""

    def run(self) -> None:
        """Build the packages, then add the migrations."""
        super().run()
        if not getattr(self, "editable_mode", False):
            copy_migrations(MIGRATIONS, Path(self.build_lib) / "backend")


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithMigrations})
