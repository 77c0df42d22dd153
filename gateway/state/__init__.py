"""Shared state: limits, breakers, the response cache and counters.

Each concern has a small interface with two implementations, in-process
(``memory``) and Redis (``redis``), in its own module. ``StateStore`` bundles
one of each, chosen by ``REDIS_URL``. See ``backend.py`` for the clock and the
Redis connection they share.
"""
