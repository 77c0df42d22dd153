"""Structured logging: a request id on every line, JSON output.

The request id lives in a context variable set by ``RequestContextMiddleware``,
so every log call made while serving a request carries it without being passed
around. Log calls must never include keys, prompts or completions; the
formatter only emits the message and the ``extra`` fields a caller gave.
"""

from __future__ import annotations

import contextvars
import logging
import time

import orjson

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "request_id", default="-"
)
client_id_var: contextvars.ContextVar[str] = contextvars.ContextVar(
    "client_id", default="-"
)

_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "request_id", "client_id"}


class RequestContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.client_id = client_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "client_id": getattr(record, "client_id", "-"),
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)

        return orjson.dumps(entry, default=str).decode()
