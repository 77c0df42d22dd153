"""What Redis and PostgreSQL see per request, measured on the production command.

Starts a private PostgreSQL cluster, a ``redis-server`` and the stand-in
upstream, runs ``bin/serve`` (uvicorn, ``--workers``) on them, sends requests
that miss the response cache and then requests that hit it, and reads the
servers' own counters before and after each batch: Redis commands by name
(``INFO commandstats``), PostgreSQL transactions and inserted rows
(``pg_stat_database``), and the connections each holds.

    .venv/bin/python bench/state_traffic.py --requests 400 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.deploy.serving import start_serve  # noqa: E402 - after sys.path
from tests.live import (  # noqa: E402
    create_database,
    gateway_env,
    manage,
    start_postgres,
    start_redis,
    start_standin,
)


def redis_snapshot(client: redis.Redis) -> dict:
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): v["calls"] for name, v in stats.items()}
    cpu = client.info("cpu")
    return {
        "calls": calls,
        "clients": client.info("clients")["connected_clients"],
        "round_trips": client.info("stats")["total_commands_processed"],
        "cpu_seconds": cpu["used_cpu_user"] + cpu["used_cpu_sys"],
    }


def postgres_snapshot(url: str, database: str) -> dict:
    with psycopg.connect(url) as conn:
        commits, inserted = conn.execute(
            "SELECT xact_commit, tup_inserted FROM pg_stat_database WHERE datname = %s",
            [database],
        ).fetchone()
        backends = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]
        ).fetchone()[0]
    # This very query is a transaction and a backend too.
    return {"commits": commits - 1, "inserted": inserted, "backends": backends - 1}


async def send(url: str, key: str, prompts: list[str], concurrency: int) -> int:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(prompt: str) -> int:
            async with limit:
                reply = await client.post(
                    url + "/v1/chat/completions",
                    headers={"Authorization": f"Bearer {key}"},
                    json={
                        "model": "claude-haiku-4-5",
                        "max_tokens": 16,
                        "messages": [{"role": "user", "content": prompt}],
                    },
                )
                return reply.status_code

        statuses = await asyncio.gather(*(one(p) for p in prompts))
    served = sum(1 for status in statuses if status == 200)
    if served < len(prompts):
        raise RuntimeError(f"only {served} of {len(prompts)} answered: {set(statuses)}")
    return served


def per_request(before: dict, after: dict, served: int) -> dict:
    calls = {
        name: round((count - before["redis"]["calls"].get(name, 0)) / served, 2)
        for name, count in after["redis"]["calls"].items()
        if count != before["redis"]["calls"].get(name, 0)
    }
    commits = after["pg"]["commits"] - before["pg"]["commits"]
    inserted = after["pg"]["inserted"] - before["pg"]["inserted"]
    redis_before, redis_after = before["redis"], after["redis"]
    # INFO commands of the snapshots themselves are round trips too.
    trips = redis_after["round_trips"] - redis_before["round_trips"] - 5
    cpu = redis_after["cpu_seconds"] - redis_before["cpu_seconds"]
    return {
        "served": served,
        "redis_round_trips_per_request": round(trips / served, 2),
        "redis_cpu_us_per_request": round(cpu / served * 1e6, 1),
        "redis_commands_per_request": round(sum(calls.values()), 2),
        "redis_commands_by_name": calls,
        "postgres_transactions_per_request": round(commits / served, 3),
        "postgres_rows_inserted_per_request": round(inserted / served, 3),
        "redis_clients": after["redis"]["clients"],
        "postgres_backends": after["pg"]["backends"],
    }


def measure(args: argparse.Namespace, work: Path) -> None:
    postgres, redis_server = start_postgres(work), start_redis(work)
    standin = start_standin(work, "standin")
    database = create_database(postgres.database_url(), "traffic")
    env = gateway_env(
        work,
        anthropic_url=standin.url,
        ollama_url=standin.url,
        DATABASE_URL=database,
        REDIS_URL=f"redis://127.0.0.1:{redis_server.port}/0",
        WEB_CONCURRENCY=str(args.workers),
        LOG_LEVEL="WARNING",
    )
    manage("migrate", "-v0", env=env)
    key = (
        manage("create_client", "traffic", "--rpm", "0", "--tpm", "0", env=env)
        .strip()
        .splitlines()[-1]
    )
    server = start_serve(work, env)
    client = redis.Redis(port=redis_server.port)
    try:
        run = secrets.token_hex(3)
        asyncio.run(send(server.url, key, [f"warm {run} {i}" for i in range(50)], 8))
        for kind, prompts in (
            ("miss", [f"miss {run} {i}" for i in range(args.requests)]),
            ("hit", [f"hit {run}"] * args.requests),
        ):
            time.sleep(2)  # Let the record writer and counters settle.
            before = {
                "redis": redis_snapshot(client),
                "pg": postgres_snapshot(postgres.database_url(), "traffic"),
            }
            served = asyncio.run(send(server.url, key, prompts, args.concurrency))
            time.sleep(2)
            after = {
                "redis": redis_snapshot(client),
                "pg": postgres_snapshot(postgres.database_url(), "traffic"),
            }
            row = per_request(before, after, served)
            # Redis timeouts under load switch a worker to its own state for a
            # while, which lowers the Redis traffic measured: reported here.
            row["redis_fallbacks_so_far"] = server.log_text().count("Redis unavailable")
            print(
                json.dumps({"cache": kind, "workers": args.workers, **row}), flush=True
            )
    finally:
        server.stop()
        for process in (standin, redis_server, postgres):
            process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measure(args, Path(tmp))


if __name__ == "__main__":
    main()
