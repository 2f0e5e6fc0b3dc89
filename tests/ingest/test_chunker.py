import itertools

from index.embedder import Embedder
from index.tokens import count_tokens
from ingest.chunker import Chunker, ChunkerSettings
from tests.conftest import SEED_ARTICLE, require_shared


def test_seed_chunks_are_exact_sized_and_overlap(embedder: Embedder) -> None:
    text = require_shared(SEED_ARTICLE).read_text(encoding="utf-8")
    chunks = Chunker(wordpieces=embedder.count_wordpieces).run("seed", text)
    assert len(chunks) >= 4
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert count_tokens(c.text) <= 200
        assert embedder.count_wordpieces([c.text])[0] <= 254
    # one sentence of overlap: each passage starts before the previous one ends
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start < prev.end
    assert chunks[0].start == 0
    assert chunks[-1].end == len(text.rstrip())


def test_a_sentence_longer_than_the_window_is_cut_at_words(embedder: Embedder) -> None:
    text = " ".join(f"word{i}" for i in range(3000))
    chunks = Chunker(wordpieces=embedder.count_wordpieces).run("long", text)
    assert len(chunks) > 5
    counts = embedder.count_wordpieces([c.text for c in chunks])
    assert max(counts) <= 254
    # cuts fall between words and together cover every word
    assert " ".join(c.text for c in chunks).split() == text.split()


def test_wordpiece_limit_binds_when_tiktoken_count_is_small(embedder: Embedder) -> None:
    # All-caps text costs far more word pieces than cl100k tokens: the smaller
    # window must win so the model never truncates a passage.
    text = " ".join(["SUPERCALIFRAGILISTIC EXPIALIDOCIOUS ANTIDISESTABLISHMENTARIANISM ."] * 120)
    chunker = Chunker(ChunkerSettings(max_tokens=400), wordpieces=embedder.count_wordpieces)
    chunks = chunker.run("caps", text)
    assert max(embedder.count_wordpieces([c.text for c in chunks])) <= 254


def test_empty_text_gives_no_chunks() -> None:
    assert Chunker().run("e", "   \n\n ") == []
