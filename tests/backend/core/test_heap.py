"""The startup heap is frozen while the app runs, so full collections skip it, and unfrozen at shutdown."""

from __future__ import annotations

import gc

from backend.app import create_app
from backend.core.heap import frozen_startup_heap


def test_the_block_runs_with_the_heap_frozen_and_leaves_it_unfrozen() -> None:
    with frozen_startup_heap():
        inside = gc.get_freeze_count()
    assert inside > 0 and gc.get_freeze_count() == 0


def _collectable(target: object) -> bool:
    """Whether the collector still walks `target` (frozen objects are in no generation)."""
    return any(candidate is target for candidate in gc.get_objects())


async def test_what_the_channel_lifespan_made_is_frozen_while_the_app_runs(settings) -> None:
    app = create_app(settings).other_asgi_app
    async with app.router.lifespan_context(app):
        channel = app.state.channel  # made by the ingest router's lifespan, which starts after the app's own
        frozen_while_running = not _collectable(channel)
    assert frozen_while_running
    assert _collectable(channel) and gc.get_freeze_count() == 0
