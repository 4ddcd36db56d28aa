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
BROWSER_SCRIPT_LIMIT = 180  # seconds a browser script may run


def _browser_prerequisites() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        require_service("chromium", "install it with `bash scripts/setup.sh --browser`")
    if not (FRONTEND / "node_modules" / "playwright-core").is_dir():
        require_service("playwright-core", "run `npm ci` in vue-frontend")
    if not (FRONTEND / "dist" / "index.html").is_file():
        require_service("built console", "run `npm run build` in vue-frontend")
    return str(chromium)


async def run_browser_script(
    script: str, *, base_url: str, username: str, password: str, env: dict[str, str]
) -> tuple[int, str]:
    """Run a Node browser script of vue-frontend against a server as a user; (exit code, combined output)."""
    chromium = _browser_prerequisites()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    process = await asyncio.create_subprocess_exec(
        "node",
        script,
        cwd=FRONTEND,
        env={
            **os.environ,
            "BASE_URL": base_url,
            "E2E_USERNAME": username,
            "E2E_PASSWORD": password,
            "CHROMIUM_PATH": chromium,
            **env,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=BROWSER_SCRIPT_LIMIT)
    return process.returncode or 0, output.decode(errors="replace")


@pytest.mark.browser
async def test_demo_login_reaches_the_dashboard_in_a_real_browser(live_server, make_user, db) -> None:
    user, password = await make_user(Role.manager)
    code, log = await run_browser_script(
        "e2e/smoke.mjs",
        base_url=live_server.url,
        username=user.username,
        password=password,
        env={"E2E_SCREENSHOT_DIR": str(SCREENSHOTS)},
    )
    assert code == 0, log
    assert (SCREENSHOTS / "dashboard.png").is_file(), log
