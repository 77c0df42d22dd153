"""``/metrics``, ``/metrics/prometheus``, ``/dashboard`` and the records admin."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client, override_settings

from gateway.models import ApiClient
from gateway.runtime import get_gateway, reset_gateway
from gateway.services.pricing import Usage
from monitoring.monitor import Monitor, monitor_for
from monitoring.records import build_record, record_fields
from tests.monitoring.factories import client_profile, settled_exchange

pytestmark = pytest.mark.django_db

PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3"
)


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    reset_gateway()
    monitor = monitor_for(get_gateway())
    yield monitor
    monitor.stop()
    reset_gateway()


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("ops", password="pw", is_staff=True))
    return client


def with_metrics_token(token: str):
    return override_settings(TOKENSGATE={**settings.TOKENSGATE, "METRICS_TOKEN": token})


def test_metrics_json_has_the_documented_fields(
    client: Client, monitor: Monitor
) -> None:
    monitor(settled_exchange(usage=Usage(input_tokens=10, output_tokens=4)))

    response = client.get("/metrics")

    assert response["Content-Type"] == "application/json"
    body = response.json()
    for field in (
        "total_requests",
        "total_errors",
        "total_input_tokens",
        "total_output_tokens",
        "total_cached_tokens",
        "total_cost",
        "total_cost_avoided",
        "average_response_time_ms",
        "latency_percentiles_ms",
        "cache",
        "optimization",
        "rate_limited",
        "circuit_breakers",
    ):
        assert field in body
    assert body["total_requests"] == 1
    assert set(body["cache"]) == {"hits", "misses", "hit_rate", "enabled"}
    assert set(body["circuit_breakers"]["anthropic"]) == {
        "state",
        "failures_in_window",
        "cooldown_remaining_s",
        "total_trips",
    }


def test_metrics_speak_prometheus_to_a_scraper(
    client: Client, monitor: Monitor
) -> None:
    response = client.get("/metrics", HTTP_ACCEPT=PROMETHEUS_ACCEPT)

    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE tokensgate_requests_total counter" in response.content


def test_prometheus_path_needs_no_accept_header(
    client: Client, monitor: Monitor
) -> None:
    response = client.get("/metrics/prometheus")

    assert response.status_code == 200
    assert b"tokensgate_request_duration_seconds_bucket" in response.content


def test_metrics_token_is_required_when_set(client: Client, monitor: Monitor) -> None:
    with with_metrics_token("scrape-token-123"):
        refused = client.get("/metrics")
        wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
        allowed = client.get(
            "/metrics/prometheus", HTTP_AUTHORIZATION="Bearer scrape-token-123"
        )

    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert allowed.status_code == 200


def test_staff_session_reads_metrics_without_the_token(
    staff_client: Client, monitor: Monitor
) -> None:
    with with_metrics_token("scrape-token-123"):
        assert staff_client.get("/metrics").status_code == 200


def test_dashboard_sends_anonymous_users_to_the_admin_login(client: Client) -> None:
    response = client.get("/dashboard")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/dashboard")


def test_dashboard_refuses_non_staff_users(client: Client) -> None:
    client.force_login(User.objects.create_user("someone", password="pw"))

    assert client.get("/dashboard").status_code == 302


def test_dashboard_loads_nothing_from_elsewhere(staff_client: Client) -> None:
    response = staff_client.get("/dashboard")

    html = response.content.decode()
    assert response.status_code == 200
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", html)
    assert "@import" not in html and "url(" not in html
    assert 'id="recent-body"' in html and '"/ws/dashboard/"' in html


def test_records_admin_shows_spend_per_client_model_and_day(
    staff_client: Client,
) -> None:
    api_client = ApiClient.objects.create(
        name="billing-app", key_prefix="tg_x", key_hash="h"
    )
    exchange = settled_exchange(
        client=client_profile(api_client.pk, api_client.name),
        usage=Usage(input_tokens=1_000_000),
    )
    build_record(record_fields(exchange, latency_ms=50)).save()
    staff_client.force_login(User.objects.create_superuser("root", password="pw"))

    response = staff_client.get("/admin/monitoring/requestrecord/")

    html = response.content.decode()
    assert response.status_code == 200
    for title in ("Spend per client", "Spend per model", "Spend per day"):
        assert title in html
    assert "billing-app" in html and "1.0000" in html
