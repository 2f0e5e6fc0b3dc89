"""Block Kit for answers: the answer with its [n] markers, then its sources.

Article text is untrusted: everything taken from it is escaped, so a passage
cannot ping ``<!channel>``, smuggle a link or break the message's markup.
"""

from __future__ import annotations

import re
from typing import Any

from answer.extractive import Answer, Citation
from index.text import split_sentences

Block = dict[str, Any]

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")

# Slack's limits: a section's text is at most 3000 characters, a context block
# holds at most 10 elements; the notification text is kept short on purpose.
SECTION_CHARS = 3000
CONTEXT_ELEMENTS = 10
QUOTE_CHARS = 160
FALLBACK_CHARS = 1000
# Marks the echoed question of an /ask answer, so a thread follow-up can find it.
ASKED_BLOCK = "citeline-asked"

ABSTAINED = (
    "I could not find an answer to this in the articles, so I won't guess. "
    "Try asking with other words, or about something the articles cover."
)
FAILED = "Sorry, something went wrong while answering; the error has been logged."
# The chat page's words (server/static/app.js) for an LLM answer that fell back.
FELL_BACK = (
    "The language model could not be used ({reason}), so this answer quotes the articles directly."
)


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def clip(text: str, limit: int) -> str:
    """Cut to ``limit`` characters, keeping the text's own line breaks."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _safe_url(url: str | None) -> str | None:
    # Only web links; characters that end Slack's <url|label> syntax are encoded.
    if not url or not url.lower().startswith(("https://", "http://")):
        return None
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")


def excerpt(quote: str, limit: int = QUOTE_CHARS) -> str:
    """The quote, or when it is too long its last sentences that fit: a quote grows
    backwards from the sentence that answers (the subject or the date it needs come
    before it), so its end is what was asked."""
    text = " ".join(quote.split())
    if len(text) <= limit:
        return text
    spans = split_sentences(text)
    start = spans[-1][0] if spans else 0
    for a, _ in reversed(spans):
        if len(text) - a + 2 > limit:
            break
        start = a
    if start == 0:
        return shorten(text, limit)
    return "… " + shorten(text[start:], limit - 2)


def source_line(c: Citation) -> str:
    title = escape(shorten(c.title or c.source or c.doc_id, 120))
    url = _safe_url(c.url)
    label = f"<{url}|{title}>" if url else f"*{title}*"
    return f"*[{c.n}]* {label} — “{escape(excerpt(c.quote))}”"


def _text(text: str) -> Block:
    return {"type": "mrkdwn", "text": text}


# The chat page's words (server/static/app.js) for a generated answer.
WRITTEN_BY = "Written by {model}, checked against the quotes"
UNSUPPORTED_MARK = " :warning: _no quote backs this_"
# Where a flag goes, placed before the text is converted (a private-use character).
_FLAG = "\ue000"

_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.MULTILINE)
_HEADING = re.compile(r"^[ \t]*#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def mrkdwn(markdown: str) -> str:
    """A model's Markdown as Slack's mrkdwn (bold is one star there, lists have no
    syntax); run on escaped text, so it adds markup the model asked for and nothing
    the text could smuggle in."""
    text = _HEADING.sub(lambda m: f"*{m.group(1)}*", markdown)
    text = _BULLET.sub(lambda m: f"{m.group(1)}• ", text)
    return _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", text)


def _generated_text(answer: Answer, limit: int) -> str:
    """An LLM answer (cut to ``limit`` characters before it is escaped, so no entity
    is cut in two) as mrkdwn, each sentence no quote backs flagged after it."""
    text = clip(answer.answer.replace(_FLAG, ""), limit)
    at = 0
    for sentence in answer.sentences:
        found = text.find(sentence.text, at) if not sentence.supported else -1
        if found >= 0:
            at = found + len(sentence.text)
            text = text[:at] + _FLAG + text[at:]
    return mrkdwn(escape(text)).replace(_FLAG, UNSUPPORTED_MARK)


def answer_message(
    answer: Answer,
    *,
    asked: str | None = None,
    asker: str | None = None,
    understood_as: str | None = None,
) -> tuple[str, list[Block]]:
    """``(fallback text, blocks)`` for chat.postMessage or a response_url.

    ``asked`` (and who ``asker`` is) is echoed for slash commands, whose text only
    the asker saw; ``understood_as`` shows the standalone question when a
    follow-up was rewritten.
    """
    blocks: list[Block] = []
    if asked:
        who = f"<@{asker}> asked" if asker and _USER_ID.fullmatch(asker) else "Asked"
        blocks.append(
            {
                "type": "context",
                "block_id": ASKED_BLOCK,
                "elements": [_text(f"{who}: {escape(shorten(asked, 500))}")],
            }
        )
    if understood_as:
        blocks.append(
            {
                "type": "context",
                "elements": [_text(f"_Understood as:_ {escape(shorten(understood_as, 500))}")],
            }
        )
    if answer.abstained or not answer.citations:
        blocks.append({"type": "section", "text": _text(f":grey_question: {ABSTAINED}")})
        return ABSTAINED, blocks
    generated = answer.answerer == "llm"
    # Room is left for escaping (and for the flags of a generated answer).
    body = (
        _generated_text(answer, SECTION_CHARS - 500)
        if generated
        else escape(clip(answer.answer, SECTION_CHARS - 50))
    )
    blocks.append({"type": "section", "text": _text(body)})
    if generated:
        label = WRITTEN_BY.format(model=answer.model or "the language model")
        blocks.append({"type": "context", "elements": [_text(f"_{escape(label)}_")]})
    lines = [_text(source_line(c)) for c in answer.citations]
    for i in range(0, len(lines), CONTEXT_ELEMENTS):
        blocks.append({"type": "context", "elements": lines[i : i + CONTEXT_ELEMENTS]})
    if answer.fallback_reason:
        # As the chat page does: say why these are quotes and not the LLM's answer.
        note = FELL_BACK.format(reason=shorten(answer.fallback_reason, 200))
        blocks.append({"type": "context", "elements": [_text(f"_{escape(note)}_")]})
    return escape(clip(answer.answer, FALLBACK_CHARS)), blocks


def notice(text: str) -> tuple[str, list[Block]]:
    """A plain one-paragraph message (usage hints, refusals, errors)."""
    return escape(text), [{"type": "section", "text": _text(escape(text))}]
