"""Per-request caps shared by both API surfaces.

``MAX_MESSAGES``, ``MAX_TOOLS`` and ``MAX_OUTPUT_TOKENS`` bound what one
request may ask for, whatever the client's rate limits say: a body of a
hundred thousand one-word messages passes the size limit yet costs the
validator, the token estimate and the upstream far more than any real
conversation. Each surface calls ``check_caps`` before it walks the body in
detail, so an oversized request is refused before it costs anything.

Values of the wrong type are left alone: the surface's own validation names
those with its precise message.
"""

from __future__ import annotations

from gateway.conf import config
from gateway.errors import InvalidRequest


def check_caps(
    *,
    messages: object,
    tools: object,
    max_tokens: object,
    max_tokens_param: str = "max_tokens",
) -> None:
    """Raise ``InvalidRequest`` naming the first cap the request goes over."""
    settings = config()
    _check_count(messages, settings.MAX_MESSAGES, "messages", "messages")
    _check_count(tools, settings.MAX_TOOLS, "tools", "tools")
    _check_max_tokens(max_tokens, settings.MAX_OUTPUT_TOKENS, max_tokens_param)


def _check_count(value: object, cap: int, param: str, noun: str) -> None:
    if isinstance(value, list) and len(value) > cap:
        raise InvalidRequest(
            f"{param}: this request has {len(value):,} {noun}; this gateway "
            f"accepts at most {cap:,} per request.",
            param=param,
            code=f"too_many_{noun}",
        )


def _check_max_tokens(value: object, cap: int, param: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > cap:
        raise InvalidRequest(
            f"{param}: {value:,} is more than this gateway allows; the most "
            f"is {cap:,} output tokens per request.",
            param=param,
            code="max_tokens_too_large",
        )
