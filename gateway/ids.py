"""Identifiers for requests, completions and reservations.

They must be unique, not secret: nothing is authorised by knowing one. The
``secrets`` module reads the kernel's random source on every call, which
showed as several per cent of a cached answer's CPU in profiles; the
process's Mersenne Twister (seeded from that source at start and again after
a fork) is enough for 96 random bits.
"""

from __future__ import annotations

import random


def random_hex(nbytes: int) -> str:
    """``nbytes`` random bytes as lowercase hex, like ``secrets.token_hex``."""
    return f"{random.getrandbits(nbytes * 8):0{nbytes * 2}x}"
