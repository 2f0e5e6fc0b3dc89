"""Sentence-aware passages sized in tiktoken tokens.

Passages are packed from whole sentences up to ``max_tokens`` cl100k tokens and
overlap by ``overlap_sentences`` sentences, so a fact that straddles a boundary
is still retrievable in one piece. No passage exceeds the embedder's word-piece
window (the model silently truncates anything longer); a sentence too long for
it on its own is cut at word boundaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from index.models import Chunk
from index.text import split_sentences
from index.tokens import cl100k

# Counts word pieces for a batch of texts (the embedder's own tokenizer).
WordpieceCounter = Callable[[list[str]], list[int]]


@dataclass(frozen=True)
class ChunkerSettings:
    max_tokens: int = 200
    overlap_sentences: int = 1
    # all-MiniLM-L6-v2 reads 256 word pieces including [CLS] and [SEP].
    max_wordpieces: int = 254

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "sentences-cl100k", **asdict(self)}


class Chunker:
    def __init__(
        self, settings: ChunkerSettings | None = None, wordpieces: WordpieceCounter | None = None
    ) -> None:
        self.settings = settings or ChunkerSettings()
        if self.settings.max_tokens < 8 or self.settings.overlap_sentences < 0:
            raise ValueError("max_tokens must be >= 8 and overlap_sentences >= 0")
        self._wordpieces = wordpieces
        self._enc = cl100k()

    def run(self, doc_id: str, text: str) -> list[Chunk]:
        spans, tokens, pieces = self._fit_spans(text, split_sentences(text))
        if not spans:
            return []
        s = self.settings
        chunks: list[Chunk] = []
        i = 0
        while i < len(spans):
            j, tok, wp = i, tokens[i], pieces[i]
            while (
                j + 1 < len(spans)
                and tok + tokens[j + 1] <= s.max_tokens
                and wp + pieces[j + 1] <= s.max_wordpieces
            ):
                j += 1
                tok += tokens[j]
                wp += pieces[j]
            start, end = spans[i][0], spans[j][1]
            chunks.append(Chunk(doc_id, len(chunks), start, end, text[start:end]))
            if j + 1 >= len(spans):
                break
            i = max(i + 1, j + 1 - s.overlap_sentences)
        return chunks

    def _sizes(self, text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
        pieces = [text[a:b] for a, b in spans]
        tokens = [len(self._enc.encode_ordinary(t)) for t in pieces]
        # Whitespace separates sentences, so word pieces of a passage are the sum
        # of its sentences' (BERT pre-tokenises on whitespace and punctuation).
        wps = self._wordpieces(pieces) if self._wordpieces else tokens
        return tokens, wps

    def _fit_spans(
        self, text: str, spans: list[tuple[int, int]]
    ) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        """Cut any sentence that alone exceeds a limit into word-bounded windows;
        return the spans with their token and word-piece counts."""
        s = self.settings
        if not spans:
            return [], [], []
        tokens, pieces = self._sizes(text, spans)
        if all(
            t <= s.max_tokens and w <= s.max_wordpieces for t, w in zip(tokens, pieces, strict=True)
        ):
            return spans, tokens, pieces
        fitted: list[tuple[int, int]] = []
        for (a, b), tok, wp in zip(spans, tokens, pieces, strict=True):
            if tok <= s.max_tokens and wp <= s.max_wordpieces:
                fitted.append((a, b))
            else:
                fitted.extend(self._cut_words(text, a, b))
        return (fitted, *self._sizes(text, fitted))

    def _cut_words(self, text: str, a: int, b: int) -> list[tuple[int, int]]:
        s = self.settings
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[a:b])]
        out: list[tuple[int, int]] = []
        i = 0
        while i < len(words):
            # Grow a window word by word; halve the step when over the limit.
            lo, hi = i + 1, len(words)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                piece = text[a + words[i][0] : a + words[mid - 1][1]]
                tok, wp = self._sizes(piece, [(0, len(piece))])
                if tok[0] <= s.max_tokens and wp[0] <= s.max_wordpieces:
                    lo = mid
                else:
                    hi = mid - 1
            out.append((a + words[i][0], a + words[lo - 1][1]))
            i = lo
        return out
