"""Demo wiring: the bundled simulator in-process and the demo organisation's account logged in by QR."""

from __future__ import annotations

from backend.accounts.demo import demo_channel
from backend.accounts.models import AccountStatus
from backend.core.runtime import DEMO_ORGANIZATION
from backend.ingest.runtime import ChannelRuntime


async def test_demo_account_logs_in_through_the_bundled_simulator(settings, db, make_org) -> None:
    await make_org(DEMO_ORGANIZATION)
    demo_settings = settings.model_copy(deep=True)
    demo_settings.gewe.api_base = None
    runtime = ChannelRuntime(demo_settings, db)
    try:
        async with demo_channel(runtime) as demo:
            account = await demo.login
            assert account is not None
            assert account.status == AccountStatus.online
            assert demo.simulator.callback_url is not None
            assert demo.simulator.callback_url.endswith(f"/callbacks/gewe/{account.callback_secret}")
    finally:
        await runtime.stop()
