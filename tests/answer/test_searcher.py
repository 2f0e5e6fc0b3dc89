"""Retrieval for answers (real model, real index): a copy of an article takes no place."""

from __future__ import annotations

import pytest

from answer.searcher import Searcher
from answer.service import fuse_hits
from index.embedder import Embedder
from index.multi import MultiRetriever
from ingest.pipeline import Ingestor
from tests.protection import articles

# Invented articles. The lighthouse one is in the collection twice (a feed and a
# site carried the same story), as 133 of the 2,225 BBC articles are.
LIGHTHOUSE = (
    "Lighthouse keeper retires\n\n"
    "The last keeper of the Skerrow lighthouse retired on Friday after 31 years, "
    "and the light will now be run from the mainland."
)
FERRY = (
    "Ferry to the lighthouse island\n\n"
    "A summer ferry will take visitors to the Skerrow lighthouse from June, the "
    "island council said."
)
BAKERY = "Bakery prize\n\nA bakery in the town won a national prize for its rye bread."


@pytest.fixture(scope="module")
def searcher(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Searcher:
    base = tmp_path_factory.mktemp("copies")
    texts = {
        "keeper.txt": LIGHTHOUSE,
        "keeper-copy.txt": LIGHTHOUSE,
        "ferry.txt": FERRY,
        "bakery.txt": BAKERY,
    }
    for name, text in texts.items():
        articles.write(base / "docs", name, text)
    assert Ingestor(embedder, base / "index").run([base / "docs"]).added == len(texts)
    return Searcher.open(base / "index", embedder=embedder)


QUESTION = "When did the Skerrow lighthouse keeper retire?"


def test_a_copy_of_an_article_does_not_crowd_out_another(searcher: Searcher) -> None:
    vector, hits = searcher.retrieve(QUESTION, top_k=2)
    # Both copies are the two best passages when copies are not dropped...
    raw = MultiRetriever(searcher.indexes, searcher.fusion).search(QUESTION, vector, 2)
    assert {h.passage.doc_id for h in raw} == {"keeper.txt", "keeper-copy.txt"}
    # ...but an answer gets one of them and the next article.
    docs = [h.passage.doc_id for h in hits]
    assert len(hits) == 2
    assert docs[0] in {"keeper.txt", "keeper-copy.txt"}
    assert docs[1] == "ferry.txt"
    # The copy kept is the better ranked one, with its own score.
    assert hits[0].score == raw[0].score and hits[0].passage.doc_id == raw[0].passage.doc_id


def test_search_still_shows_every_copy(searcher: Searcher) -> None:
    # /v1/search lists what matches, copies included: a user looking for where a
    # story appears wants both places.
    docs = {h.passage.doc_id for h in searcher.search(QUESTION, top_k=4)}
    assert {"keeper.txt", "keeper-copy.txt"} <= docs


def test_fusing_two_readings_keeps_one_copy(searcher: Searcher) -> None:
    # A follow-up's raw and condensed readings each retrieve without copies, but
    # one may bring the original and the other its copy.
    vector, _ = searcher.retrieve(QUESTION, top_k=1)
    raw = MultiRetriever(searcher.indexes, searcher.fusion).search(QUESTION, vector, 4)
    by_doc = {h.passage.doc_id: h for h in raw}
    first = [by_doc["keeper.txt"], by_doc["ferry.txt"]]
    second = [by_doc["keeper-copy.txt"], by_doc["bakery.txt"]]
    fused = [h.passage.doc_id for h in fuse_hits([first, second], 4)]
    assert len(fused) == 3
    assert {"ferry.txt", "bakery.txt"} <= set(fused)
    assert len({"keeper.txt", "keeper-copy.txt"} & set(fused)) == 1
