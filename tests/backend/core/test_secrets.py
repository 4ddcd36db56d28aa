"""Secrets: demo secrets are generated once; serve refuses weak ones."""

from __future__ import annotations

import stat

import pytest

from backend.config import Settings
from backend.core.secrets import apply_demo_secrets, load_or_create_demo_secrets, weak_secret_problems

STRONG_KEY = "q8Hk2V4sXm1nP0aR5tY7uI9oL3jK6hG2fD4sA8zX0cE="


def test_demo_secrets_are_generated_once_and_private(tmp_path) -> None:
    first = load_or_create_demo_secrets(tmp_path)
    second = load_or_create_demo_secrets(tmp_path)
    assert first == second
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600


def test_demo_jwt_secret_is_refused_for_serving(tmp_path) -> None:
    settings = Settings(SALESBOT_DATA_DIR=tmp_path)
    settings.security.jwt_secret = None
    settings.security.encryption_key = None
    apply_demo_secrets(settings)
    assert any("demo secret" in problem for problem in weak_secret_problems(settings))


@pytest.mark.parametrize(
    ("jwt_secret", "reason"),
    [
        (None, "not set"),
        ("changeme", "well-known"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "low-variety"),
        ("Sh0rt-but-varied!", "shorter than 32"),
    ],
)
def test_weak_jwt_secrets_are_named(jwt_secret: str | None, reason: str) -> None:
    settings = Settings()
    settings.security.jwt_secret = jwt_secret
    settings.security.encryption_key = STRONG_KEY
    problems = weak_secret_problems(settings)
    assert len(problems) == 1 and reason in problems[0]


def test_strong_secrets_pass() -> None:
    settings = Settings()
    settings.security.jwt_secret = "k3J9-vQ2pL8xZ7mN4bR6tY1wE5sD0fG_hU2iO8pA"
    settings.security.encryption_key = STRONG_KEY
    assert weak_secret_problems(settings) == []
