import asyncio

import pytest

from backend.core.tasks import cancel_and_wait


async def _slow_to_stop(cleanup_seconds: float, *, fail: bool = False) -> None:
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.sleep(cleanup_seconds)
        if fail:
            raise ValueError("cleanup failed") from None
        raise


async def test_cancel_and_wait_returns_once_the_tasks_have_ended() -> None:
    tasks = [asyncio.create_task(_slow_to_stop(0.05)) for _ in range(3)]
    await asyncio.sleep(0)
    await cancel_and_wait(*tasks)
    assert all(task.cancelled() for task in tasks)


async def test_a_cancel_aimed_at_the_caller_is_not_swallowed() -> None:
    task = asyncio.create_task(_slow_to_stop(60))
    await asyncio.sleep(0)
    stopping = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0.05)
    stopping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopping
    assert stopping.cancelled()
    task.cancel()  # the stubborn task itself, for the test's own clean-up


async def test_a_task_that_fails_while_stopping_raises_its_error() -> None:
    task = asyncio.create_task(_slow_to_stop(0, fail=True))
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="cleanup failed"):
        await cancel_and_wait(task)


async def test_cancel_and_wait_of_no_tasks_returns() -> None:
    await cancel_and_wait()
