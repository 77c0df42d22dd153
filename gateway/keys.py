"""Gateway keys: generation and hashing.

A key looks like ``tg_`` followed by 43 URL-safe characters (256 random bits).
The prefix makes leaked keys easy to recognise in code scanners and logs.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "tg_"
DISPLAY_PREFIX_LENGTH = 10


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]
