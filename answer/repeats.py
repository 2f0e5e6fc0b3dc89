"""A model's streamed text without the sentences it already wrote.

Small models loop: SmolLM2 writes "This shift is driven by ... [4]" and then the
same sentence again until it runs out of tokens. The verifier drops a repeated
claim from the final answer, but the reader watched it being typed twice first.
`RepeatGuard` sits between the model's deltas and the page: while the sentence
being written could still turn out to be one already said, its text is held
back; a finished repeat is dropped; a sentence that differs is released at once,
so novel text still streams token by token. After ``stop_after`` repeats in a
row the model is looping and the caller stops generating.
"""

from __future__ import annotations

import re

# A sentence ends at . ! or ? (then any citation markers) followed by space, or
# at a line break.
_END = re.compile(r"[.!?](?:\s*\[\d{1,3}\])*\s+|\n+")
_MARKER = re.compile(r"\[\d{1,3}\]")
_PARTIAL_MARKER = re.compile(r"\s*\[\d{0,3}$")


def sentence_key(sentence: str) -> str:
    """What makes two sentences the same claim: words and punctuation, not
    citation markers, spacing or case."""
    return " ".join(_MARKER.sub("", sentence).lower().split()).rstrip(".!? ")


class RepeatGuard:
    def __init__(self, *, min_chars: int = 12, stop_after: int = 2) -> None:
        self.min_chars = min_chars
        self.stop_after = stop_after
        self._said: set[str] = set()
        self._current = ""  # the unfinished sentence, shown and held parts both
        self._shown = 0  # how much of it has been released
        self._repeats = 0  # finished repeats in a row
        self.dropped = 0

    @property
    def looping(self) -> bool:
        return self._repeats >= self.stop_after

    def feed(self, delta: str) -> str:
        """The part of the text so far that can be shown now."""
        self._current += delta
        out: list[str] = []
        while m := _END.search(self._current):
            sentence, self._current = self._current[: m.end()], self._current[m.end() :]
            key = sentence_key(sentence)
            if len(key) >= self.min_chars and key in self._said:
                self._repeats += 1
                self.dropped += 1
            else:
                if len(key) >= self.min_chars:
                    self._said.add(key)
                    self._repeats = 0
                out.append(sentence[self._shown :])
            self._shown = 0
        if not self._could_repeat(self._current):
            out.append(self._current[self._shown :])
            self._shown = len(self._current)
        return "".join(out)

    def finish(self) -> str:
        """What is still held back when the model stops: the last sentence, unless
        it repeats an earlier one."""
        rest, self._current = self._current, ""
        key = sentence_key(rest)
        if len(key) >= self.min_chars and key in self._said:
            self.dropped += 1
            return ""
        return rest[self._shown :]

    def _could_repeat(self, partial: str) -> bool:
        key = sentence_key(_PARTIAL_MARKER.sub("", partial))
        return bool(key) and any(said.startswith(key) for said in self._said)
