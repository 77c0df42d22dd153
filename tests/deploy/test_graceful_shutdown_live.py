"""SIGTERM to the production server while a stream is in flight.

The server runs as the Docker image runs it (``bin/serve``: uvicorn, two
workers), in front of a stand-in whose streams are paced, so that a stream is
still going when SIGTERM arrives (as ``docker stop`` sends it to the
container's main process). The stream must complete normally, the server must
exit cleanly, and the stream's request record must be in the database.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.deploy.serving import start_serve
from tests.live import StandIn, gateway_env, manage, start_standin

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def slow_standin(live_dir: Path) -> Iterator[StandIn]:
    # About 40 deltas (three words each), a tenth of a second apart: a
    # four-second stream.
    server = start_standin(
        live_dir, "standin-slow", "--chunk-delay-ms", "100", "--reply-tokens", "120"
    )
    yield server
    server.stop()


class StreamReader(threading.Thread):
    """Reads one stream to its end, noting when the first text arrived."""

    def __init__(self, client: openai.OpenAI, request_id: str) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.request_id = request_id
        self.first_text = threading.Event()
        self.texts: list[str] = []
        self.finish_reason: str | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            stream = self.client.chat.completions.create(
                model="claude-haiku-4-5",
                messages=[{"role": "user", "content": "Tell a long story."}],
                max_tokens=200,
                stream=True,
                extra_headers={"X-Request-ID": self.request_id},
            )
            for chunk in stream:
                for choice in chunk.choices:
                    if choice.delta.content:
                        self.texts.append(choice.delta.content)
                        self.first_text.set()
                    self.finish_reason = choice.finish_reason or self.finish_reason
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
            self.first_text.set()


def test_sigterm_lets_a_stream_finish_and_writes_its_record(
    live_dir: Path, slow_standin: StandIn
):
    folder = live_dir / "graceful"
    folder.mkdir(exist_ok=True)
    env = gateway_env(
        folder,
        anthropic_url=slow_standin.url,
        ollama_url=slow_standin.url,
        WEB_CONCURRENCY="2",
        GRACEFUL_TIMEOUT="30",
    )
    manage("migrate", "-v0", env=env)
    key = manage("create_client", "graceful", env=env).strip().splitlines()[-1]
    server = start_serve(folder, env)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=key, max_retries=0)

    reader = StreamReader(client, "graceful-stream-1")
    reader.start()
    assert reader.first_text.wait(timeout=30), "the stream never started"
    assert reader.error is None, reader.error
    terminated_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)

    reader.join(timeout=40)
    exit_code = server.process.wait(timeout=40)

    assert reader.error is None, reader.error
    assert reader.finish_reason in ("stop", "length")
    assert len(reader.texts) >= 20
    assert time.monotonic() - terminated_at > 1.0, "the stream was not in flight"
    assert exit_code == 0, server.log_text()[-3000:]
    assert record_statuses(Path(env["SQLITE_PATH"]), "graceful-stream-1") == [200]


def record_statuses(database: Path, request_id: str) -> list[int]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT status FROM monitoring_requestrecord WHERE request_id = ?",
            (request_id,),
        ).fetchall()
    return [row[0] for row in rows]
