"""A fresh clone, the README's first command, and curl against the result.

This is what a new user does: clone, run one command, call the gateway. The
clone holds only committed files, so a missing file or install step fails here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.live import ROOT, StandIn, free_port, wait_for_port

pytestmark = pytest.mark.live


def readme_commands() -> list[str]:
    """The commands of the README's first code block, without their comments."""
    text = (ROOT / "README.md").read_text()
    block = text.split("```", 2)[1].split("\n", 1)[1]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def curl(*args: str) -> str:
    result = subprocess.run(
        ["curl", "-sS", "--max-time", "30", *args], capture_output=True, text=True, check=True
    )
    return result.stdout


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    return target


def test_readme_opens_with_the_run_and_test_commands():
    commands = readme_commands()

    assert commands == ["./bin/run", "./bin/test"]


@pytest.mark.timeout(900)
def test_fresh_clone_runs_and_answers(clone: Path, standin: StandIn, upstreams):
    if shutil.which("curl") is None:
        pytest.fail("curl is needed for this test: apt-get install curl")
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "VIRTUAL_ENV"))},
        "PORT": str(port),
        "CLAUDE_API_KEY": "sk-ant-fresh-clone-demo",
        "ANTHROPIC_BASE_URL": standin.url,
        "PATH": os.environ["PATH"],
    }
    log = open(clone / "run.log", "wb")
    server = subprocess.Popen(
        readme_commands()[0], shell=True, cwd=clone, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_for_port(port, timeout=600, process=server)
        health = json.loads(curl(f"http://127.0.0.1:{port}/health"))
        key = _create_client(clone, env)
        completion = json.loads(curl(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            "-H", f"Authorization: Bearer {key}",
            "-H", "Content-Type: application/json",
            "-d", '{"model": "auto", "messages": [{"role": "user", "content": "hello"}]}',
        ))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    assert health["status"] == "ok"
    assert completion["choices"][0]["message"]["content"]
    assert completion["cost"]["total_cost"] > 0


def _create_client(clone: Path, env: dict[str, str]) -> str:
    result = subprocess.run(
        [str(clone / ".venv/bin/python"), "manage.py", "create_client", "fresh"],
        cwd=clone, env=env, capture_output=True, text=True, check=True,
    )
    return result.stdout.strip().splitlines()[-1]
