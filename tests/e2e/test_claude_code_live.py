"""Claude Code itself, pointed at the gateway with ``ANTHROPIC_BASE_URL``.

Claude Code ships as a native binary in the npm package
``@anthropic-ai/claude-code`` (about 250 MB), which the test suite does not
install. The test runs where ``CLAUDE_CODE_BIN`` names that binary or
``claude`` is on the PATH, and is skipped elsewhere; docs/anthropic-surface.md
says how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.live import LiveGateway

pytestmark = pytest.mark.live

CLAUDE = os.environ.get("CLAUDE_CODE_BIN") or shutil.which("claude")


@pytest.mark.skipif(CLAUDE is None, reason="Claude Code is not installed")
@pytest.mark.parametrize("key_variable", ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"])
def test_claude_code_works_through_the_gateway(
    live_gateway: LiveGateway, upstreams, tmp_path: Path, key_variable: str
):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ANTHROPIC_BASE_URL": live_gateway.url,
        key_variable: live_gateway.key,
        # Telemetry, update checks and error reports are off: the tests reach
        # nothing beyond loopback, and the run must not wait on them.
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }

    run = subprocess.run(
        [
            CLAUDE,
            "-p",
            "Say hello.",
            "--model",
            "claude-haiku-4-5",
            "--output-format",
            "json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["subtype"] == "success" and not result["is_error"]
    assert "Stand-in" in result["result"]
    sent = upstreams[0].stats()["recent_requests"]
    assert sent
    for request in sent:
        assert request["query"] == "beta=true"
        assert "claude-code-20250219" in request["headers"]["anthropic-beta"]
        assert live_gateway.key not in " ".join(request["headers"].values())
