"""No key leaks: a session through every error path, every byte captured.

Two gateways serve the session: one whose upstream key works, with retries
and the fallback switched off and short timeouts so that each scripted
upstream fault reaches the client as an error, and one whose upstream key
the stand-in refuses (``invalid-key``). Every response (status, headers,
body, stream) and both gateways' logs, at DEBUG level, are searched for the
client keys used, the wrong key a client tried, and the upstream keys, and
for any 12-character piece of them: a truncated key is still a leak.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.live import LiveGateway, StandIn, gateway_env, start_gateway

pytestmark = pytest.mark.live

UPSTREAM_KEY = "sk-ant-standin-upstream-secret-0123456789"
REFUSED_UPSTREAM_KEY = "invalid-key"
WRONG_KEY = "tg_" + "Wr0ngKeyNeverIssued" + "x" * 24
MODEL = "claude-haiku-4-5"
PROMPT_MARKER = "zebra-quartz-prompt-marker"
LIMIT = 65536


@dataclass
class Transcript:
    """Everything the gateways said during the session."""

    parts: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def record(self, name: str, response: httpx.Response) -> httpx.Response:
        self.statuses[name] = response.status_code
        self.parts.append(f"{name}: {response.status_code}")
        self.parts += [f"{k}: {v}" for k, v in response.headers.items()]
        self.parts.append(response.text)
        return response

    def text(self) -> str:
        return "\n".join(self.parts)


@pytest.fixture(scope="module")
def gateways(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> Iterator[dict[str, LiveGateway]]:
    common = {
        "LOG_LEVEL": "DEBUG",
        "OLLAMA_FALLBACK_ENABLED": "false",
        "MAX_RETRIES": "0",
        "CIRCUIT_BREAKER_ENABLED": "false",
        "STREAM_IDLE_TIMEOUT": "1",
        "UPSTREAM_READ_TIMEOUT": "1",
        "MAX_REQUEST_BYTES": str(LIMIT),
        "MAX_MESSAGES": "50",
        "CACHE_ENABLED": "false",
    }
    working = start_gateway(
        live_dir / "secrets",
        gateway_env(
            live_dir / "secrets",
            anthropic_url=standin.url,
            ollama_url=ollama_standin.url,
            **common,
        ),
        name="gateway-secrets",
    )
    refused = start_gateway(
        live_dir / "secrets-refused",
        gateway_env(
            live_dir / "secrets-refused",
            anthropic_url=standin.url,
            ollama_url=ollama_standin.url,
            **{**common, "CLAUDE_API_KEY": REFUSED_UPSTREAM_KEY},
        ),
        name="gateway-secrets-refused",
    )
    yield {"working": working, "refused": refused}
    working.stop()
    refused.stop()


class Session:
    """Sends requests on both surfaces and keeps every answer."""

    def __init__(self, gateway: LiveGateway, transcript: Transcript) -> None:
        self.gateway = gateway
        self.transcript = transcript
        self.http = httpx.Client(base_url=gateway.url, timeout=30)

    def openai(self, name: str, key: str | None, body: object, **headers: str) -> int:
        auth = {"Authorization": f"Bearer {key}"} if key else {}
        return self._post(
            f"openai {name}", "/v1/chat/completions", body, {**auth, **headers}
        )

    def anthropic(
        self,
        name: str,
        key: str | None,
        body: object,
        path: str = "/v1/messages",
        **headers: str,
    ) -> int:
        auth = {"x-api-key": key} if key else {}
        return self._post(
            f"anthropic {name}",
            path,
            body,
            {**auth, "anthropic-version": "2023-06-01", **headers},
        )

    def both(
        self, name: str, key: str | None, chat: object, message: object, **headers: str
    ) -> tuple[int, int]:
        return (
            self.openai(name, key, chat, **headers),
            self.anthropic(name, key, message, **headers),
        )

    def _post(self, name: str, path: str, body: object, headers: dict) -> int:
        content = (
            body
            if isinstance(body, bytes)
            else httpx.Request("POST", "/", json=body).content
        )
        response = self.http.post(
            path,
            content=content,
            headers={"Content-Type": "application/json", **headers},
        )
        return self.transcript.record(name, response).status_code


def chat_body(prompt: str = PROMPT_MARKER, **extra: object) -> dict:
    return {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": prompt}],
        **extra,
    }


def message_body(prompt: str = PROMPT_MARKER, **extra: object) -> dict:
    return chat_body(prompt, **extra)


def _client_errors(session: Session, keys: dict[str, str]) -> None:
    valid = keys["valid"]
    assert session.both("no key", None, chat_body(), message_body()) == (401, 401)
    assert session.both("wrong key", WRONG_KEY, chat_body(), message_body()) == (
        401,
        401,
    )
    assert session.both("disabled", keys["disabled"], chat_body(), message_body()) == (
        403,
        403,
    )
    assert session.both("bad json", valid, b'{"model": ', b'{"model": ') == (400, 400)
    assert session.both(
        "wrong types", valid, chat_body(messages="hi"), message_body(max_tokens="many")
    ) == (400, 400)
    assert session.both(
        "unknown model",
        valid,
        chat_body(model="claude-nope-1"),
        message_body(model="claude-nope-1"),
    ) == (404, 404)
    assert session.both(
        "too many messages",
        valid,
        chat_body(messages=[{"role": "user", "content": "x"}] * 51),
        message_body(messages=[{"role": "user", "content": "x"}] * 51),
    ) == (400, 400)
    huge = chat_body("x" * (LIMIT + 1))
    assert session.both("too large", valid, huge, huge) == (413, 413)
    assert (
        session.anthropic(
            "count bad", valid, {"model": MODEL}, path="/v1/messages/count_tokens"
        )
        == 400
    )
    assert (
        session.anthropic("unknown path", valid, {}, path="/v1/messages/batches") == 404
    )


def _rate_limits(session: Session, keys: dict[str, str]) -> None:
    limited = keys["limited"]
    assert session.openai("within limit", limited, chat_body()) == 200
    assert session.openai("rate limited", limited, chat_body()) == 429
    assert session.anthropic("rate limited", limited, message_body()) == 429


UPSTREAM_FAULTS = [
    # (name, fault, expected OpenAI status, expected Anthropic status)
    ("upstream 400", {"kind": "status", "status": 400}, 400, 400),
    ("upstream 429", {"kind": "status", "status": 429, "retry_after": 1}, 429, 429),
    ("upstream 500", {"kind": "status", "status": 500}, 502, 502),
    ("upstream 529", {"kind": "status", "status": 529}, 503, 529),
    ("upstream drop", {"kind": "drop"}, 503, 529),
    ("upstream stall", {"kind": "stall", "seconds": 3}, 504, 504),
]


def _upstream_faults(session: Session, standin: StandIn, key: str) -> None:
    for name, fault, openai_status, anthropic_status in UPSTREAM_FAULTS:
        fault = {**fault, "path_prefix": "/v1/messages"}
        standin.faults(fault)
        assert session.openai(name, key, chat_body()) == openai_status, name
        standin.faults(fault)
        assert session.anthropic(name, key, message_body()) == anthropic_status, name


def _stream_faults(session: Session, standin: StandIn, key: str) -> None:
    faults = [
        ("mid-stream error", {"kind": "error_event", "after_deltas": 2}),
        ("mid-stream drop", {"kind": "drop", "after_deltas": 2}),
        ("mid-stream stall", {"kind": "stall", "after_deltas": 2, "seconds": 3}),
    ]
    for name, fault in faults:
        standin.faults({**fault, "path_prefix": "/v1/messages"})
        assert session.openai(name, key, chat_body(stream=True)) == 200
        standin.faults({**fault, "path_prefix": "/v1/messages"})
        assert session.anthropic(name, key, message_body(stream=True)) == 200
        assert "error" in session.transcript.parts[-1], name


def _count_faults(session: Session, standin: StandIn, key: str) -> None:
    count = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT_MARKER}]}
    path = "/v1/messages/count_tokens"
    for status in (400, 401, 500, 529):
        standin.faults({"kind": "status", "status": status, "path_prefix": path})
        session.anthropic(f"count upstream {status}", key, count, path=path)
    standin.faults({"kind": "drop", "path_prefix": path})
    session.anthropic("count drop", key, count, path=path)


def test_no_key_appears_in_any_response_or_log(gateways, upstreams):
    standin, _ = upstreams
    working, refused = gateways["working"], gateways["refused"]
    keys = _make_clients(working)
    transcript = Transcript()
    session = Session(working, transcript)

    _client_errors(session, keys)
    _rate_limits(session, keys)
    _upstream_faults(session, standin, keys["valid"])
    _stream_faults(session, standin, keys["valid"])
    _count_faults(session, standin, keys["valid"])
    refused_session = Session(refused, transcript)
    assert refused_session.both(
        "upstream 401", refused.key, chat_body(), message_body()
    ) == (502, 502)
    refused_session.anthropic(
        "count upstream 401",
        refused.key,
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        path="/v1/messages/count_tokens",
    )

    secrets_used = [
        *keys.values(),
        working.key,
        refused.key,
        WRONG_KEY,
        UPSTREAM_KEY,
        REFUSED_UPSTREAM_KEY,
    ]
    haystacks = {
        "responses": transcript.text(),
        "working log": working.log_text(),
        "refused log": refused.log_text(),
    }
    for where, text in haystacks.items():
        for secret in secrets_used:
            assert not _leaks(secret, text), f"a key appears in the {where}"


def test_logs_hold_no_prompt_or_completion(gateways, upstreams):
    working = gateways["working"]
    marker = f"{PROMPT_MARKER}-{secrets.token_hex(4)}"
    response = httpx.post(
        f"{working.url}/v1/chat/completions",
        headers={"Authorization": f"Bearer {working.key}"},
        json=chat_body(marker),
        timeout=30,
    )
    completion = response.json()["choices"][0]["message"]["content"]

    log = working.log_text()
    assert marker not in log
    assert completion and completion not in log


def _make_clients(gateway: LiveGateway) -> dict[str, str]:
    suffix = secrets.token_hex(3)
    keys = {
        "valid": gateway.create_client(f"secrets-valid-{suffix}"),
        "limited": gateway.create_client(f"secrets-limited-{suffix}", "--rpm", "1"),
        "disabled": gateway.create_client(f"secrets-disabled-{suffix}"),
    }
    gateway.manage(
        "shell",
        "-c",
        (
            "from gateway.models import ApiClient; "
            f"ApiClient.objects.filter(name='secrets-disabled-{suffix}').update(is_active=False)"
        ),
    )
    return keys


def _leaks(secret: str, text: str, window: int = 12) -> bool:
    """Whether ``text`` holds the secret or any ``window`` characters of it."""
    if len(secret) <= window:
        return secret in text
    return any(secret[i : i + window] in text for i in range(len(secret) - window + 1))
