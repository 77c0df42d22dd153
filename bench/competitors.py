"""Competitor gateways for the load benchmark: LiteLLM and Portkey, installed once.

The load benchmark sends the same OpenAI-format load through TokensGate and through
the two gateways its speed goals are measured against, each pointed at the
stand-in upstream. This module installs them at the pinned releases and starts one
process of each, pinned to a core, returning a ``Target`` that says where to send
requests and with which headers:

    target = start_litellm(workdir, standin.url, core=1)
    ...  # load against target.url + "/v1/chat/completions" with target.headers
    target.stop()

Installs go to ``~/.cache/tokensgate-bench`` (``$XDG_CACHE_HOME`` is honoured) or
to the folder the caller passes, one sub-folder per release, never into the
project's venv. A finished install leaves a marker with what was installed, so later
runs skip it; an interrupted one is redone from scratch. To check that both work:

    .venv/bin/python bench/competitors.py --check [--competitors-dir DIR]

LiteLLM (PyPI ``litellm[proxy]==1.82.6``, in its own venv) runs with the settings
of LiteLLM's "Best practices for production" guide
(https://docs.litellm.ai/docs/proxy/prod) where they apply to one process without
a database:

- One uvicorn worker (``--num_workers 1``) on one core. The guide sizes workers to
  the CPUs available, and the benchmark gives every gateway one core.
- ``LITELLM_MODE=PRODUCTION``, which stops the proxy loading a ``.env`` file from
  its working directory.
- ``LITELLM_LOG=ERROR`` and ``json_logs: true``, the guide's production logging:
  errors only, and uvicorn's access log follows that level, so no line per request.
- ``request_timeout: 600`` and ``set_verbose: false`` from the guide's sample
  config; a master key starting with ``sk-``, which clients send as a Bearer token,
  so every request goes through the proxy's key check as it does in production.
- No database and no Redis: the process gets an environment built from scratch, so
  no ``DATABASE_URL`` or ``REDIS_*`` of the caller's reaches it. The guide's
  database settings (spend-log batching, pool size, ``disable_spend_logs``) have
  nothing to apply to, and the comparison pays for no per-request spend writes.
- ``LITELLM_LOCAL_MODEL_COST_MAP`` and ``LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS`` set,
  and ``--telemetry False``: the bundled copies are used instead of downloads from
  GitHub at start, which would reach the internet and stall where it is offline.
- uvicorn with uvloop, as LiteLLM's CLI picks on Linux. httptools is not among
  LiteLLM's dependencies (nor in its Docker image), so uvicorn parses HTTP with h11.

Portkey (npm ``@portkey-ai/gateway@1.15.2`` with ``@hono/node-server@1.13.5`` and
``hono@4.9.7`` pinned through ``overrides``, without which streaming breaks) runs as
``node build/start-server.js --port=P --headless`` with ``NODE_ENV=production``:
no web UI and no log-stream route. It takes the provider from the request:

- ``x-portkey-provider: anthropic``.
- ``x-portkey-custom-host`` replaces Anthropic's base URL, which ends in ``/v1``
  (the provider appends ``/messages``), so it is the stand-in's URL plus ``/v1``.
  Loopback hosts are trusted by default (``TRUSTED_CUSTOM_HOSTS``).
- ``Authorization: Bearer <key>``, passed on upstream as ``x-api-key``.

npm runs with ``--ignore-scripts``: the package's only install script is
``patch-package``, and the package ships no patches for it to apply.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.servers import pinned  # noqa: E402
from tests.live import (  # noqa: E402 - the bench reuses the tests' process helpers
    PYTHON,
    free_port,
    start_standin,
    wait_for_port,
)

logger = logging.getLogger(__name__)

MODEL = "claude-haiku-4-5-20251001"
LITELLM_VERSION = "1.82.6"
LITELLM_SPEC = f"litellm[proxy]=={LITELLM_VERSION}"
PORTKEY_VERSION = "1.15.2"
PORTKEY_OVERRIDES = {"@hono/node-server": "1.13.5", "hono": "4.9.7"}
PORTKEY_SCRIPT = Path("node_modules/@portkey-ai/gateway/build/start-server.js")

# Both keys only ever travel over loopback to the stand-in, which accepts any key.
MASTER_KEY = "sk-tokensgate-bench-master"
UPSTREAM_KEY = "sk-ant-standin-bench"

# LiteLLM's proxy takes about 8 s to import and start on an idle core; a shared,
# busy core can take several times as long.
LITELLM_START_TIMEOUT = 120.0
PORTKEY_START_TIMEOUT = 30.0


@dataclass
class Target:
    """A competitor gateway process, and how to send it OpenAI-format requests."""

    name: str
    url: str
    headers: dict[str, str]
    model: str
    process: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        """The gateway's own process: ``taskset`` execs it, so it keeps this pid."""
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is not None:
            return

        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def log_text(self) -> str:
        return (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )


def default_install_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tokensgate-bench"


# Two runs installing into the same folder at once would clash. Benchmarks run one
# at a time on a machine, so there is no lock.
def _installed(folder: Path, spec: str) -> bool:
    marker = folder / ".installed"
    return marker.exists() and marker.read_text() == spec


def _run_install(command: list[str], cwd: Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-4000:]
        raise RuntimeError(f"{' '.join(command)} failed:\n{output}")


def install_litellm(install_dir: Path) -> Path:
    """The ``litellm`` command of a venv holding the pinned release; installs once."""
    venv = install_dir / f"litellm-{LITELLM_VERSION}"
    command = venv / "bin" / "litellm"
    if _installed(venv, LITELLM_SPEC):
        return command

    logger.info("installing %s into %s", LITELLM_SPEC, venv)
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    _run_install([PYTHON, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    _run_install([*pip, LITELLM_SPEC])

    (venv / ".installed").write_text(LITELLM_SPEC)
    logger.info("installed LiteLLM in %.0f s", time.monotonic() - started)
    return command


def portkey_package() -> dict:
    return {
        "name": "tokensgate-bench-portkey",
        "private": True,
        "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION},
        "overrides": PORTKEY_OVERRIDES,
    }


def install_portkey(install_dir: Path) -> Path:
    """Portkey's start script in a folder holding the pinned release; installs once."""
    folder = install_dir / f"portkey-{PORTKEY_VERSION}"
    spec = json.dumps(portkey_package(), indent=2)
    if _installed(folder, spec):
        return folder / PORTKEY_SCRIPT

    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: install the Debian package npm")

    logger.info("installing @portkey-ai/gateway@%s into %s", PORTKEY_VERSION, folder)
    started = time.monotonic()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(spec)
    _run_install(
        [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev"],
        cwd=folder,
    )

    (folder / ".installed").write_text(spec)
    logger.info("installed Portkey in %.0f s", time.monotonic() - started)
    return folder / PORTKEY_SCRIPT


def clean_env(**extra: str) -> dict[str, str]:
    """A minimal environment, so none of the caller's service settings leak in."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(extra)
    return env


def launch(
    name: str,
    command: list[str],
    *,
    port: int,
    env: dict[str, str],
    workdir: Path,
    headers: dict[str, str],
    timeout: float,
) -> Target:
    log_path = workdir / f"{name}.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    target = Target(name, f"http://127.0.0.1:{port}", headers, MODEL, process, log_path)

    # Both servers open their port only once they can serve: uvicorn after the
    # app's startup hooks, Portkey as soon as its routes are registered.
    try:
        wait_for_port(port, timeout=timeout, process=process)
    except RuntimeError as exc:
        target.stop()
        raise RuntimeError(f"{name}: {exc}\n{target.log_text()[-4000:]}") from None
    return target


def litellm_config(standin_url: str) -> dict:
    return {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"anthropic/{MODEL}",
                    "api_base": standin_url,
                    "api_key": UPSTREAM_KEY,
                },
            }
        ],
        "litellm_settings": {
            "request_timeout": 600,
            "set_verbose": False,
            "json_logs": True,
        },
        "general_settings": {"master_key": MASTER_KEY},
    }


def start_litellm(
    workdir: Path,
    standin_url: str,
    core: int | None,
    *,
    install_dir: Path | None = None,
) -> Target:
    litellm = install_litellm(install_dir or default_install_dir())

    # YAML is a superset of JSON, so the config needs no YAML library here.
    config = workdir / "litellm.yaml"
    config.write_text(json.dumps(litellm_config(standin_url), indent=2))
    port = free_port()
    command = [
        str(litellm),
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
        "--telemetry",
        "False",
    ]
    env = clean_env(
        LITELLM_MODE="PRODUCTION",
        LITELLM_LOG="ERROR",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS="True",
    )
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {MASTER_KEY}",
    }

    return launch(
        "litellm",
        pinned(command, core),
        port=port,
        env=env,
        workdir=workdir,
        headers=headers,
        timeout=LITELLM_START_TIMEOUT,
    )


def start_portkey(
    workdir: Path,
    standin_url: str,
    core: int | None,
    *,
    install_dir: Path | None = None,
) -> Target:
    script = install_portkey(install_dir or default_install_dir())

    port = free_port()
    command = ["node", str(script), f"--port={port}", "--headless"]
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {UPSTREAM_KEY}",
        "x-portkey-provider": "anthropic",
        "x-portkey-custom-host": f"{standin_url}/v1",
    }

    return launch(
        "portkey",
        pinned(command, core),
        port=port,
        env=clean_env(NODE_ENV="production"),
        workdir=workdir,
        headers=headers,
        timeout=PORTKEY_START_TIMEOUT,
    )


COMPETITORS: dict[str, Callable[..., Target]] = {
    "litellm": start_litellm,
    "portkey": start_portkey,
}


def chat_body(*, stream: bool) -> dict:
    return {
        "model": MODEL,
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": "Say hello in one sentence."}],
    }


def check_plain(target: Target) -> str:
    """One non-streaming completion; a line describing it, or RuntimeError."""
    response = httpx.post(
        target.url + "/v1/chat/completions",
        json=chat_body(stream=False),
        headers=target.headers,
        timeout=30,
    )
    if response.status_code != 200:
        raise RuntimeError(f"{target.name}: {response.status_code} {response.text}")

    message = response.json()["choices"][0]["message"]
    return (
        f"{target.name} plain: status {response.status_code}, "
        f"{response.headers['content-type']}, {len(message['content'])} characters, "
        f"first bytes {response.content[:80]!r}"
    )


def read_stream(target: Target) -> tuple[httpx.Response, list[str], float, float]:
    """The SSE ``data:`` lines of one streaming completion, with the times the
    first text chunk and the end arrived, in seconds from the request."""
    started = time.monotonic()
    first_text = None
    events = []
    with httpx.stream(
        "POST",
        target.url + "/v1/chat/completions",
        json=chat_body(stream=True),
        headers=target.headers,
        timeout=30,
    ) as response:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            events.append(line)
            if first_text is None and '"content":"' in line:
                first_text = time.monotonic() - started
    return response, events, first_text or 0.0, time.monotonic() - started


def check_stream(target: Target) -> str:
    """One streaming completion; a line describing its SSE events, or RuntimeError.

    The stand-in waits between deltas, so a gateway that relays chunks as they
    come delivers the first text long before the end; one that buffers does not.
    """
    response, events, first_text, total = read_stream(target)
    if response.status_code != 200:
        raise RuntimeError(f"{target.name}: status {response.status_code}")

    text_events = [event for event in events if '"content":"' in event]
    if len(text_events) < 2 or first_text > total / 2:
        raise RuntimeError(f"{target.name}: not a stream of text chunks: {events}")
    return (
        f"{target.name} stream: status {response.status_code}, "
        f"{response.headers['content-type']}, {len(events)} data events "
        f"({len(text_events)} with text), first text at {first_text * 1000:.0f} ms "
        f"of {total * 1000:.0f} ms, last {events[-1][:40]!r}, "
        f"first bytes {events[0][:70]!r}"
    )


def check(install_dir: Path) -> None:
    """Start each against a stand-in and send one request of each kind through it."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        standin = start_standin(
            workdir, "standin", "--reply-tokens", "64", "--chunk-delay-ms", "20"
        )
        try:
            for name, start in COMPETITORS.items():
                started = time.monotonic()
                target = start(workdir, standin.url, 1, install_dir=install_dir)
                cores = sorted(os.sched_getaffinity(target.pid))
                print(
                    f"{name}: pid {target.pid} on cores {cores}, "
                    f"up in {time.monotonic() - started:.1f} s"
                )
                try:
                    print(check_plain(target))
                    print(check_stream(target))
                finally:
                    target.stop()
        finally:
            standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--competitors-dir", type=Path, default=default_install_dir())
    parser.add_argument(
        "--check",
        action="store_true",
        help="after installing, send one plain and one streaming request through each",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    install_litellm(args.competitors_dir)
    install_portkey(args.competitors_dir)
    if args.check:
        check(args.competitors_dir)


if __name__ == "__main__":
    main()
