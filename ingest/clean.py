"""Turn raw text or Markdown into a clean article body plus header metadata.

(HTML goes through trafilatura in ``ingest.html`` first; its output ends here too.)

The rules are generic heuristics for blog posts and news pages: a title line, a byline, a
"Source:" line, author-bio fragments in the header, and site chrome (comment sections,
"related posts" lists, navigation) around the body. They err on the side of keeping text:
a paragraph that reads like body text is never dropped as metadata.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["CHROME_HEADINGS", "NAV_LINES", "Cleaned", "clean_extracted", "clean_text"]


@dataclass(frozen=True)
class Cleaned:
    text: str
    title: str | None = None
    author: str | None = None
    source: str | None = None  # publication name, from a "Source: X" line or og:site_name
    url: str | None = None
    date: str | None = None


# Headings that start the chrome after a blog post's body. Each pattern must match a whole
# (lower-cased, punctuation-trimmed) line; everything from that line on is dropped.
CHROME_HEADINGS: tuple[str, ...] = (
    r"(\d+|no|one)?\s*(comments?|responses?|replies)",
    r"(leave|add|post|write|show|view|load|read) (a |your |all |the |more )?"
    r"(comments?|reply|replies|response)",
    r"popular posts?( from this blog)?",
    r"(related|recent|popular|similar|more|other|latest|trending|further) "
    r"(posts?|articles?|stories|reads?|reading|news|content|links|coverage|videos?)",
    r"(got|have) a (news )?tip( for us)?\??",
    r"just watched",
    r"most (read|popular|viewed|shared)",
    r"you (may|might) (also )?(like|enjoy|be interested in)( this)?",
    r"(share|share this|share this (post|article|story|page))( on \w+)?",
    r"subscribe( to .*| now| for .*)?",
    r"(sign up for|join|get) (our|the) newsletter.*",
    r"newsletter",
    r"read more( about .*| on .*)?",
    r"recommended( for you| reading| articles| stories| posts)?",
    r"more (from|on|in|by) .+",
    r"(newer|older|next|previous) (posts?|articles?|stories|entry)",
)
# Tag-list lines carry their values on the same line, so they may be longer than a heading.
_LIST_LINE = re.compile(r"(labels|tags|tagged( with)?|filed under|categories|posted in)\s*:.*")
_CHROME_MAX_WORDS = 6
_LIST_MAX_WORDS = 25

# Isolated lines that are navigation when they sit at the very start or end of a page.
# fmt: off
NAV_LINES: frozenset[str] = frozenset({
    "home", "menu", "main menu", "open menu", "close menu", "toggle navigation", "skip to content",
    "skip to main content", "skip to navigation", "search", "close", "share", "share this",
    "tweet", "print", "email", "e-mail", "facebook", "twitter", "linkedin", "reddit", "pinterest",
    "whatsapp", "telegram", "instagram", "youtube", "tumblr", "mastodon", "back to top", "top",
    "log in", "login", "sign in", "sign up", "register", "subscribe", "about", "contact",
    "privacy policy", "terms",
})
# fmt: on
_NAV_SEPARATORS = re.compile(r"\s*[|•·/»›]\s*")
_TRAILING_JUNK = re.compile(
    r"((©|\(c\)|copyright)\s.*|.*all rights reserved.*|powered by \S+( \S+)?)", re.IGNORECASE
)

_MAX_TITLE_CHARS = 200
_MAX_TITLE_WORDS = 20  # headlines are short; longer first lines are lead sentences
_BODY_MIN_WORDS = 25  # a paragraph longer than this is body, never header metadata
_HEADER_MAX_LINES = 15  # header metadata lives in the first few lines only

_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
# Lone surrogates (e.g. from a JSON "\\ud800" escape) cannot be encoded, so they cannot be stored.
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s+\S|\s*$)")
_BYLINE = re.compile(
    r"^(?:by|written by|posted by|words by|authors?\s*:|byline\s*:)\s*(?P<rest>.+)$",
    re.IGNORECASE,
)
_TITLE_BYLINE = re.compile(r"^(?P<title>.*\S)\s+(?:[|,\-–—]\s*)?By\s+(?P<name>[^\s].*)$")
_SOURCE = re.compile(r"^source\s*:\s*(?P<value>.+)$", re.IGNORECASE)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE_VALUE = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}(?:[T ][\d:.+\-Z]+)?|\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}|{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_DATE_LINE = re.compile(
    rf"^(?:(?:published|posted|updated|date)(?:\s+on)?\s*:?\s*)?"
    rf"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?(?P<value>{_DATE_VALUE})$",
    re.IGNORECASE,
)
# fmt: off
_NAME_PARTICLES = frozenset({
    "de", "da", "del", "della", "der", "den", "di", "du", "la", "le", "van", "von", "bin", "ibn",
    "al", "el", "dos", "das", "y", "st", "st.",
})
# fmt: on
# Capitalised words that end titles ("Stand By Your Man") but never start a person's name.
# fmt: off
_NOT_NAMES = frozenset({
    "the", "a", "an", "my", "your", "his", "her", "our", "their", "its", "this", "that", "these",
    "those", "me", "us", "them", "you", "him", "it", "all", "any", "default",
})
# fmt: on


def clean_text(raw: str, *, markdown: bool = False, known_title: str | None = None) -> Cleaned:
    """Clean a plain-text (or, with ``markdown=True``, Markdown) article.

    ``known_title`` is a title that came with the article (e.g. a JSONL field). It wins over
    a detected title, and the first line is then only dropped when it repeats that title.
    """
    lines = _normalise(raw).split("\n")
    front: dict[str, str] = {}
    heading_lines: set[int] = set()
    if markdown:
        lines, front = _split_front_matter(lines)
        lines, heading_lines = _strip_markdown(lines)
    known = known_title or front.get("title")
    known_titles = {known} if known else None
    cleaned = _clean_lines(lines, heading_lines=heading_lines, known_titles=known_titles)
    return replace(
        cleaned,
        title=known or cleaned.title,
        author=front.get("author") or cleaned.author,
        date=front.get("date") or cleaned.date,
        source=front.get("source") or cleaned.source,
    )


def clean_extracted(paragraphs: list[str], *, known_titles: set[str] | None = None) -> Cleaned:
    """Clean the paragraphs an HTML extractor returned: the title and byline it repeated at
    the top, chrome blocks it kept inside the body ("Got a tip for us?", "JUST WATCHED"
    with their short lines) and chrome after the body. ``known_titles`` are the page's
    titles; only a first line repeating one of them is dropped as the title. Without
    them (no metadata found) a title-like first line is taken as the title, as in text."""
    lines: list[str] = []
    for paragraph in paragraphs:
        lines.extend([_normalise(paragraph).strip(), ""])
    return _clean_lines(_drop_chrome_blocks(lines), known_titles=known_titles)


# --------------------------------------------------------------------------- text pipeline


def _normalise(raw: str) -> str:
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    text = _SURROGATES.sub("\ufffd", _CONTROL_CHARS.sub("", text))
    # Lines holding only (non-breaking) spaces count as blank, so they separate paragraphs.
    return "\n".join(line.rstrip() if line.strip() else "" for line in text.split("\n"))


def _clean_lines(
    lines: list[str],
    *,
    heading_lines: set[int] | None = None,
    known_titles: set[str] | None = None,
) -> Cleaned:
    """Shared text pipeline. ``known_titles=None`` lets a title-like first line be the title;
    otherwise the first line is only dropped as a title when it repeats one of them."""
    lines = _trim_nav(lines)
    meta, body = _take_header(lines, heading_lines or set(), known_titles)
    body = _trim_nav(_cut_trailing_chrome(body))
    text = _join_paragraphs(body)
    if not text:
        # Everything looked like metadata (e.g. a two-line note): keep it rather than lose it.
        text = _join_paragraphs(_trim_nav(lines))
    return Cleaned(text=text, **meta)


def _join_paragraphs(lines: list[str]) -> str:
    paragraphs: list[str] = []
    current: list[str] = []
    for line in [*lines, ""]:
        if line.strip():
            current.append(line)
        elif current:
            paragraphs.append("\n".join(current).strip())
            current = []
    return "\n\n".join(p for p in paragraphs if p)


def _words(text: str) -> int:
    return len(text.split())


def _is_body(text: str) -> bool:
    return _words(text) > _BODY_MIN_WORDS or len(_SENTENCE_END.findall(text)) >= 2


def _paragraph_spans(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line ranges of runs of non-blank lines."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for i, line in enumerate([*lines, ""]):
        if line.strip() and start is None:
            start = i
        elif not line.strip() and start is not None:
            spans.append((start, i))
            start = None
    return spans


def _first_body_line(lines: list[str]) -> int:
    for start, end in _paragraph_spans(lines):
        if _is_body(" ".join(lines[start:end])):
            return start
    return len(lines)


# --------------------------------------------------------------------------- header metadata


def _take_header(
    lines: list[str], heading_lines: set[int], known_titles: set[str] | None
) -> tuple[dict[str, str | None], list[str]]:
    """Consume title/byline/source/date/bio lines from the header; return metadata and body."""
    meta: dict[str, str | None] = {"title": None, "author": None, "source": None, "date": None}
    header_end = _first_body_line(lines)
    header = [i for i in range(header_end) if lines[i].strip()][:_HEADER_MAX_LINES]
    dropped: set[int] = set()

    title_idx = _find_title_line(lines, header, heading_lines)
    if title_idx is not None:
        title, author = _split_title_byline(lines[title_idx].strip())
        if known_titles is None or _norm(title) in {_norm(t) for t in known_titles}:
            meta["title"], meta["author"] = title, author
            dropped.add(title_idx)

    after_name = False  # the previous header line was the author's name on its own
    for i in header:
        if i in dropped:
            continue
        line = lines[i].strip()
        was_after_name, after_name = after_name, False
        if (name := _parse_byline(line)) is not None:
            meta["author"] = meta["author"] or name
        elif m := _SOURCE.match(line):
            meta["source"] = meta["source"] or m["value"].strip()
        elif m := _DATE_LINE.match(line):
            meta["date"] = meta["date"] or m["value"]
        elif meta["author"] and _norm(line) == _norm(meta["author"]):
            after_name = True
        elif was_after_name and _looks_like_role(line):
            pass
        elif not any(ch.isalnum() for ch in line):
            pass  # decorative separators such as "—" or "* * *"
        else:
            continue
        dropped.add(i)
    return meta, [line for i, line in enumerate(lines) if i not in dropped]


def _find_title_line(lines: list[str], header: list[int], heading_lines: set[int]) -> int | None:
    if not header:
        return None
    # A level-1 Markdown heading in the header wins over a plain first line.
    for i in header:
        if i in heading_lines:
            return i
    first = header[0]
    line = lines[first].strip()
    title, _ = _split_title_byline(line)
    has_more = any(line.strip() for line in lines[first + 1 :])
    next_line = lines[first + 1].strip() if first + 1 < len(lines) else ""
    # A wrapped paragraph continues on the next line; a title is followed by a blank or metadata.
    stands_alone = not next_line or _is_metadata_line(next_line)
    if (
        has_more
        and stands_alone
        and len(title) <= _MAX_TITLE_CHARS
        and _words(title) <= _MAX_TITLE_WORDS
        and not title.endswith((".", ",", ";", ":"))
        and not _is_body(title)
        and not _is_metadata_line(line)
    ):
        return first
    return None


def _is_metadata_line(line: str) -> bool:
    return bool(_parse_byline(line) is not None or _SOURCE.match(line) or _DATE_LINE.match(line))


def _split_title_byline(line: str) -> tuple[str, str | None]:
    """Split "Some title? By First Last" into the title and the author."""
    m = _TITLE_BYLINE.match(line)
    if m and _words(m["title"]) >= 2 and _is_name(m["name"], strict=True):
        return m["title"].rstrip(" |,-–—"), m["name"].strip()
    return line, None


def _parse_byline(line: str) -> str | None:
    """The author named by a byline such as "By Jane Doe" or "Author: Jane Doe"."""
    m = _BYLINE.match(line)
    if not m:
        return None
    rest = m["rest"].strip()
    if _is_name(rest):
        return rest
    # "By Jane Doe | Staff writer" or "By Jane Doe, 3 May 2024": keep the name part only.
    first = re.split(r"\s+[|\-–—•·]\s+|,\s+", rest, maxsplit=1)[0]
    return first if _is_name(first) else None


def _is_name(text: str, *, strict: bool = False) -> bool:
    """Whether ``text`` reads like one or more personal (or agency) names."""
    people = [p for p in re.split(r"\s*(?:,|&|\band\b)\s*", text.strip()) if p]
    if not people or len(people) > 4:
        return False
    for person in people:
        tokens = [t.strip("()") for t in person.split()]
        if not tokens or len(tokens) > 6 or (strict and len(tokens) < 2):
            return False
        if tokens[0].lower() in _NOT_NAMES:
            return False
        for token in tokens:
            if token.lower() in _NAME_PARTICLES:
                continue
            if not token or not token[0].isupper() or any(ch.isdigit() for ch in token):
                return False
            if not all(ch.isalpha() or ch in ".'’-" for ch in token):
                return False
    return True


def _looks_like_role(line: str) -> bool:
    """A short job-title line such as "Middle East & Caucasus Analyst" under an author name."""
    words = re.findall(r"[^\W\d_][\w'’-]*", line)
    if not words or len(line.split()) > 8 or line.endswith((".", "!", "?")):
        return False
    small = {"of", "and", "the", "for", "at", "in", "on", "to", "a", "an"}
    content = [w for w in words if w.lower() not in small]
    return bool(content) and all(w[0].isupper() for w in content)


def _norm(text: str) -> str:
    return " ".join(text.casefold().replace("’", "'").split()).strip(" .")


# --------------------------------------------------------------------------- page chrome


def _chrome_key(line: str) -> str:
    return " ".join(line.lower().replace("’", "'").split()).strip(" :.-–—|»›>•*#!")


_CHROME_RES = [re.compile(p) for p in CHROME_HEADINGS]


def _is_chrome_heading(line: str) -> bool:
    key = _chrome_key(line)
    if not key:
        return False
    if _LIST_LINE.fullmatch(key):
        return _words(key) <= _LIST_MAX_WORDS
    return _words(key) <= _CHROME_MAX_WORDS and any(r.fullmatch(key) for r in _CHROME_RES)


def _cut_trailing_chrome(lines: list[str]) -> list[str]:
    """Cut from the first chrome heading that follows the body (comments, related posts, ...).

    The heading must come after at least one body paragraph, and either past the middle of
    the document or with no body paragraph after it, so an article section that happens to be
    called "Recommended" does not take the rest of the article with it.
    """
    total = sum(len(line) + 1 for line in lines)
    spans = _paragraph_spans(lines)
    body_starts = [s for s, e in spans if _is_body(" ".join(lines[s:e]))]
    if not body_starts:
        return lines
    offset = 0
    for i, line in enumerate(lines):
        if i > body_starts[0] and _is_chrome_heading(line):
            body_after = any(s > i for s in body_starts)
            if not body_after or offset * 2 >= total:
                return lines[:i]
        offset += len(line) + 1
    return lines


def _drop_chrome_blocks(lines: list[str]) -> list[str]:
    """Drop a chrome heading inside the body together with the short, non-body paragraphs
    under it (link titles, "Replay", a sign-up blurb). A chrome-like heading directly
    followed by body text is a real section heading and stays."""
    spans = _paragraph_spans(lines)
    drop: set[int] = set()
    k = 0
    while k < len(spans):
        start, end = spans[k]
        if end - start == 1 and _is_chrome_heading(lines[start]):
            j = k + 1
            while j < len(spans) and not _is_body(" ".join(lines[spans[j][0] : spans[j][1]])):
                j += 1
            if j > k + 1:
                for s, e in spans[k:j]:
                    drop.update(range(s, e))
                k = j
                continue
        k += 1
    return [line for i, line in enumerate(lines) if i not in drop]


def _is_nav_line(line: str) -> bool:
    key = _chrome_key(line)
    if not key or _words(key) > 8:
        return False
    parts = [p for p in _NAV_SEPARATORS.split(key) if p]
    return bool(parts) and all(p in NAV_LINES for p in parts)


def _trim_nav(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and (not lines[start].strip() or _is_nav_line(lines[start])):
        start += 1
    while end > start and (
        not lines[end - 1].strip() or _is_nav_line(lines[end - 1]) or _is_junk(lines[end - 1])
    ):
        end -= 1
    return lines[start:end]


def _is_junk(line: str) -> bool:
    """A closing copyright or "powered by" line; a body sentence mentioning copyright is not."""
    line = line.strip()
    return _words(line) <= 15 and not _is_body(line) and bool(_TRAILING_JUNK.fullmatch(line))


# --------------------------------------------------------------------------- markdown

_MD_HEADING = re.compile(r"^\s{0,3}(?P<marks>#{1,6})\s+(?P<text>.*?)(?:\s+#+)?\s*$")
_MD_RULE = re.compile(r"^\s{0,3}(=+|-{2,}|\*{3,}|_{3,}|(\* ){2,}\*)\s*$")
_MD_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_MD_LINK = re.compile(r"\[(?P<text>[^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_MD_AUTOLINK = re.compile(r"<(?P<url>(?:https?|mailto):[^>\s]+)>")
_MD_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(?P<text>.+?)(?<=\S)\1")
_MD_EM = re.compile(r"(?<![\w*])([*_])(?=\S)(?P<text>[^*_\n]+?)(?<=\S)\1(?![\w*])")
_MD_CODE = re.compile(r"`(?P<text>[^`\n]+)`")
_MD_QUOTE = re.compile(r"^\s{0,3}>\s?")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _split_front_matter(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """Read simple ``key: value`` YAML front matter (title, author, date, source)."""
    if not lines or lines[0].strip() != "---":
        return lines, {}
    for end in range(1, min(len(lines), 60)):
        if lines[end].strip() in {"---", "..."}:
            break
    else:
        return lines, {}
    fields: dict[str, str] = {}
    for line in lines[1:end]:
        m = re.match(r"^(?P<key>[A-Za-z_][\w-]*)\s*:\s*(?P<value>.*)$", line)
        if m is None:
            continue
        value = m["value"].strip().strip("\"'")
        key = m["key"].lower()
        if value and key in {"title", "author", "date", "source"}:
            fields[key] = value
    return lines[end + 1 :], fields


def _strip_markdown(lines: list[str]) -> tuple[list[str], set[int]]:
    """Remove Markdown syntax lightly; return the lines and which were level-1 headings."""
    text = _HTML_COMMENT.sub("", "\n".join(lines))
    out: list[str] = []
    headings: set[int] = set()
    in_fence = False
    for line in text.split("\n"):
        if _MD_FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            out.append(line)
            continue
        if _MD_RULE.match(line):
            # A "===" underline makes the line above a (setext) heading.
            if line.strip().startswith("=") and out and out[-1].strip():
                headings.add(len(out) - 1)
            out.append("")
            continue
        if _MD_REF_DEF.match(line):
            continue
        if m := _MD_HEADING.match(line):
            if m["marks"] == "#":
                headings.add(len(out))
            line = m["text"]
        line = _MD_QUOTE.sub("", line)
        line = _MD_IMAGE.sub("", line)
        line = _MD_LINK.sub(lambda m: m["text"], line)
        line = _MD_AUTOLINK.sub(lambda m: m["url"], line)
        line = _MD_STRONG.sub(lambda m: m["text"], line)
        line = _MD_EM.sub(lambda m: m["text"], line)
        line = _MD_CODE.sub(lambda m: m["text"], line)
        # Removed images leave double spaces behind; Markdown renders runs of spaces as one.
        indent = line[: len(line) - len(line.lstrip())]
        line = indent + re.sub(r" {2,}", " ", line.strip())
        out.append(line if line.strip() else "")
    return out, headings
