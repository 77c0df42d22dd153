"""Persisting request records in batches, off the request path.

Settlement only appends a record to an in-memory buffer. A background task,
started on first use in the running event loop, writes the buffer with one
``bulk_create`` every ``interval`` seconds, or sooner once ``batch_size``
records wait, and passes on the clients' last-use times in the same step.

Nothing answered may be missing after a clean shutdown. Servers that speak
the ASGI lifespan protocol flush through ``monitoring.lifespan``. Daphne does
not, so ``flush_at_exit`` is also registered with ``atexit``: on SIGTERM and
SIGINT Daphne (Twisted) exits normally, which runs ``atexit`` handlers after
the server loop has stopped, so nothing can be settled after the final flush.
Worker threads are joined before ``atexit`` runs, so a batch a worker was
writing is finished by then; batches leave the buffer only once written, so
none is lost or written twice. A SIGKILL loses at most the last interval.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
)

from gateway.services.clients import clients_touch
from monitoring.models import RequestRecord
from monitoring.records import build_record
from monitoring.services import records_create

logger = logging.getLogger(__name__)

# Beyond this many unwritten records (the database has been down a while) the
# oldest are dropped, so memory stays bounded; the drop is logged.
BUFFER_LIMIT = 50_000

LastUsedSource = Callable[[], dict[int, float]]


class RecordWriter:
    def __init__(
        self,
        *,
        take_last_used: LastUsedSource | None = None,
        interval: float = 1.0,
        batch_size: int = 500,
        create: Callable[[list[RequestRecord]], None] | None = None,
    ) -> None:
        self.take_last_used = take_last_used or dict
        self.create = create or (lambda batch: records_create(records=batch))
        self.interval = interval
        self.batch_size = batch_size
        self._buffer: list[dict] = []
        self._lock = threading.Lock()
        self._task: asyncio.Task | None = None
        self._wakeup: asyncio.Event | None = None
        # One thread for every write keeps one database connection, and leaves
        # the request path's threads alone.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="record-writer")

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def add(self, record: dict) -> None:
        """Queue a record's fields (``records.record_fields``); never blocks."""
        with self._lock:
            self._buffer.append(record)
            overflow = len(self._buffer) - BUFFER_LIMIT
            if overflow > 0:
                del self._buffer[:overflow]
        if overflow > 0:
            logger.warning("request record buffer full; oldest records dropped")
        self._ensure_running()
        if len(self._buffer) >= self.batch_size and self._wakeup is not None:
            self._wakeup.set()

    async def flush(self) -> int:
        """Write everything buffered now; return how many records were written."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.flush_now)

    def flush_now(self) -> int:
        """Write the buffer and last-use times synchronously (worker or exit)."""
        close_old_connections()
        written = self._write_records()
        self._write_last_used()
        return written

    def flush_at_exit(self) -> None:
        if self._buffer:
            written = self.flush_now()
            logger.info("request records flushed at exit", extra={"records": written})
        else:
            self._write_last_used()

    def _write_records(self) -> int:
        written = 0
        while True:
            with self._lock:
                batch = self._buffer[: self.batch_size]
            if not batch:
                return written
            try:
                self.create([build_record(fields) for fields in batch])
            except (OperationalError, InterfaceError):
                # Kept for the next attempt: the database may be restarting.
                logger.exception("writing request records failed; will retry")
                return written
            except (DatabaseError, ValueError, TypeError):
                # Something in the batch itself is refused: write what can be
                # written, so one bad record cannot hold back all later ones.
                self._write_one_by_one(batch)
            with self._lock:
                self._remove_written(batch)
            written += len(batch)

    def _write_one_by_one(self, batch: list[dict]) -> None:
        for fields in batch:
            try:
                self.create([build_record(fields)])
            except Exception:
                logger.exception(
                    "request record dropped", extra={"request_id": fields["request_id"]}
                )

    def _remove_written(self, batch: list[dict]) -> None:
        head = self._buffer[: len(batch)]
        if len(head) == len(batch) and head[0] is batch[0] and head[-1] is batch[-1]:
            del self._buffer[: len(batch)]
            return
        # Overflow dropped the buffer's head meanwhile: find them by identity.
        done = {id(record) for record in batch}
        self._buffer[:] = [r for r in self._buffer if id(r) not in done]

    def _write_last_used(self) -> None:
        last_used = self.take_last_used()
        if not last_used:
            return
        try:
            clients_touch.func(last_used=last_used)
        except Exception:
            logger.exception("updating clients' last use failed")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _ensure_running(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self._task
        if task is not None and not task.done() and task.get_loop() is loop:
            return
        self._wakeup = asyncio.Event()
        # A fresh context: the task outlives the request that started it, and
        # must not carry that request's log context or thread-sensitive state.
        self._task = loop.create_task(self._run(), context=contextvars.Context())

    async def _run(self) -> None:
        wakeup = self._wakeup
        while True:
            try:
                await asyncio.wait_for(wakeup.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            wakeup.clear()
            started = time.monotonic()
            written = await self.flush()
            if written:
                logger.debug(
                    "request records written",
                    extra={
                        "records": written,
                        "ms": (time.monotonic() - started) * 1000,
                    },
                )
