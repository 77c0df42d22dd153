"""Values for the fuzzer: plausible ones, and anything JSON can hold."""

from __future__ import annotations

from hypothesis import strategies as st

MODELS = [
    "auto",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-1-20250805",
    "claude-3-haiku-20240307",
    "llama3.2:1b",
    "gpt-4o",
    "",
    " ",
    "claude-retired-2020",
    "a" * 300,
]
BIG_NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64 + 7, 10**30, -(2**63)]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(BIG_NUMBERS),
)


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    )


json_values = st.recursive(json_scalars, _containers, max_leaves=12)


def maybe(plausible: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible values, sometimes anything at all."""
    return st.one_of(plausible, plausible, plausible, json_values)


texts = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["hello", "", " ", "\u0000", "\ud7ff\ue000", "{}"]),
    # Long enough that a few of them meet the body size limit.
    st.integers(min_value=3000, max_value=9000).map(lambda n: "x" * n),
)


GOOD_MODELS = ["claude-haiku-4-5", "claude-sonnet-4-5-20250929", "auto"]
words = st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=40).filter(str.strip)
