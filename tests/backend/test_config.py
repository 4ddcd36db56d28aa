"""Configuration: every setting described and listed in deploy/.env.example."""

from __future__ import annotations

from backend.config import REPO_ROOT, Settings, env_example, env_reference, to_asyncpg_url


def test_every_setting_has_a_description() -> None:
    undocumented = [env for _, env, _, description in env_reference() if not description]
    assert undocumented == []


def test_env_example_lists_every_setting_and_is_current() -> None:
    committed = (REPO_ROOT / "deploy" / ".env.example").read_text()
    assert committed == env_example(), "regenerate: salesbot config --env-example > deploy/.env.example"


def test_flat_environment_names_fill_the_groups(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/sales")
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("LLM_PROVIDER", "openai")
    monkeypatch.setenv("VECTOR_STORE", "chroma")
    settings = Settings()
    assert settings.database.url == "postgresql+asyncpg://u:p@db:5432/sales"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.llm.provider == "openai"
    assert settings.embeddings.vector_store == "chroma"


def test_postgres_urls_are_normalised_to_asyncpg() -> None:
    assert to_asyncpg_url("postgres://a@b/c") == "postgresql+asyncpg://a@b/c"
    assert to_asyncpg_url("postgresql+asyncpg://a@b/c") == "postgresql+asyncpg://a@b/c"
