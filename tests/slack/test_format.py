"""Block Kit formatting and the reading of Slack messages (no network)."""

from __future__ import annotations

import re
from typing import Any

from answer.condense import Turn
from answer.extractive import Answer, Citation
from slackbot.blocks import ABSTAINED, ASKED_BLOCK, answer_message, escape
from slackbot.bot import question_text, thread_turns


def cite(
    n: int, quote: str, *, url: str | None = None, title: str | None = "An article"
) -> Citation:
    return Citation(n, "doc.txt", title, "doc.txt", quote, 0, len(quote), n, url)


def elements(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]


def test_answer_then_sources_with_links_and_short_quotes() -> None:
    long_quote = "Gazprom and SOCAR signed an extensive strategic partnership " + "word " * 80
    answer = Answer(
        "They signed a partnership [1]. It covers gas [2].",
        [
            cite(1, long_quote, url="https://example.com/a?x=1|2"),
            cite(2, "It covers gas.", title=None),
        ],
        abstained=False,
    )
    text, blocks = answer_message(answer)
    assert text == answer.answer
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": answer.answer}}
    first, second = elements(blocks)
    assert first.startswith("*[1]* <https://example.com/a?x=1%7C2|An article> — “Gazprom and SOCAR")
    assert first.endswith("…”") and len(first) < 260
    assert second == "*[2]* *doc.txt* — “It covers gas.”"  # no url: the title is not a link


def test_article_text_cannot_ping_or_inject_links() -> None:
    evil = "Alert <!channel> see <https://evil.example|here> & more"
    answer = Answer(
        f"{evil} [1]", [cite(1, evil, title="<b>T</b>", url="javascript:alert(1)")], False
    )
    text, blocks = answer_message(answer)
    rendered = " ".join([text, blocks[0]["text"]["text"], *elements(blocks)])
    assert "<!channel>" not in rendered and "<https://evil" not in rendered
    assert "&lt;!channel&gt;" in rendered and "&amp; more" in rendered
    assert "javascript:" not in rendered  # only web links are linked
    assert "*&lt;b&gt;T&lt;/b&gt;*" in elements(blocks)[0]


def test_abstained_answer_says_so_plainly() -> None:
    text, blocks = answer_message(Answer("The articles do not cover this question.", [], True))
    assert text == ABSTAINED
    assert len(blocks) == 1 and ABSTAINED in blocks[0]["text"]["text"]


def test_many_sources_are_split_into_context_blocks_of_ten() -> None:
    answer = Answer("x", [cite(n, f"quote {n}") for n in range(1, 13)], False)
    _, blocks = answer_message(answer)
    contexts = [b for b in blocks if b["type"] == "context"]
    assert [len(b["elements"]) for b in contexts] == [10, 2]


def test_slash_command_echo_and_understood_as() -> None:
    answer = Answer("A [1].", [cite(1, "A.")], False)
    _, blocks = answer_message(answer, asked="a < b?", asker="U123", understood_as="x: y")
    assert blocks[0]["block_id"] == ASKED_BLOCK
    assert blocks[0]["elements"][0]["text"] == "<@U123> asked: a &lt; b?"
    assert blocks[1]["elements"][0]["text"] == "_Understood as:_ x: y"
    _, blocks = answer_message(answer, asked="q", asker="<!channel>")
    assert blocks[0]["elements"][0]["text"] == "Asked: q"  # not a user id: no mention


def test_question_text_undoes_slack_markup() -> None:
    assert question_text("<@U0BOT> What did  Gazprom &amp; SOCAR sign?") == (
        "What did Gazprom & SOCAR sign?"
    )
    assert question_text("<@U0BOT|citeline> see <https://x.org/a|this> in <#C1|general>") == (
        "see this in general"
    )
    assert question_text("<!here> <https://x.org/a> &lt;3") == "https://x.org/a <3"
    assert question_text("<@U0BOT>") == ""
    assert escape("a<b>&c") == "a&lt;b&gt;&amp;c"


def test_thread_turns_keep_questions_to_the_bot_and_its_answers() -> None:
    messages: list[dict[str, Any]] = [
        {"ts": "100.000001", "user": "UH", "text": "<@UBOT> What did Gazprom and SOCAR sign?"},
        {"ts": "100.000002", "user": "UBOT", "bot_id": "BBOT", "text": "A partnership [1]."},
        {"ts": "100.000003", "user": "UH2", "text": "people talking among themselves"},
        {"ts": "100.000004", "bot_id": "BOTHER", "subtype": "bot_message", "text": "<@UBOT> hi"},
        {"ts": "100.000005", "user": "UH", "subtype": "channel_join", "text": "<@UBOT> joined"},
        {
            "ts": "100.000006",
            "user": "UBOT",
            "bot_id": "BBOT",
            "text": "Railway [1].",
            "blocks": [
                {
                    "type": "context",
                    "block_id": ASKED_BLOCK,
                    "elements": [{"type": "mrkdwn", "text": "<@UH> asked: and the railway?"}],
                }
            ],
        },
        {"ts": "100.000010", "user": "UH", "text": "<@UBOT> and when?"},  # the question itself
        {"ts": "100.000011", "user": "UH", "text": "<@UBOT> later"},
    ]
    turns = thread_turns(
        messages, before_ts="100.000010", bot_user_id="UBOT", bot_id="BBOT", dm=False
    )
    assert turns == [
        Turn("user", "What did Gazprom and SOCAR sign?"),
        Turn("assistant", "A partnership [1]."),
        Turn("user", "and the railway?"),
        Turn("assistant", "Railway [1]."),
    ]
    in_dm = thread_turns(
        messages, before_ts="100.000010", bot_user_id="UBOT", bot_id="BBOT", dm=True
    )
    assert Turn("user", "people talking among themselves") in in_dm


def test_timestamps_compare_exactly() -> None:
    # 16 significant digits: as floats these two would be equal
    messages = [{"ts": "1700000000.000001", "user": "UH", "text": "<@UBOT> first question here"}]
    assert thread_turns(
        messages, before_ts="1700000000.000002", bot_user_id="UBOT", bot_id="B", dm=False
    )
    assert not thread_turns(
        messages, before_ts="1700000000.000001", bot_user_id="UBOT", bot_id="B", dm=False
    )


def test_a_long_quote_shows_the_sentence_that_answers() -> None:
    # A quote grows backwards from the answering sentence (the subject it needs comes
    # before it): cut short, the source line keeps its end, not its start.
    lead = "Rural stations in the Veldt network exchange datagrams over packet radio links " * 2
    quote = lead.strip() + ". The Veldt protocol suite uses this network type."
    _, blocks = answer_message(Answer(f"{quote} [1]", [cite(1, quote)], abstained=False))
    (line,) = elements(blocks)
    assert line.endswith("— “… The Veldt protocol suite uses this network type.”")


def test_an_llm_answer_is_labelled_converted_and_its_unsupported_sentences_flagged() -> None:
    from answer.models import SentenceSupport

    text = (
        "## The deal\n\nGazprom and SOCAR signed a **strategic partnership** [1].\n\n"
        "- It moves a pipeline to Russia.\n- It covers gas [1]."
    )
    answer = Answer(
        text,
        [cite(1, "Gazprom and SOCAR signed a strategic partnership. It covers gas.")],
        False,
        answerer="llm",
        model="qwen2.5-0.5b",
        sentences=[
            SentenceSupport(
                "Gazprom and SOCAR signed a **strategic partnership** [1].", [1], True, 0.9
            ),
            SentenceSupport("- It moves a pipeline to Russia.", [], False, 0.2),
            SentenceSupport("- It covers gas [1].", [1], True, 0.9),
        ],
    )
    _, blocks = answer_message(answer)
    assert blocks[0]["text"]["text"] == (
        "*The deal*\n\nGazprom and SOCAR signed a *strategic partnership* [1].\n\n"
        "• It moves a pipeline to Russia. :warning: _no quote backs this_\n• It covers gas [1]."
    )
    assert elements(blocks)[0] == "_Written by qwen2.5-0.5b, checked against the quotes_"
    assert elements(blocks)[1].startswith("*[1]*")


def test_an_llm_answer_cannot_smuggle_markup_through_the_conversion() -> None:
    answer = Answer(
        "**<!channel>** and \ue000 <https://evil.example|x> [1]",
        [cite(1, "q")],
        False,
        answerer="llm",
    )
    _, blocks = answer_message(answer)
    body = blocks[0]["text"]["text"]
    assert body == "*&lt;!channel&gt;* and  &lt;https://evil.example|x&gt; [1]"
    assert elements(blocks)[0] == "_Written by the language model, checked against the quotes_"


def test_a_long_llm_answer_is_cut_before_escaping_so_no_entity_is_split() -> None:
    from slackbot.blocks import SECTION_CHARS

    long = "Gazprom & SOCAR [1]. " * 400
    answer = Answer(long, [cite(1, "q")], False, answerer="llm", model="m")
    body = answer_message(answer)[1][0]["text"]["text"]
    assert len(body) <= SECTION_CHARS
    assert body.endswith("…")
    assert re.fullmatch(r"(?:[^&]|&amp;)*…", body)  # every & escaped whole
