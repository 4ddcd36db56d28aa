"""Browser smoke test: Debian chromium (playwright-core) logs into the built console and sees the dashboard."""

from __future__ import annotations

import asyncio
import os
import shutil

import pytest

from backend.auth.models import Role
from backend.config import REPO_ROOT
from tests.conftest import require_service

FRONTEND = REPO_ROOT / "vue-frontend"
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"


def _browser_prerequisites() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        require_service("chromium", "install it with `bash scripts/setup.sh --browser`")
    if not (FRONTEND / "node_modules" / "playwright-core").is_dir():
        require_service("playwright-core", "run `npm ci` in vue-frontend")
    if not (FRONTEND / "dist" / "index.html").is_file():
        require_service("built console", "run `npm run build` in vue-frontend")
    return str(chromium)


@pytest.mark.browser
async def test_demo_login_reaches_the_dashboard_in_a_real_browser(live_server, make_user, db) -> None:
    chromium = _browser_prerequisites()
    user, password = await make_user(Role.manager)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        "node",
        "e2e/smoke.mjs",
        cwd=FRONTEND,
        env={
            **os.environ,
            "BASE_URL": live_server.url,
            "E2E_USERNAME": user.username,
            "E2E_PASSWORD": password,
            "E2E_SCREENSHOT_DIR": str(SCREENSHOTS),
            "CHROMIUM_PATH": chromium,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    log = output.decode(errors="replace")
    assert process.returncode == 0, log
    assert (SCREENSHOTS / "dashboard.png").is_file(), log
