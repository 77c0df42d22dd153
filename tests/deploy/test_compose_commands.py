"""docker-compose.yml, the Dockerfile and .dockerignore, checked without Docker.

No Docker engine runs where these tests run, so the files are read as data
(compose with PyYAML) and their commands are run as plain processes: the
``migrate`` service's and the ``gateway`` service's command lines, with the
gateway service's environment, against a real PostgreSQL and ``redis-server``
standing in for the ``postgres`` and ``redis`` services (the compose URLs with
only host and port replaced).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml

from tests.deploy.serving import HEALTHCHECK, production_env, start_serve
from tests.live import PYTHON, ROOT, ServerProcess, StandIn, manage

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
SECRETS = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "SECRET_KEY": "compose-test-key",
}


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?error}``."""

    def substitute(match: re.Match) -> str:
        name, operator, word = match.group(1), match.group(2), match.group(3) or ""
        if variables.get(name):
            return variables[name]
        if operator == ":?":
            raise KeyError(f"{name} must be set: {word}")
        return word if operator == ":-" else ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", substitute, value)


def service_environment(name: str, variables: dict[str, str]) -> dict[str, str]:
    environment = SERVICES[name].get("environment", {})
    return {
        key: interpolate(str(value), variables) for key, value in environment.items()
    }


def test_compose_runs_gateway_redis_postgres_and_ollama_as_an_option():
    assert {"gateway", "redis", "postgres", "ollama"} <= set(SERVICES)
    assert SERVICES["ollama"]["profiles"] == ["ollama"]
    assert "profiles" not in SERVICES["gateway"]


@pytest.mark.parametrize("name", ["gateway", "redis", "postgres", "ollama"])
def test_each_long_running_service_has_a_health_check(name):
    assert SERVICES[name]["healthcheck"]["test"]


def test_the_gateway_starts_after_healthy_stores_and_the_migrations():
    depends = SERVICES["gateway"]["depends_on"]

    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_the_gateway_uses_the_compose_redis_and_postgres():
    environment = service_environment("gateway", SECRETS)

    assert environment["REDIS_URL"].startswith("redis://redis:6379/")
    assert environment["DATABASE_URL"].startswith("postgres://tokensgate:")
    assert "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["ENVIRONMENT"] == "production"


def test_the_compose_file_refuses_to_start_without_secrets():
    with pytest.raises(KeyError, match="SECRET_KEY"):
        service_environment("gateway", {"POSTGRES_PASSWORD": "x"})


def test_a_stop_waits_longer_than_the_graceful_shutdown():
    environment = service_environment("gateway", SECRETS)
    grace = int(SERVICES["gateway"]["stop_grace_period"].rstrip("s"))

    assert grace > int(environment["GRACEFUL_TIMEOUT"])


def test_the_image_runs_as_a_non_root_user_with_a_health_check():
    instructions = [
        line.split(None, 1) for line in DOCKERFILE.splitlines() if line.strip()
    ]
    keywords = [parts[0] for parts in instructions if not parts[0].startswith("#")]
    users = [parts[1].strip() for parts in instructions if parts[0] == "USER"]

    assert DOCKERFILE.startswith("#") and "FROM python:3.11-slim" in DOCKERFILE
    assert users and users[-1] not in ("root", "0")
    assert keywords.index("USER") < keywords.index("CMD")
    assert 'CMD ["bin/healthcheck"]' in DOCKERFILE
    assert 'CMD ["bin/serve"]' in DOCKERFILE


def test_the_build_context_leaves_out_local_state_and_secrets():
    ignored = (ROOT / ".dockerignore").read_text().split()

    assert {".git", ".venv", ".env", "*.sqlite3"} <= set(ignored)


@pytest.fixture(scope="module")
def compose_database(postgres_server: str) -> Iterator[str]:
    """The compose ``postgres`` service's role and database, on the test cluster."""
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS tokensgate WITH (FORCE)")
        conn.execute("DROP ROLE IF EXISTS tokensgate")
        password = SECRETS["POSTGRES_PASSWORD"]
        conn.execute(f"CREATE ROLE tokensgate LOGIN PASSWORD '{password}'")
        conn.execute("CREATE DATABASE tokensgate OWNER tokensgate")
    yield postgres_server.rsplit("@", 1)[1].split("/", 1)[0]


@pytest.fixture
def compose_env(
    compose_database: str, redis_server: ServerProcess, standin: StandIn, ollama_standin
) -> dict[str, str]:
    environment = service_environment("gateway", SECRETS)
    environment["DATABASE_URL"] = environment["DATABASE_URL"].replace(
        "postgres:5432", compose_database
    )
    environment["REDIS_URL"] = environment["REDIS_URL"].replace(
        "redis:6379", f"127.0.0.1:{redis_server.port}"
    )
    environment["OLLAMA_BASE_URL"] = ollama_standin.url
    environment["ANTHROPIC_BASE_URL"] = standin.url
    environment["CLAUDE_API_KEY"] = "sk-ant-compose-test-upstream-0123456789"
    environment["LOG_FORMAT"] = "json"
    return environment


@pytest.mark.live
def test_the_compose_commands_run_a_healthy_gateway(compose_env, tmp_path: Path):
    migrate = SERVICES["migrate"]["command"]
    result = subprocess.run(
        [PYTHON if part == "python" else part for part in migrate],
        cwd=ROOT,
        env=production_env(compose_env, 0),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    server = start_serve(tmp_path, compose_env, SERVICES["gateway"]["command"])
    try:
        health = httpx.get(server.url + "/health", timeout=10).json()
        checked = subprocess.run(
            [str(HEALTHCHECK)],
            env=production_env(compose_env, server.port),
            check=False,
        )
        key = (
            manage("create_client", "compose", env=compose_env).strip().splitlines()[-1]
        )
        reply = httpx.post(
            server.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "model": "claude-haiku-4-5",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": "Hello from compose."}],
            },
            timeout=30,
        )
    finally:
        exit_code = server.stop()

    assert health["status"] == "ok"
    assert health["state_store"]["redis"] == "ok"
    assert checked.returncode == 0
    assert reply.status_code == 200, reply.text
    assert exit_code == 0, server.log_text()[-3000:]
