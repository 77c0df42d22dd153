"""Deadlines that fail calls Redis did not answer, not calls a busy loop left unread.

The "reply" comes through a real socket pair: the test writes it into the
socket and then keeps the event loop busy past the deadline (a blocking sleep
inside a loop callback, standing in for a burst of requests), so the reply is
readable when the deadline's timer runs. The outcome depends on the order in
which the loop runs its callbacks, not on how long anything takes.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from gateway.state.deadline import call_within

DEADLINE = 0.05


async def reply_during_a_busy_loop(read) -> bytes:
    """Send a reply, keep the loop busy past the deadline, then read it."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=ours)

    def busy_after_replying() -> None:
        theirs.send(b"+OK\r\n")
        time.sleep(DEADLINE * 3)

    asyncio.get_running_loop().call_later(DEADLINE / 5, busy_after_replying)
    try:
        return await read(reader.readexactly(5))
    finally:
        writer.close()
        theirs.close()


async def test_a_reply_in_time_is_returned():
    assert await call_within(asyncio.sleep(0, result="ok"), DEADLINE) == "ok"


async def test_no_reply_by_the_deadline_is_a_timeout():
    with pytest.raises(TimeoutError):
        await call_within(asyncio.Event().wait(), DEADLINE)


async def test_a_reply_the_busy_loop_had_not_read_yet_is_not_a_timeout():
    reply = await reply_during_a_busy_loop(lambda read: call_within(read, DEADLINE))

    assert reply == b"+OK\r\n"


async def test_a_plain_asyncio_timeout_fails_that_same_call():
    async def with_plain_timeout(read):
        async with asyncio.timeout(DEADLINE):
            return await read

    with pytest.raises(TimeoutError):
        await reply_during_a_busy_loop(with_plain_timeout)
