"""Hostile input over HTTP: a bounded schemathesis run of every API operation never gets a server error.

Schemathesis reads /api/openapi.json from the app in-process and generates requests for each operation,
schema-valid (positive) and schema-violating (negative), sent as a signed-in admin; operations on one
resource run again against seeded rows (an account, a user, a budget, a SOP, a conversation). Checked:
schemathesis' `not_a_server_error` (bad input must come back as a 4xx, never a 5xx) and that every 4xx is
in the house shape `{"error": {"code", "message"}}`. The summary printed (`-s`) counts the answers.

Each operation runs as a plain Hypothesis test over `operation.as_strategy(mode)` (schemathesis' public
Python API) rather than through `@schema.parametrize()`, whose pytest plugin does not run on pytest 9.2
(it sets `Function._nodeid`, which pytest no longer has). The app is served by schemathesis' ASGI transport
on its own event-loop thread, so the run happens in a worker thread while the test's loop keeps serving
the GeWe simulator.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi as schemathesis_asgi
from sqlalchemy import text

from backend.app import create_app
from backend.auth.models import Role
from backend.config import Settings
from backend.core.db import Database
from bots.simulator import SimulatorConfig, SimulatorState, create_simulator_app
from bots.simulator.server import serve_in_loop

SIM_TOKEN = "sim-fuzz-token"
EXAMPLES_PER_MODE = 25  # per operation: up to 25 positive + 25 negative cases

FUZZ = settings(
    max_examples=EXAMPLES_PER_MODE,
    derandomize=True,  # the same requests on every run
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)

# Operations not fuzzed, and why:
EXCLUDED_PATHS = {
    # Authenticated by the secret in its path, not by the admin's token; the parser behind it has its own
    # fuzz test (tests/bots/gewe/test_callback_fuzz.py) and the endpoint its own tests in tests/backend/ingest.
    "/callbacks/gewe/{secret}",
}


@dataclass
class FuzzReport:
    """What the run did: requests per operation and mode, answers by status, and every failure found."""

    requests: dict[str, int] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    refused_by_database: Counter[str] = field(default_factory=Counter)  # 422 invalid_value from the error handler
    refused_by_gewe: Counter[str] = field(default_factory=Counter)  # 502 gewe_error: GeWe's own refusal
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        operations = {label.rsplit(" [", 1)[0] for label in self.requests}
        lines = [
            f"{len(operations)} operations, {sum(self.requests.values())} requests in {self.seconds:.1f} s, "
            f"{len(self.failures)} failing",
            "answers: " + ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items())),
        ]
        if self.refused_by_database:
            lines.append("values refused by PostgreSQL (422 invalid_value, no field check at the edge):")
            lines += [f"  {label}: {count}" for label, count in sorted(self.refused_by_database.items())]
        if self.refused_by_gewe:
            lines.append("GeWe refusals passed on (502 gewe_error):")
            lines += [f"  {label}: {count}" for label, count in sorted(self.refused_by_gewe.items())]
        return "\n".join(lines)


def is_gewe_refusal(response: Any) -> bool:
    """GeWe answered the call with a refusal, passed on as 502 gewe_error with GeWe's message.

    That is the accounts API's contract (tests/backend/accounts/test_router.py::
    test_gewe_failure_is_502_with_gewes_message), reached here when an earlier case stored a made-up
    gewe_token on the seeded account: an upstream answer, not a crash, so it is counted instead of failed.
    """
    return response.status_code == 502 and response.json().get("error", {}).get("code") == "gewe_error"


def check_error_shape(response: Any) -> None:
    """A 4xx carries {"error": {"code": str, "message": str}}."""
    if not 400 <= response.status_code < 500:
        return
    error = response.json().get("error")
    assert isinstance(error, dict), f"{response.status_code} without the error envelope: {response.text[:200]}"
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), response.text[:200]


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    report: FuzzReport,
    path_parameters: dict[str, str] | None = None,
) -> None:
    """Run one operation's cases of one mode (blocking), recording what happened in the report."""
    label = f"{operation.label} [{mode.value}{', seeded ids' if path_parameters else ''}]"
    report.requests[label] = 0

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Any) -> None:
        report.requests[label] += 1
        response = case.call(headers=headers)
        report.statuses[response.status_code] += 1
        if is_gewe_refusal(response):
            report.refused_by_gewe[operation.label] += 1
            return
        case.validate_response(response, checks=[not_a_server_error], headers=headers)
        check_error_shape(response)
        if response.status_code == 422 and response.json()["error"]["code"] == "invalid_value":
            report.refused_by_database[operation.label] += 1

    try:
        run()
    except Unsatisfiable:  # nothing in the operation can be made invalid (no parameters, no body)
        assert mode is GenerationMode.NEGATIVE, f"no valid request for {operation.label}"
    except (FailureGroup, AssertionError) as exc:
        report.failures[label] = str(exc)


def fuzz_operations(app: Any, headers: dict[str, str], seeded: dict[str, str]) -> FuzzReport:
    """Run every operation of the app's schema through positive and negative cases (blocking).

    Random path ids mostly find nothing (404), so operations on one resource run a second time with the ids
    of `seeded` rows, and the handlers get to work on bad bodies and queries. DELETE is left out of that
    pass: deleting the seeded rows would leave the operations after it nothing to work on.
    """
    report = FuzzReport()
    started = time.perf_counter()
    # Every case carries the admin's token: without this, most negative cases only drop the bearer header
    # (a plain 401, covered by the auth tests) instead of sending bad data to the handler.
    config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=config)
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in EXCLUDED_PATHS:
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(operation, mode, headers, report)
        known = {param.name: seeded[param.name] for param in operation.path_parameters if param.name in seeded}
        if known and operation.method.upper() != "DELETE":
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz_operation(operation, mode, headers, report, path_parameters=known)
    report.seconds = time.perf_counter() - started
    return report


@pytest.fixture
async def simulator_api_base() -> AsyncIterator[str]:
    """A GeWe simulator served in the test's event loop (kept running while the fuzz thread works)."""
    config = SimulatorConfig(token=SIM_TOKEN, seed=11, auto_confirm_login_after=None, scripted_customers=False)
    async with serve_in_loop(create_simulator_app(SimulatorState(config))) as base_url:
        yield base_url + config.base_path


@pytest.fixture
def fuzz_settings(settings: Settings, simulator_api_base: str) -> Settings:
    """The test settings with GeWe pointed at the simulator and the agent API unthrottled."""
    fuzzed = settings.model_copy(deep=True)
    fuzzed.gewe.api_base = simulator_api_base
    fuzzed.gewe.token = SIM_TOKEN
    fuzzed.security.agent_rate_per_minute = 0  # every generated case reaches the agent's handlers, none gets 429
    return fuzzed


@pytest.fixture
async def no_retail_writes_left(db: Database) -> AsyncIterator[None]:
    """Drop the coupons, campaigns and action logs the run created (the retail schema is not emptied per test)."""
    yield
    async with db.engine.begin() as conn:
        await conn.execute(text("TRUNCATE retail.action_logs, retail.campaigns, retail.coupons RESTART IDENTITY"))


async def seed_rows(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, str]:
    """One row of each resource with an id in a path, created through the API; path parameter -> id."""

    async def create(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    account = await create("/api/accounts", {"nickname": "fuzz"})
    user = await create("/api/users", {"username": "fuzz_sales", "password": "fuzz-password-1", "role": "sales"})
    budget = await create("/api/cost/budgets", {"name": "fuzz", "quota": "100"})
    sop = await create(
        "/api/sops",
        {
            "name": "fuzz",
            "targets": {"tags": ["VIP"]},
            "steps": [
                {
                    "content": {"kind": "text", "text": "您好"},
                    "timing": {"kind": "at", "at": "2030-01-01T10:00:00+08:00"},
                }
            ],
        },
    )
    # A conversation comes from a customer's message: post one as GeWe would, then wait for the dispatcher.
    message = {
        "TypeName": "AddMsg",
        "Data": {
            "NewMsgId": 7773749793478223190,
            "FromUserName": {"string": "wxid_fuzzcustomer"},
            "ToUserName": {"string": "wxid_fuzzaccount"},
            "MsgType": 1,
            "Content": {"string": "你好，在吗？"},
            "CreateTime": 1705043418,
        },
    }
    callback_path = "/" + account["callback_url"].split("/", 3)[3]  # http://host:port/callbacks/gewe/<secret>
    callback = await client.post(callback_path, json=message)
    assert callback.status_code == 200, callback.text
    async with asyncio.timeout(10):
        while not (conversations := (await client.get("/api/conversations", headers=headers)).json()["items"]):  # noqa: ASYNC110 - polls the API, nothing to await on
            await asyncio.sleep(0.05)
    return {
        "account_id": account["id"],
        "user_id": user["id"],
        "budget_id": budget["id"],
        "sop_id": sop["id"],
        "conversation_id": conversations[0]["id"],
    }


async def test_no_operation_answers_a_server_error(
    fuzz_settings: Settings, login: Any, client: httpx.AsyncClient, no_retail_writes_left: None
) -> None:
    admin = await login(Role.admin)
    seeded = await seed_rows(client, admin.headers)
    app = create_app(fuzz_settings).other_asgi_app
    try:
        report = await asyncio.to_thread(fuzz_operations, app, admin.headers, seeded)
    finally:
        # Runs the app's lifespan shutdown on schemathesis' loop: background work stops, the pool closes.
        await asyncio.to_thread(schemathesis_asgi.shutdown_lifespans)
    print(report.summary())
    assert not report.failures, "\n\n".join(f"{label}\n{failure}" for label, failure in report.failures.items())
    assert all(count > 0 for label, count in report.requests.items() if "[positive]" in label), report.summary()
