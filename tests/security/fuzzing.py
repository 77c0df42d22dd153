"""Hypothesis strategies for hostile and broken requests to the API surfaces.

Bodies come from ``fuzz_bodies``; a share of them is then mutated at the byte
level: truncated, spliced with garbage, nested past any parser's patience, or
replaced by something that is not JSON. Headers vary the key, the content
type and every header the gateway reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.security.fuzz_values import json_scalars, json_values

_header_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40
)


@dataclass
class FuzzRequest:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str] = field(default_factory=dict)
    key: str = "valid"
    key_style: str = "bearer"


def _truncate(draw: st.DrawFn, raw: bytes) -> bytes:
    return raw[: draw(st.integers(min_value=0, max_value=max(len(raw) - 1, 0)))]


def _splice(draw: st.DrawFn, raw: bytes) -> bytes:
    at = draw(st.integers(min_value=0, max_value=len(raw)))
    return raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]


def _not_json(draw: st.DrawFn, raw: bytes) -> bytes:
    return draw(st.sampled_from(NOT_JSON))


def _deep(draw: st.DrawFn, raw: bytes) -> bytes:
    depth = draw(st.sampled_from([200, 1100, 5000]))
    return b'{"messages": ' + b"[" * depth + b"]" * depth + b"}"


def _not_object(draw: st.DrawFn, raw: bytes) -> bytes:
    return json.dumps(draw(json_scalars)).encode()


def _bad_utf8(draw: st.DrawFn, raw: bytes) -> bytes:
    # A lone UTF-8 lead byte inside the first string.
    return raw.replace(b'"', b'"\xc3', 1)


NOT_JSON = [b"NaN", b"{'a': 1}", b"<xml/>", b"\xff\xfe{}", b'{"a": NaN}', b"1e999999"]
MUTATIONS = {
    "truncate": _truncate,
    "splice": _splice,
    "not_json": _not_json,
    "empty": lambda draw, raw: b"",
    "deep": _deep,
    "not_object": _not_object,
    "bad_utf8": _bad_utf8,
}


@st.composite
def encoded(draw: st.DrawFn, bodies: st.SearchStrategy) -> bytes:
    """A body serialised as JSON, and in about a third of cases broken on purpose."""
    raw = json.dumps(draw(bodies)).encode("utf-8", "surrogatepass")
    mutation = draw(st.sampled_from([None] * 12 + list(MUTATIONS)))
    if mutation is None:
        return raw

    return MUTATIONS[mutation](draw, raw)


KEYS = st.sampled_from(
    ["valid", "valid", "valid", "valid", "none", "wrong", "disabled", "mangled"]
)
KEY_STYLES = st.sampled_from(["bearer", "x-api-key", "both", "lowercase-bearer"])


@st.composite
def request_headers(draw: st.DrawFn, surface: str) -> dict[str, str]:
    """Headers as a sloppy or hostile client might send them, but the key."""
    headers = {}
    if draw(st.integers(0, 9)):
        headers["Content-Type"] = draw(
            st.sampled_from(
                [
                    "application/json",
                    "application/json; charset=utf-8",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                ]
            )
        )
    if surface == "anthropic" or draw(st.booleans()):
        headers["anthropic-version"] = draw(
            st.one_of(st.sampled_from(["2023-06-01", "2026-10-21"]), _header_text)
        )
    optional = {
        "X-Route-Strategy": st.one_of(
            st.sampled_from(["auto", "cheap", "expensive", "explicit"]), _header_text
        ),
        "X-TokensGate-Optimize": st.one_of(
            st.sampled_from(["off", "safe", "aggressive"]), _header_text
        ),
        "Cache-Control": st.sampled_from(["no-cache", "no-store", "max-age=0", "junk"]),
        "anthropic-beta": st.one_of(st.just("prompt-caching-2024-07-31"), _header_text),
        "X-Request-ID": _header_text,
        "X-Forwarded-Host": st.just("attacker.invalid"),
    }
    for name, values in optional.items():
        if draw(st.integers(0, 3)) == 0:
            headers[name] = draw(values)
    return headers


def requests_for(
    path: str, surface: str, bodies: st.SearchStrategy, valid: st.SearchStrategy
) -> st.SearchStrategy:
    """Half hostile or broken requests, half valid ones that reach the upstream."""
    method = st.sampled_from(["POST"] * 15 + ["GET", "PUT", "DELETE"])
    paths = st.sampled_from([path, path, path, path + "?beta=true", path + "?x=%ff"])
    hostile = st.builds(
        FuzzRequest,
        method=method,
        path=paths,
        body=encoded(bodies),
        headers=request_headers(surface),
        key=KEYS,
        key_style=KEY_STYLES,
    )
    sound = st.builds(
        FuzzRequest,
        method=st.just("POST"),
        path=st.just(path),
        body=valid.map(lambda body: json.dumps(body).encode()),
        headers=valid_headers(surface),
        key=st.just("valid"),
        key_style=KEY_STYLES,
    )
    return st.one_of(hostile, sound)


def valid_headers(surface: str) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "Content-Type": st.just("application/json"),
            "anthropic-version": st.sampled_from(["2023-06-01", "2026-10-21"]),
        },
        optional={
            "X-Route-Strategy": st.sampled_from(["auto", "cheap", "expensive"]),
            "X-TokensGate-Optimize": st.sampled_from(["off", "safe", "aggressive"]),
            "Cache-Control": st.just("no-cache"),
            "X-Request-ID": st.from_regex(r"[A-Za-z0-9._:-]{1,40}", fullmatch=True),
        },
    )


def model_list_requests() -> st.SearchStrategy:
    return st.builds(
        FuzzRequest,
        method=st.sampled_from(["GET"] * 6 + ["POST", "DELETE"]),
        path=st.sampled_from(
            ["/v1/models", "/v1/models?limit=5", "/v1/models?after_id=x"]
        ),
        body=st.one_of(st.none(), encoded(json_values)),
        headers=request_headers("either"),
        key=KEYS,
        key_style=KEY_STYLES,
    )
