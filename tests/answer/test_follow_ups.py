"""Follow-ups through the answer service (real model, real index): both readings'
passages are kept, and a follow-up whose words cannot say what it is about is
compared in meaning with the conversation's subject too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from answer.generative import FinalEvent
from answer.models import Answer
from answer.searcher import Searcher
from answer.service import AnswerService
from index.embedder import Embedder
from ingest.pipeline import Ingestor
from tests.conftest import answer_service
from tests.protection import articles

# Invented articles: "file an order" is said in both, the conversation's subject in one.
COURT = (
    "Restraining orders\n\n"
    "A person who fears harassment can ask the county court for a restraining order. "
    "The petitioner may keep a home address confidential by giving a mailing address "
    "instead.\n\n"
    "The petition is made on form CH-100, handed to the court clerk, and a judge "
    "reads it the same day."
)
SHOP = (
    "Shop hours\n\n"
    "Orders placed before noon leave the warehouse the same afternoon. "
    "An order filed after noon ships the next morning.\n\n"
    "The shop is closed on public holidays."
)


def _service_over(base: Path, embedder: Embedder, texts: dict[str, str]) -> Iterator[AnswerService]:
    """The answer service over an index of ``texts`` (file name -> article)."""
    for name, text in texts.items():
        articles.write(base / "docs", name, text)
    assert Ingestor(embedder, base / "index").run([base / "docs"]).added == len(texts)
    qa = answer_service(Searcher.open(Path(base / "index"), embedder=embedder))
    yield qa
    qa.close()


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[AnswerService]:
    texts = {"restraining-orders.txt": COURT, "shop-hours.txt": SHOP}
    yield from _service_over(tmp_path_factory.mktemp("follow-ups"), embedder, texts)


def _messages(*asked: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for q in asked[:-1]:
        out += [{"role": "user", "content": q}, {"role": "assistant", "content": "..."}]
    return [*out, {"role": "user", "content": asked[-1]}]


FIRST = "How can I get a restraining order without giving my home address?"


def test_a_follow_up_without_a_subject_is_compared_with_both_readings(
    service: AnswerService, embedder: Embedder
) -> None:
    standalone, _, readings, hits = service.run_sync(
        service._follow_up(_messages(FIRST, "How do I file an order?"), None, None)
    )
    assert "restraining" in standalone
    lead, condensed = readings
    # The raw words pick the sentences; their meaning is compared with both readings.
    assert lead.question == "How do I file an order?"
    assert condensed.question == standalone
    both = embedder.encode_query("How do I file an order?") + embedder.encode_query(standalone)
    assert np.allclose(lead.vector, both / np.linalg.norm(both), atol=1e-5)
    assert {h.passage.doc_id for h in hits} == {"restraining-orders.txt", "shop-hours.txt"}


def test_a_follow_up_with_its_own_subject_keeps_its_own_meaning(
    service: AnswerService, embedder: Embedder
) -> None:
    question = "What about the shop's public holidays?"
    standalone, _, readings, _ = service.run_sync(
        service._follow_up(_messages(FIRST, question), None, None)
    )
    assert standalone != question  # condensed, but the topic switch's own words lead
    lead = readings[0]
    assert lead.question == question
    assert np.allclose(lead.vector, embedder.encode_query(question), atol=1e-5)
    _, answer = service.chat_sync(_messages(FIRST, question))
    assert answer.citations[0].doc_id == "shop-hours.txt"


# Invented articles: both say "In Canada", only one is about the weavers asked about.
WEAVERS = (
    "Flemish weavers abroad\n\n"
    "In Norway, the Flemish weavers built a guild hall in Bergen in 1621. "
    "Their cloth was sold as far as Danzig.\n\n"
    "In Canada, the Flemish weavers founded a cooperative mill near Halifax in 1784."
)
CASINOS = (
    "Casino design\n\n"
    "In Canada, many casinos took the clocks off their walls to keep gamblers playing. "
    "Carpets with busy patterns keep eyes on the tables."
)


def test_a_changed_circumstance_keeps_the_subject_and_drops_the_old_one(
    stories: AnswerService,
) -> None:
    """ "And in Canada?" asks the last question again for another place: the weavers
    come along, Norway does not, and the casino sentence that also says "In Canada"
    is not the answer. Before facets were read, the raw words led and quoted it."""
    asked = ["What did the Flemish weavers build in Norway?", "And in Canada?"]
    standalone, answer = stories.chat_sync(_messages(*asked))
    assert standalone == "Flemish weavers build: in Canada?"
    assert not answer.abstained
    assert answer.citations[0].doc_id == "weavers.txt"
    assert "cooperative mill near Halifax" in answer.citations[0].quote
    # The next follow-up still knows both the place and whom it is about.
    standalone, answer = stories.chat_sync(_messages(*asked, "When was that founded?"))
    assert standalone == "Canada Flemish weavers build: When was that founded?"
    assert "1784" in answer.citations[0].quote


# Invented articles: "long" is said in both, the ban's length in one.
SPRINTER = (
    "Sprinter suspended\n\n"
    "The athletics federation suspended the sprinter Mara Okello after she missed a "
    "training camp. The ban lasts six months, officials said on Monday."
)
HOLIDAYS = (
    "Holiday habits\n\n"
    "Many workers prefer one long vacation each year to several short breaks. "
    "Travel agents say bookings for long trips rose in spring."
)


def test_a_bare_question_form_is_asked_of_the_last_question(stories: AnswerService) -> None:
    """ "For how long?" after "Why was she suspended?": how long the ban lasts, not a
    long vacation, which its one word "long" quotes when asked alone."""
    asked = [
        "What happened to the sprinter Mara Okello?",
        "Why was she suspended?",
        "For how long?",
    ]
    standalone, answer = stories.chat_sync(_messages(*asked))
    assert standalone.startswith("suspended ")
    assert not answer.abstained
    assert answer.citations[0].doc_id == "sprinter.txt"
    assert "six months" in " ".join(c.quote for c in answer.citations)
    _, alone = stories.chat_sync(_messages("For how long?"))
    assert alone.abstained or alone.citations[0].doc_id == "holidays.txt"


@pytest.fixture(scope="module")
def stories(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[AnswerService]:
    """Four invented articles, each pair sharing the words a follow-up alone would match."""
    texts = {
        "weavers.txt": WEAVERS,
        "casinos.txt": CASINOS,
        "sprinter.txt": SPRINTER,
        "holidays.txt": HOLIDAYS,
    }
    yield from _service_over(tmp_path_factory.mktemp("stories"), embedder, texts)


# Invented articles: both hold an awards ceremony, only one is the prize asked about.
LANTERN = (
    "Folk prize for Snowdrop\n\n"
    "Snowdrop won the Lantern Prize for folk music on Friday, beating four other bands.\n\n"
    "The band collected the award at the ceremony in the Corn Exchange in Leeds. "
    "Their second album sold twice as many copies as the first."
)
FILM_AWARDS = (
    "Film awards in Sydney\n\n"
    "The ceremony was held at Luna Park in Sydney and was hosted by a comedian. "
    "Two local dramas won awards for best film and best script."
)


@pytest.fixture(scope="module")
def prizes(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[AnswerService]:
    texts = {"lantern.txt": LANTERN, "film-awards.txt": FILM_AWARDS}
    yield from _service_over(tmp_path_factory.mktemp("prizes"), embedder, texts)


def test_a_follow_up_without_a_subject_is_answered_on_the_conversations_subject(
    prizes: AnswerService,
) -> None:
    """ "Where was the ceremony?" after "Who won the Lantern Prize?": asked alone, its
    one word quotes the Sydney ceremony. With the conversation, the answer must come
    from an article about the Lantern Prize, and the sentence within it that says
    where the ceremony was, though that sentence does not name the prize."""
    _, alone = prizes.chat_sync(_messages("Where was the ceremony?"))
    assert alone.citations[0].doc_id == "film-awards.txt"
    standalone, answer = prizes.chat_sync(
        _messages("Who won the Lantern Prize?", "Where was the ceremony?")
    )
    assert "Lantern" in standalone
    assert not answer.abstained
    assert {c.doc_id for c in answer.citations} == {"lantern.txt"}
    assert "Corn Exchange" in answer.citations[0].quote


def test_the_article_the_last_answer_quoted_binds_a_follow_up_without_a_subject(
    prizes: AnswerService,
) -> None:
    """The chat sends back the answer it showed: the service finds which article it
    quoted, and the follow-up's own words must answer from it (answer.readings)."""
    first = "Who won the Lantern Prize?"
    shown = prizes.chat_sync(_messages(first))[1]
    assert {c.doc_id for c in shown.citations} == {"lantern.txt"}
    messages = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": shown.answer},
        {"role": "user", "content": "Where was the ceremony?"},
    ]
    _, _, readings, _ = prizes.run_sync(prizes._follow_up(messages, None, None))
    assert readings[0].question == "Where was the ceremony?"
    assert readings[0].discussed == {"lantern.txt"}
    _, answer = prizes.chat_sync(messages)
    assert {c.doc_id for c in answer.citations} == {"lantern.txt"}
    assert "Corn Exchange" in answer.citations[0].quote
    # An answer that quotes nothing among the passages binds nothing.
    _, _, readings, _ = prizes.run_sync(
        prizes._follow_up(_messages(first, messages[2]["content"]), None, None)
    )
    assert readings[0].discussed == frozenset()


# Invented articles: the question's own words match the offices article better; the
# conversation is about the election.
ELECTION = (
    "Holt expected to call early election\n\n"
    "Prime minister Tamsin Holt is expected to call a general election for 5 May, "
    "her aides said on Sunday. The parliament's term ends in June next year, so the "
    "government officially has thirteen more months before it must hold a vote."
)
OFFICES = (
    "New offices in Dunmore\n\n"
    "Ministers officially opened the new government offices in Dunmore on Tuesday "
    "after a long delay. The building houses four hundred civil servants."
)
# Unrelated articles, so that the keyword index's word statistics mean something.
FILLER = {
    "orchard.txt": "Apple harvest\n\nGrowers in the valley picked a record apple crop this autumn.",
    "ferry.txt": "Ferry timetable\n\nThe island ferry will sail twice a day from March.",
    "museum.txt": "Museum reopens\n\nThe maritime museum reopened with a gallery of ship models.",
    "chess.txt": "Chess final\n\nA teenager from Riga won the national chess final in nine moves.",
    "bakery.txt": "Bakery award\n\nA village bakery won a prize for its rye bread and seed cakes.",
    "river.txt": "River levels\n\nHeavy rain raised the river above its banks near the old mill.",
    "choir.txt": "Choir tour\n\nThe cathedral choir will sing in six cities this summer.",
    "rail.txt": "Rail works\n\nEngineers will replace the signals on the coastal line in spring.",
}


@pytest.fixture(scope="module")
def politics(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[AnswerService]:
    texts = {"election.txt": ELECTION, "offices.txt": OFFICES, **FILLER}
    yield from _service_over(tmp_path_factory.mktemp("politics"), embedder, texts)


def test_a_full_question_mid_conversation_may_mean_the_article_under_discussion(
    politics: AnswerService,
) -> None:
    """ "How long does the government officially have?" has words enough to stand
    alone, so it is not condensed; alone (one passage retrieved) its words pick the
    offices article. Asked after a question on the election, the election article's
    passages are candidates too, and its sentence on the thirteen months answers. A
    question no article covers is still refused in the same conversation."""
    asked = "How long does the government officially have?"
    alone = politics.ask_sync(asked, top_k=1)
    assert all(c.doc_id == "offices.txt" for c in alone.citations)
    first = "When is Tamsin Holt expected to call the election?"
    standalone, answer = politics.chat_sync(_messages(first, asked), top_k=1)
    assert standalone == asked  # shown as typed: only retrieval reads it in context
    assert not answer.abstained
    assert answer.citations[0].doc_id == "election.txt"
    assert "thirteen more months" in answer.citations[0].quote
    _, absent = politics.chat_sync(
        _messages(first, "What is the boiling point of tungsten?"), top_k=1
    )
    assert absent.abstained


# Invented articles: the lede makes the claim, the speaker is named a paragraph on;
# another sentence of the article says the claim's words and quotes someone else.
TOYS = (
    "Robot dog shortage feared\n\n"
    "Parents may want to buy presents early as experts predict a shortage of robot "
    "dogs this winter.\n\n"
    "There may not be enough Pixel Pup robots to go round, predicts Hanna Voss, editor "
    "of Toy Trader magazine. The robot dog costs 80 euros and barks in four languages.\n\n"
    "The robot kennel sold out last winter. Shops in Lyon have plenty of robot dogs for "
    "parents this winter, said Marc Ferrand, who runs a toy shop."
)


@pytest.fixture(scope="module")
def toys(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[AnswerService]:
    texts = {"toys.txt": TOYS, **FILLER}
    yield from _service_over(tmp_path_factory.mktemp("toys"), embedder, texts)


def test_who_says_so_is_answered_with_the_speaker_named_beside_the_claim(
    toys: AnswerService,
) -> None:
    """The chat sends back the answer it showed. "Who says so?" asks who made the
    claim it quoted: the attribution next to that quote, not another attribution
    that shares more of the conversation's words."""
    first = "Will there be a shortage of robot dogs this winter?"
    shown = toys.chat_sync(_messages(first))[1]
    assert "experts predict a shortage" in shown.citations[0].quote
    messages = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": shown.answer},
        {"role": "user", "content": "Who says so?"},
    ]
    _, answer = toys.chat_sync(messages)
    assert not answer.abstained
    assert "predicts Hanna Voss" in answer.citations[0].quote
    # Without the answer shown (the page's placeholder), nothing says which claim.
    _, blind = toys.chat_sync(_messages(first, "Who says so?"))
    assert "Hanna Voss" not in blind.citations[0].quote


def test_who_said_that_finds_the_quoted_passage_the_follow_up_does_not_retrieve(
    toys: AnswerService,
) -> None:
    """The history's last answer quoted the toy article, but the conversation's words
    (a ferry) retrieve other passages (one per reading here): the quote's own words
    find its passage for the speaker to be looked for beside it."""
    lede = TOYS.split("\n\n")[1]
    messages = [
        {"role": "user", "content": "Will the island ferry sail twice a day from March?"},
        {"role": "assistant", "content": f"{lede} [1]"},
        {"role": "user", "content": "Who said that?"},
    ]
    _, _, readings, hits = toys.run_sync(toys._follow_up(messages, 1, None))
    beside = readings[0].beside
    assert beside is not None
    # Offsets in the stored text, and the text there.
    assert (beside.doc_id, beside.end - beside.start) == ("toys.txt", len(lede))
    assert beside.text == lede
    assert "toys.txt" in {h.passage.doc_id for h in hits}
    # Its passages join the candidates; the ferry passage stays too.
    assert "ferry.txt" in {h.passage.doc_id for h in hits}
    # Asked of nothing quoted, the same words name no one from the toy article.
    _, _, readings, _ = toys.run_sync(
        toys._follow_up(_messages(messages[0]["content"], "Who said that?"), 1, None)
    )
    assert readings[0].beside is None


def test_the_streamed_chat_answers_a_follow_up_as_the_whole_chat_does(
    toys: AnswerService,
) -> None:
    """The chat page streams: a follow-up answered by one reading must get the same
    hints there (the speaker beside the quote) as through the whole-answer route."""
    first = "Will there be a shortage of robot dogs this winter?"
    shown = toys.chat_sync(_messages(first))[1]
    messages = [
        {"role": "user", "content": first},
        {"role": "assistant", "content": shown.answer},
        # Points back ("that"): answered by the condensed reading alone.
        {"role": "user", "content": "Who said that?"},
    ]
    _, whole = toys.chat_sync(messages)
    assert "predicts Hanna Voss" in whole.citations[0].quote

    async def streamed() -> Answer:
        _, events = await toys.chat_stream(messages)
        finals = [e.answer async for e in events if isinstance(e, FinalEvent)]
        assert len(finals) == 1
        return finals[0]

    assert toys.run_sync(streamed()).answer == whole.answer
