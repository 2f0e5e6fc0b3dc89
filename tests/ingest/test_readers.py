"""Finding input files and reading them into Articles, with every bad input a Failure."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from index.models import Article, Failure
from ingest.readers import SUPPORTED_SUFFIXES, ReadResult, discover, read_file

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SEED = SHARED / "corpus" / "seed" / "putin-visit-to-azerbaijan.txt"
BBC = SHARED / "data" / "bbc" / "corpus.jsonl"

BODY = (
    "The harbour reopened on Monday after three weeks of repairs. Fishing crews were the first "
    "to return, and the market on the quay was busy again by noon."
)


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (it lives beside the repo)")
    return path


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _only_failure(result: ReadResult) -> Failure:
    assert result.articles == []
    assert len(result.failures) == 1
    return result.failures[0]


def _only_article(result: ReadResult) -> Article:
    assert result.failures == []
    assert len(result.articles) == 1
    return result.articles[0]


# --------------------------------------------------------------------------- discover


def test_discover_walks_directories_sorted_and_skips_hidden_and_unsupported(
    tmp_path: Path,
) -> None:
    root = tmp_path / "docs"
    for name in ["b.md", "a.txt", "sub/c.html", "sub/deeper/d.jsonl", "z.HTM", "x.markdown"]:
        _write(root / name, BODY)
    for name in [".hidden.txt", ".git/config.txt", "sub/.cache/e.txt", "notes.odt", "README"]:
        _write(root / name, BODY)

    found, failures = discover([root])

    assert failures == []
    assert [f.relative_to(root).as_posix() for f, _ in found] == [
        "a.txt",
        "b.md",
        "sub/c.html",
        "sub/deeper/d.jsonl",
        "x.markdown",
        "z.HTM",
    ]
    assert all(r == root for _, r in found)


def test_discover_single_file_missing_path_and_unsupported_file(tmp_path: Path) -> None:
    good = _write(tmp_path / "one.txt", BODY)
    pdf = _write(tmp_path / "paper.odt", b"PK")
    missing = tmp_path / "nope.txt"

    found, failures = discover([good, missing, pdf])

    assert found == [(good, tmp_path)]
    reasons = {Path(f.source).name: f.reason for f in failures}
    assert reasons["nope.txt"] == "no such file or directory"
    assert "'.odt'" in reasons["paper.odt"]
    assert all(suffix in reasons["paper.odt"] for suffix in SUPPORTED_SUFFIXES)


def test_discover_does_not_repeat_a_file_given_twice(tmp_path: Path) -> None:
    file = _write(tmp_path / "d" / "a.txt", BODY)
    found, failures = discover([tmp_path / "d", file])
    assert found == [(file, tmp_path / "d")]
    assert failures == []


def test_discover_reports_a_directory_without_supported_files(tmp_path: Path) -> None:
    _write(tmp_path / "d" / "scan.odt", b"PK")
    found, failures = discover([tmp_path / "d"])
    assert found == []
    assert len(failures) == 1 and "no supported files" in failures[0].reason


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_discover_refuses_symlinks_that_escape_the_root(tmp_path: Path) -> None:
    secret = _write(tmp_path / "outside" / "secret.txt", "private notes")
    _write(tmp_path / "outside" / "more.txt", "more private notes")
    root = tmp_path / "root"
    inside = _write(root / "real.txt", BODY)
    (root / "escape.txt").symlink_to(secret)
    (root / "escape_dir").symlink_to(tmp_path / "outside", target_is_directory=True)
    (root / "alias.txt").symlink_to(inside)

    found, failures = discover([root])

    # The in-root alias points at a file that is read anyway, under its own name.
    assert found == [(inside, root)]
    assert {Path(f.source).name for f in failures} == {"escape.txt", "escape_dir"}
    assert all("symlink points outside" in f.reason for f in failures)


# --------------------------------------------------------------------------- read_file: formats


def test_read_txt_article_fields(tmp_path: Path) -> None:
    path = _write(tmp_path / "news" / "harbour.txt", f"Harbour Reopens\nBy Jane Doe\n\n{BODY}\n")
    article = _only_article(read_file(path, tmp_path))
    assert article.doc_id == "news/harbour.txt"
    assert article.source == "news/harbour.txt"
    assert (article.title, article.author, article.text) == ("Harbour Reopens", "Jane Doe", BODY)
    assert article.metadata == {"path": "news/harbour.txt", "format": "txt"}


def test_read_markdown_article(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "post.markdown", f"# Harbour *Reopens*\n\n{BODY} [Map](https://m.example)"
    )
    article = _only_article(read_file(path, tmp_path))
    assert article.title == "Harbour Reopens"
    assert article.text == f"{BODY} Map"
    assert article.metadata["format"] == "md"


def test_read_html_article_uses_url_as_source(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Harbour Reopens</title>"
        '<link rel="canonical" href="https://coastal.example/harbour">'
        '<meta property="og:site_name" content="Coastal Times">'
        '<meta property="article:published_time" content="2024-03-12"></head>'
        f"<body><nav>Home</nav><article><p>{BODY}</p><script>alert(1)</script></article></body></html>"
    )
    path = _write(tmp_path / "page.htm", page)
    article = _only_article(read_file(path, tmp_path))
    assert article.source == article.url == "https://coastal.example/harbour"
    assert article.date == "2024-03-12"
    assert article.text == BODY
    assert article.metadata == {
        "path": "page.htm",
        "format": "html",
        "publication": "Coastal Times",
    }


def test_read_utf8_with_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.txt", "\ufeffCafé Notes\n\nThe café reopened.".encode())
    article = _only_article(read_file(path, tmp_path))
    assert article.title == "Café Notes"
    assert article.text == "The café reopened."


def test_seed_article_through_the_reader() -> None:
    seed = _require(SEED)
    root = seed.parent.parent
    article = _only_article(read_file(seed, root))
    assert article.doc_id == "seed/putin-visit-to-azerbaijan.txt"
    assert article.author == "George Meneshian"
    first_line = seed.read_text(encoding="utf-8").splitlines()[0]
    assert article.title == first_line.rsplit(" By ", 1)[0]
    source_line = next(
        line for line in seed.read_text(encoding="utf-8").splitlines() if line.startswith("Source:")
    )
    assert article.metadata["publication"] == source_line.split(":", 1)[1].strip()
    assert "Gazprom" in article.text


# --------------------------------------------------------------------------- read_file: failures


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        (
            "image.txt",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20,
            "binary file (not text); skipped",
        ),
        (
            "latin1.txt",
            "Café crème".encode("latin-1"),
            "not valid UTF-8 text (byte 3); re-save it as UTF-8",
        ),
        ("utf16.txt", "Hello".encode("utf-16"), "UTF-16 text; re-save it as UTF-8"),
        ("empty.md", b"", "empty: no text after cleaning"),
        ("blank.txt", b"  \n\t\n \xc2\xa0 \n", "empty: no text after cleaning"),
        (
            "scripts.html",
            b"<script>alert(1)</script><style>p{}</style>",
            "empty: no text after cleaning",
        ),
        ("nothing.jsonl", b"\n\n", "empty: no text after cleaning"),
    ],
)
def test_bad_files_become_failures(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = _write(tmp_path / name, content)
    failure = _only_failure(read_file(path, tmp_path))
    assert failure == Failure(name, reason)


def test_oversized_file_is_skipped(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.txt", "word " * 100)
    failure = _only_failure(read_file(path, tmp_path, max_bytes=100))
    assert failure.source == "big.txt"
    assert failure.reason.startswith("file is larger than 100 bytes")
    assert failure.reason.endswith("skipped")
    assert _only_article(read_file(path, tmp_path, max_bytes=1000)).text.startswith("word word")


def test_bad_files_do_not_stop_the_good_ones(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    _write(root / "a_good.txt", f"Harbour Reopens\n\n{BODY}")
    _write(root / "b_binary.txt", b"\x00\x01\x02" * 10)
    _write(root / "c_latin1.md", "Crème brûlée".encode("latin-1"))
    _write(root / "d_empty.html", b"   ")
    _write(root / "e_big.txt", "x" * 5000)
    _write(root / "f_good.md", f"# Tides\n\n{BODY}")

    found, failures = discover([root])
    articles: list[Article] = []
    for path, file_root in found:
        result = read_file(path, file_root, max_bytes=4096)
        articles.extend(result.articles)
        failures.extend(result.failures)

    assert [a.doc_id for a in articles] == ["a_good.txt", "f_good.md"]
    reasons = {f.source: f.reason for f in failures}
    assert set(reasons) == {"b_binary.txt", "c_latin1.md", "d_empty.html", "e_big.txt"}
    assert "binary" in reasons["b_binary.txt"]
    assert "UTF-8" in reasons["c_latin1.md"]
    assert "empty" in reasons["d_empty.html"]
    assert "larger than" in reasons["e_big.txt"]


# --------------------------------------------------------------------------- JSONL


def _jsonl(*lines: object) -> str:
    return "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"


def test_jsonl_ids_metadata_and_sources(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "data" / "news.jsonl",
        _jsonl(
            {"_id": "business/001", "category": "business", "title": "Profits Up", "text": BODY},
            "",
            {
                "id": 7,
                "text": f"Tides\n\n{BODY}",
                "url": "https://t.example/7",
                "author": "Ana Ruiz",
                "date": "2024-01-05",
                "metadata": {"page": 3, "lang": "en"},
                "lang": "top",
            },
        ),
    )
    result = read_file(path, tmp_path)
    assert result.failures == []
    first, second = result.articles

    assert first.doc_id == "business/001"
    assert first.title == "Profits Up"
    assert first.text == BODY
    assert first.source == "data/news.jsonl#business/001"
    assert first.metadata == {"category": "business", "path": "data/news.jsonl", "format": "jsonl"}

    assert second.doc_id == "7"
    assert second.title == "Tides"  # detected from the text when the record has none
    assert second.text == BODY
    assert (second.url, second.source) == ("https://t.example/7", "https://t.example/7")
    assert (second.author, second.date) == ("Ana Ruiz", "2024-01-05")
    # Nested metadata is merged; a top-level key of the same name wins.
    assert second.metadata["page"] == 3 and second.metadata["lang"] == "top"


def test_jsonl_title_field_wins_and_text_is_kept(tmp_path: Path) -> None:
    lead = "Boats are back"
    path = _write(
        tmp_path / "t.jsonl", _jsonl({"id": "a", "title": "Harbour", "text": f"{lead}\n\n{BODY}"})
    )
    article = _only_article(read_file(path, tmp_path))
    assert article.title == "Harbour"
    assert article.text == f"{lead}\n\n{BODY}"


def test_jsonl_html_text_is_cleaned_as_html(tmp_path: Path) -> None:
    record = {
        "id": "h1",
        "text": f"<div><p>{BODY}</p><script>alert(1)</script><p>A &amp; B</p></div>",
    }
    path = _write(tmp_path / "h.jsonl", _jsonl(record))
    article = _only_article(read_file(path, tmp_path))
    assert article.text == f"{BODY}\n\nA & B"


def test_jsonl_bad_lines_are_reported_by_line_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "c.jsonl",
        _jsonl(
            {"id": "ok-1", "text": BODY},
            "{not json",
            {"title": "no id", "text": BODY},
            {"id": "no-text", "text": "   "},
            ["a", "list"],
            {"id": True, "text": BODY},
            {"id": "ok-1", "text": "again"},
            {"_id": "ok-2", "text": BODY},
        ),
    )
    result = read_file(path, tmp_path)

    assert [a.doc_id for a in result.articles] == ["ok-1", "ok-2"]
    reasons = {f.source: f.reason for f in result.failures}
    assert list(reasons) == [
        "c.jsonl:2",
        "c.jsonl:3",
        "c.jsonl:4",
        "c.jsonl:5",
        "c.jsonl:6",
        "c.jsonl:7",
    ]
    assert reasons["c.jsonl:2"].startswith("invalid JSON: ")
    assert reasons["c.jsonl:3"] == "missing 'id' or '_id'"
    assert reasons["c.jsonl:4"] == "missing or empty 'text'"
    assert reasons["c.jsonl:5"] == "expected a JSON object, got list"
    assert reasons["c.jsonl:6"] == "'id' must be a string or an integer"
    assert reasons["c.jsonl:7"] == "duplicate id 'ok-1' (first seen on line 1); skipped"


def test_jsonl_bad_bytes_and_huge_records_fail_alone(tmp_path: Path) -> None:
    good = json.dumps({"id": "g", "text": BODY}).encode()
    latin = json.dumps({"id": "l", "text": "caf"}).encode().replace(b"caf", b"caf\xe9")
    huge = json.dumps({"id": "h", "text": "word " * 200}).encode()
    path = _write(
        tmp_path / "m.jsonl", b"\n".join([good, latin, huge, good.replace(b'"g"', b'"g2"')])
    )

    result = read_file(path, tmp_path, max_bytes=500)

    assert [a.doc_id for a in result.articles] == ["g", "g2"]
    reasons = {f.source: f.reason for f in result.failures}
    byte = len(good) + 1 + latin.index(b"\xe9")
    assert reasons["m.jsonl:2"] == f"not valid UTF-8 text (byte {byte}); re-save it as UTF-8"
    assert reasons["m.jsonl:3"].startswith("record is larger than 500 bytes")


def test_binary_jsonl_is_one_failure(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.jsonl", b'{"id": 1}\x00\x00garbage')
    assert _only_failure(read_file(path, tmp_path)).reason == "binary file (not text); skipped"


def test_real_bbc_corpus_reads_completely() -> None:
    corpus = _require(BBC)
    result = read_file(corpus, corpus.parent)
    assert result.failures == []
    with corpus.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    assert [a.doc_id for a in result.articles] == [r["_id"] for r in records]
    first, record = result.articles[0], records[0]
    assert first.doc_id == "business/001"
    assert first.title == record["title"]
    assert first.metadata["category"] == record["category"]
    assert first.source == "corpus.jsonl#business/001"
    # The cleaned text keeps every word of the source text.
    assert all(
        len(a.text.split()) == len(r["text"].split())
        for a, r in zip(result.articles, records, strict=True)
    )
