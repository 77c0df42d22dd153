"""The dashboard in a real headless Chromium, against a live gateway.

Debian's ``chromium`` is driven through Playwright's Python package with the
system browser (no browser download). The test logs in through the admin
login page as a staff user made with ``createsuperuser``, opens the
dashboard, sends a request through the gateway with the OpenAI SDK and
watches it appear in the recent-requests table, then makes the Anthropic
breaker trip (``CB_FAILURE_THRESHOLD=1``) and watches it turn open. The
screenshot is kept under ``test-artifacts/dashboard/`` for CI to upload.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.live import ROOT, LiveGateway, StandIn, gateway_env, manage, start_gateway

pytestmark = [pytest.mark.live, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
STAFF_USER, STAFF_PASSWORD = "operator", "a-long-test-password-81"


@pytest.fixture(scope="module")
def gateway(
    live_dir: Path, standin: StandIn, ollama_standin: StandIn
) -> Iterator[LiveGateway]:
    env = gateway_env(
        live_dir / "browser",
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        CB_FAILURE_THRESHOLD="1",
        CB_COOLDOWN_SECONDS="60",
        MAX_RETRIES="0",
    )
    server = start_gateway(live_dir / "browser", env, name="browser")
    manage(
        "createsuperuser",
        "--noinput",
        "--username",
        STAFF_USER,
        "--email",
        "ops@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
    )
    yield server
    server.stop()


@pytest.fixture
def page():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        yield page
        browser.close()


def log_in_to_dashboard(page, gateway: LiveGateway) -> None:
    page.goto(gateway.url + "/dashboard")
    assert "/admin/login/" in page.url
    page.fill("#id_username", STAFF_USER)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(gateway.url + "/dashboard")
    page.wait_for_selector("#conn[data-state=live]", timeout=10_000)


def test_dashboard_shows_requests_and_breakers_live(
    page, gateway: LiveGateway, upstreams: tuple[StandIn, StandIn]
) -> None:
    standin = upstreams[0]
    client = openai.OpenAI(
        base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0
    )
    log_in_to_dashboard(page, gateway)
    assert page.get_attribute("#breaker-anthropic", "data-state") == "closed"

    client.chat.completions.create(
        model="claude-haiku-4-5",
        max_tokens=30,
        messages=[{"role": "user", "content": "Say hello to the dashboard."}],
        extra_headers={"X-Request-ID": "browser-req-1"},
    )
    row = page.wait_for_selector(
        '#recent-body tr[data-request-id="browser-req-1"]', timeout=5_000
    )
    assert "claude-haiku-4-5" in row.inner_text()
    assert "Say hello" not in page.content()

    standin.faults({"kind": "status", "status": 529, "count": 5})
    client.chat.completions.with_raw_response.create(
        model="claude-haiku-4-5",
        max_tokens=30,
        messages=[{"role": "user", "content": "This trips the breaker."}],
    )
    tripped_at = time.monotonic()
    page.wait_for_selector("#breaker-anthropic[data-state=open]", timeout=2_000)
    seen_after = time.monotonic() - tripped_at
    assert seen_after < 2.0

    # The tripping request, answered by the fallback, joins the table too.
    page.wait_for_function(
        "document.querySelectorAll('#recent-body tr').length >= 2", timeout=5_000
    )
    # ...and the metrics panels follow within their one-second refresh.
    page.wait_for_function(
        "document.querySelector('[data-metric=total_requests]').textContent === '2'",
        timeout=5_000,
    )
    save_screenshot(page, "dashboard-breaker-open.png")


@pytest.fixture(scope="module")
def replicas(live_dir: Path, standin: StandIn, ollama_standin: StandIn, redis_server):
    """Two gateway processes sharing one database and one Redis."""
    shared = live_dir / "replicas"
    env = gateway_env(
        shared,
        anthropic_url=standin.url,
        ollama_url=ollama_standin.url,
        REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/3",
    )
    first = start_gateway(shared, env, name="replica-a")
    second = start_gateway(shared, env, name="replica-b", migrate=False)
    manage(
        "createsuperuser",
        "--noinput",
        "--username",
        STAFF_USER,
        "--email",
        "ops@example.com",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": STAFF_PASSWORD},
    )
    yield first, second
    first.stop()
    second.stop()


def test_a_request_on_one_replica_reaches_a_dashboard_on_another(
    page, replicas: tuple[LiveGateway, LiveGateway], upstreams
) -> None:
    served_by, watched_on = replicas
    log_in_to_dashboard(page, watched_on)

    client = openai.OpenAI(
        base_url=served_by.url + "/v1", api_key=served_by.key, max_retries=0
    )
    client.chat.completions.create(
        model="claude-haiku-4-5",
        max_tokens=30,
        messages=[{"role": "user", "content": "Hello from the other replica."}],
        extra_headers={"X-Request-ID": "replica-req-1"},
    )

    page.wait_for_selector(
        '#recent-body tr[data-request-id="replica-req-1"]', timeout=5_000
    )
    save_screenshot(page, "dashboard-other-replica.png")
    metrics = httpx.get(watched_on.url + "/metrics", timeout=10).json()
    assert metrics["counters_scope"] == "cluster"
    assert metrics["total_requests"] >= 1


def save_screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0


def test_dashboard_without_login_shows_nothing(page, gateway: LiveGateway) -> None:
    page.goto(gateway.url + "/dashboard")

    assert "/admin/login/" in page.url
    assert page.query_selector("#recent-body") is None


@pytest.fixture(scope="session", autouse=True)
def _fresh_artifacts() -> None:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
