"""The extractive answerer with the real MiniLM model: which sentences it quotes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from answer.extractive import ExtractiveAnswerer, ExtractiveSettings
from answer.models import Answer, FollowUpHints
from answer.question_type import AskedFor
from index.embedder import Embedder
from index.models import Passage, SearchHit

# An invented article: the sentence that answers leaves its subject to the one before.
ARTICLE = (
    "Lindqvist Foundry opened in 1888 on the harbour of Gothenburg. "
    "Two decades later the foundry cast the nine bells of the new cathedral. "
    "The harbour also had shipyards that built ferries for the Baltic routes.\n\n"
    "At its peak Lindqvist Foundry employed four hundred workers. "
    "The town's other employers made rope and sailcloth for the shipyards."
)


def _hit(text: str, doc_id: str = "foundry", score: float = 0.9) -> SearchHit:
    return SearchHit(
        Passage(
            chunk_id=1,
            doc_id=doc_id,
            title="Foundry",
            source=None,
            text=text,
            start=0,
            end=len(text),
        ),
        score,
    )


def ask(embedder: Embedder, question: str, article: str) -> Answer:
    """The default answerer's answer to ``question`` over the one article."""
    return ExtractiveAnswerer(embedder).run(
        question, embedder.encode_query(question), [_hit(article)]
    )


def test_a_sentence_that_leaves_its_subject_before_it_is_quoted_with_it(
    embedder: Embedder,
) -> None:
    question = "What did Lindqvist Foundry cast for the cathedral?"
    answer = ask(embedder, question, ARTICLE)
    assert not answer.abstained
    first = answer.citations[0]
    assert "nine bells" in first.quote
    # One contiguous verbatim span: the subject's sentence and the answering one.
    assert first.quote.startswith("Lindqvist Foundry opened in 1888")
    assert ARTICLE[first.start : first.end] == first.quote


def test_quotes_stay_short_when_the_sentence_before_adds_nothing(embedder: Embedder) -> None:
    question = "How many workers did Lindqvist Foundry employ?"
    answer = ask(embedder, question, ARTICLE)
    assert not answer.abstained
    first = answer.citations[0]
    assert first.quote == "At its peak Lindqvist Foundry employed four hundred workers."


def test_an_unrelated_question_is_refused(embedder: Embedder) -> None:
    question = "Which team won the 1994 football World Cup final?"
    answer = ask(embedder, question, ARTICLE)
    assert answer.abstained and not answer.citations


# The sentence that names the methods comes after one that restates the question.
METHODS = (
    "Methods much quicker than tracing have been devised for copying large coastal charts. "
    "These include the Halvorsen chart copying method, which is fast but loses fine "
    "detail, and the Okafor chart copying method, which is exact but too slow to be "
    "practical.\n\n"
    "The copied charts were kept in the harbour office."
)


def test_a_sentence_that_only_restates_the_question_does_not_answer_alone(
    embedder: Embedder,
) -> None:
    question = "What is the name of one method useful for quickly copying large coastal charts?"
    vector = embedder.encode_query(question)
    answer = ExtractiveAnswerer(embedder).run(question, vector, [_hit(METHODS)])
    assert not answer.abstained
    assert any("Halvorsen" in c.quote for c in answer.citations)
    # Ranked by similarity and shared words alone, the restatement is all it quotes.
    plain = ExtractiveAnswerer(embedder, ExtractiveSettings(novel_weight=0.0))
    quoted = " ".join(c.quote for c in plain.run(question, vector, [_hit(METHODS)]).citations)
    assert "Halvorsen" not in quoted


def test_a_sentence_naming_something_said_before_is_quoted_with_it(embedder: Embedder) -> None:
    article = (
        "Rural stations in the Veldt network exchange datagrams over packet radio links. "
        "The Veldt protocol suite uses this network type. "
        "Its first link opened in 1979."
    )
    question = "What network type does the Veldt protocol suite use?"
    answer = ask(embedder, question, article)
    first = answer.citations[0]
    assert first.quote.startswith("Rural stations in the Veldt network exchange datagrams")
    assert first.quote.endswith("uses this network type.")
    assert article[first.start : first.end] == first.quote


def test_a_general_statement_is_quoted_with_the_example_after_it(embedder: Embedder) -> None:
    article = (
        "Glass furnaces in the Skarhamn works burn several kinds of fuel. "
        "For instance, the oldest furnace still burns birch charcoal from the island.\n\n"
        "Usually the works closes in July."
    )
    question = "What kinds of fuel do the Skarhamn glass furnaces burn?"
    answer = ask(embedder, question, article)
    quoted = " ".join(c.quote for c in answer.citations)
    assert "birch charcoal" in quoted
    # Each quote is one verbatim span; the paragraph break stops the elaboration.
    assert all(article[c.start : c.end] == c.quote for c in answer.citations)
    assert "July" not in quoted


def test_an_example_is_quoted_after_the_sentence_it_elaborates() -> None:
    from answer.sentence_context import with_context

    article = (
        "Many complexity classes are suspected to be unequal. "
        "For instance, P is contained in PSPACE. Nobody has proved it."
    )
    hit = _hit(article)
    end = article.index(" For instance")
    asked = AskedFor.of("Which classes are unequal?")
    (span,) = with_context([(hit, 0, end, 0.9)], asked, 60)
    assert article[span[1] : span[2]] == (
        "Many complexity classes are suspected to be unequal. "
        "For instance, P is contained in PSPACE."
    )
    # Without room for both, the statement stays alone.
    (span,) = with_context([(hit, 0, end, 0.9)], asked, 10)
    assert span[2] == end


@pytest.mark.parametrize(
    ("quoted", "grows"),
    [
        ("This Christmas, the Halvard shop will sell few robots.", False),
        ("That night the Halvard shop closed early.", False),
        ("This shop will sell few robots.", True),
        ("This time the Halvard shop sold out.", True),  # the time before
    ],
)
def test_a_demonstrative_before_a_time_word_does_not_point_back(quoted: str, grows: bool) -> None:
    from answer.sentence_context import with_context

    article = f'"Robots are the star of the show," said Ms Berg. {quoted}'
    hit = _hit(article)
    start = article.index(quoted)
    (span,) = with_context([(hit, start, len(article), 0.9)], AskedFor.of("Which robots?"), 60)
    assert (span[1] == 0) is grows
    assert article[span[1] : span[2]].endswith(quoted)


@pytest.mark.parametrize(
    ("question", "article", "quoted", "expected"),
    [
        # The date is in the sentence before, which the quote continues.
        (
            "When were the settlers naturalised?",
            "The town was founded by refugees. On 12 May 1705, the Assembly passed an act "
            "to naturalise the settlers. Of the 390 settlers, many had died.",
            "Of the 390 settlers, many had died.",
            "On 12 May 1705, the Assembly passed an act to naturalise the settlers. "
            "Of the 390 settlers, many had died.",
        ),
        # The number is in the sentence after.
        (
            "How long did the fighting last?",
            "The name refers to the war in Europe. These dates do not match "
            "North America, where the fighting lasted 6 years. Peace came later.",
            "The name refers to the war in Europe.",
            "The name refers to the war in Europe. These dates do not match "
            "North America, where the fighting lasted 6 years.",
        ),
        # A quote that already states a date keeps to itself.
        (
            "When was it signed?",
            "In 2004 the firms met. The treaty was signed on 3 May 2005. Trade grew.",
            "The treaty was signed on 3 May 2005.",
            "The treaty was signed on 3 May 2005.",
        ),
        # A neighbour past a paragraph break is another topic.
        (
            "When were the settlers naturalised?",
            "On 12 May 1705, the Assembly met.\n\nOf the 390 settlers, many had died.",
            "Of the 390 settlers, many had died.",
            "Of the 390 settlers, many had died.",
        ),
    ],
)
def test_a_quote_without_what_was_asked_takes_the_neighbour_that_states_it(
    question: str, article: str, quoted: str, expected: str
) -> None:
    from answer.sentence_context import with_context

    hit = _hit(article)
    start = article.index(quoted)
    spans = with_context([(hit, start, start + len(quoted), 0.9)], AskedFor.of(question), 60)
    assert [article[a:b] for _, a, b, _ in spans] == [expected]


def _titled(title: str, text: str, doc_id: str) -> SearchHit:
    hit = _hit(text, doc_id)
    return SearchHit(replace(hit.passage, title=title), hit.score)


def test_a_sentence_is_read_with_its_articles_title(embedder: Embedder) -> None:
    # Neither sentence names its subject; only the titles say which is which.
    hits = [
        _titled("Harbour Rope Works", "At its peak it employed two hundred workers.", "rope"),
        _titled("Lindqvist Foundry", "At its peak it employed four hundred workers.", "foundry"),
    ]
    question = "How many workers did Lindqvist Foundry employ?"
    vector = embedder.encode_query(question)
    answer = ExtractiveAnswerer(embedder).run(question, vector, hits)
    assert answer.citations[0].doc_id == "foundry"
    assert answer.citations[0].quote == "At its peak it employed four hundred workers."
    untitled = ExtractiveAnswerer(embedder, ExtractiveSettings(title_context=False))
    assert untitled.run(question, vector, hits).citations[0].doc_id == "rope"


def test_a_sentence_without_the_kind_asked_for_counts_for_less(embedder: Embedder) -> None:
    # Asked "when", the article has no date at all: the answer's score is lowered
    # (abstention included), so such questions are refused sooner.
    question = "When did Lindqvist Foundry cast the cathedral bells?"
    text = "Lindqvist Foundry cast the nine bells of the new cathedral."
    vector = embedder.encode_query(question)
    lowered = ExtractiveAnswerer(embedder).run(question, vector, [_hit(text)])
    plain = ExtractiveAnswerer(embedder, ExtractiveSettings(kind_missing_penalty=0.0))
    full = plain.run(question, vector, [_hit(text)])
    assert not full.abstained
    assert abs(full.confidence - lowered.confidence - 0.04) < 1e-3
    dated = "In 1908 Lindqvist Foundry cast the nine bells of the new cathedral."
    # A sentence that states a date is not lowered.
    assert ExtractiveAnswerer(embedder).run(question, vector, [_hit(dated)]).confidence == (
        plain.run(question, vector, [_hit(dated)]).confidence
    )


def test_a_short_follow_ups_own_words_outweigh_the_carried_ones(embedder: Embedder) -> None:
    """ "What do their lawyers say?", condensed with the conversation's words: the
    follow-up asks about lawyers; "Texas", "spam" and "laws" only say where. Given the
    follow-up as typed, the carried words count half in ordering the sentences, and
    not at all less in deciding whether to answer. (Words weigh triple here: the
    meaning of a question made mostly of carried words leans to the laws sentence,
    and this test is about the words; bench/live_follow_ups.py shows the effect with
    the defaults over a real index.)"""
    question = "laws broke Texas spam: What do their lawyers say?"
    vector = embedder.encode_query(question)
    # As an index's IDF would: "lawyers" is rarer in the articles than the rest.
    idf = lambda terms: {t: 3.0 if t.startswith("lawyer") else 1.0 for t in terms}  # noqa: E731
    answerer = ExtractiveAnswerer(embedder, ExtractiveSettings(lexical_weight=3.0), idf)
    article = [
        _hit("The state says their spam broke three Texas laws.", "laws"),
        _hit("Lawyers for the two men said the suit was groundless.", "lawyers"),
    ]
    typed = "What do their lawyers say?"
    focused = answerer.run(question, vector, article, FollowUpHints(focus=typed))
    unfocused = answerer.run(question, vector, article)
    assert "groundless" in focused.citations[0].quote
    assert "Texas laws" in unfocused.citations[0].quote
    assert focused.confidence == unfocused.confidence
    # A follow-up with words enough of its own is left to count them all alike.
    wordy = "What do their lawyers say about the laws Texas passed on spam?"
    assert answerer.run(question, vector, article, FollowUpHints(focus=wordy)) == unfocused


def test_carried_words_say_which_article_and_the_follow_ups_own_words_which_sentence(
    embedder: Embedder,
) -> None:
    """ "Where was the ceremony?" after "Who won the Lantern Prize?": the prize is named
    once at the top of its article, the ceremony's place in a later paragraph that
    does not repeat it. The carried words count for every sentence of the article
    that mentions them, so "ceremony" picks the sentence; counted in the sentence, the
    top one, which says nothing of a ceremony, was quoted. Another article's ceremony
    gains nothing from them."""
    question = "won Lantern Prize: Where was the ceremony?"
    vector = embedder.encode_query(question)
    hits = [
        _hit("The ceremony was held at a fairground by the harbour, hosted by a comedian.", "fair"),
        _hit(
            "Snowdrop won the Lantern Prize for folk music on Friday.\n\n"
            "The band collected the award at the ceremony in the Corn Exchange in Leeds.",
            "lantern",
        ),
    ]
    typed = "Where was the ceremony?"
    answer = ExtractiveAnswerer(embedder).run(question, vector, hits, FollowUpHints(focus=typed))
    assert answer.citations[0].doc_id == "lantern"
    assert "Corn Exchange" in answer.citations[0].quote
    assert all(c.doc_id == "lantern" for c in answer.citations)
    in_sentence = ExtractiveAnswerer(embedder, ExtractiveSettings(carried_in_article=False))
    assert (
        "Corn Exchange"
        not in in_sentence.run(question, vector, hits, FollowUpHints(focus=typed))
        .citations[0]
        .quote
    )


def test_a_sentence_in_two_copies_of_an_article_takes_one_place_in_the_shortlist(
    embedder: Embedder,
) -> None:
    """Only the ``candidates`` most promising sentences are embedded. Two copies of
    one article (a re-published story) must not fill two places with one sentence:
    here the one place left is the answer's."""
    question = "Where does Desailly play now?"
    vector = embedder.encode_query(question)
    copy = "Desailly played for Chelsea against Barcelona in 2000."
    hits = [
        _hit(copy, "desailly-1", score=0.95),
        _hit(copy, "desailly-2", score=0.95),
        _hit("He now plays for Al-Gharafa in Qatar, says Desailly.", "desailly-3", score=0.5),
    ]
    answerer = ExtractiveAnswerer(embedder, ExtractiveSettings(candidates=2))
    quotes = " ".join(c.quote for c in answerer.run(question, vector, hits).citations)
    assert "Al-Gharafa" in quotes
    assert quotes.count("against Barcelona") <= 1


# Invented: the question's "prosecutor" is the article's "Prosecuting attorney".
BRIBERY = (
    "Harbour firm fined\n\n"
    "Delmar Shipping agreed to pay 4m euros to settle the bribery case. "
    "Prosecuting attorney Ines Moura said other firms should take note of the fine. "
    "The company's chairman said the firm had changed its ways."
)


def test_a_word_snowball_stems_two_ways_still_meets_its_other_form(embedder: Embedder) -> None:
    answer = ask(embedder, "What did the prosecutor say about Delmar Shipping?", BRIBERY)
    assert not answer.abstained
    assert "Ines Moura" in answer.citations[0].quote


def test_what_one_said_is_quoted_from_their_words_not_from_anyone_on_the_subject(
    embedder: Embedder,
) -> None:
    """A sentence where someone else speaks of the subject is nearer in meaning to
    "What did Labour say about him?" than Labour's own remark, which does not name
    him; the answer is the one that attributes words to Labour."""
    article = (
        "Andrew Rennie has resigned as a director of the harbour trust after criticism "
        "of his dual role. Labour said he had been careless about declaring his "
        'interests. Ms Kerr said: "This episode has been very damaging for Andrew '
        'Rennie and I am sure he will be reflecting on it." The trust thanked him.'
    )
    question = "Andrew Rennie resign harbour trust: What did Labour say about him?"
    answer = ExtractiveAnswerer(embedder).run(
        question,
        embedder.encode_query(question),
        [_hit(article, "trust")],
        FollowUpHints(focus="What did Labour say about him?"),
    )
    assert not answer.abstained
    assert "Labour said he had been careless" in answer.citations[0].quote
    assert "Ms Kerr" not in answer.answer
