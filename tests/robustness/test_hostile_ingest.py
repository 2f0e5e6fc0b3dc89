"""Ingest of hostile folders: symlinks out of the folder, oversized files, pathological HTML."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.store import Index
from ingest.pipeline import Ingestor

PARAGRAPH = (
    "The harbour inspectors of Zorblax checked every crane in the spring survey and "
    "wrote down the condition of the cables, the brakes and the rails. "
)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "articles"
    root.mkdir()
    (root / "good.txt").write_text("A good article\n\n" + PARAGRAPH * 3, encoding="utf-8")
    return root


def _ingest(
    embedder: Embedder, index_dir: Path, folder: Path, max_file_bytes: int = 20 * 1024 * 1024
) -> tuple[dict[str, str], set[str]]:
    summary = Ingestor(embedder, index_dir, max_file_bytes=max_file_bytes).run([folder])
    failed = {Path(f.source).name: f.reason for f in summary.failed}
    with Index.open(index_dir) as index:
        docs = index.doc_ids_matching({})
    return failed, docs


def test_symlinks_out_of_the_folder_are_not_followed(
    tmp_path: Path, folder: Path, embedder: Embedder
) -> None:
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET " + PARAGRAPH, encoding="utf-8")
    os.symlink(outside / "secret.txt", folder / "innocent.txt")
    os.symlink(outside, folder / "subfolder")
    os.symlink("/etc/passwd", folder / "passwd.txt")
    (folder / "inside.txt").symlink_to(folder / "good.txt")  # inside: harmless duplicate
    failed, docs = _ingest(embedder, tmp_path / "index", folder)
    assert docs == {"good.txt"}
    assert "outside" in failed["innocent.txt"] and "outside" in failed["passwd.txt"]
    assert "outside" in failed["subfolder"]
    with Index.open(tmp_path / "index") as index:
        good = index.document("good.txt")
        assert good is not None and "SECRET" not in good.text


def test_oversized_files_are_skipped_with_a_message(
    tmp_path: Path, folder: Path, embedder: Embedder
) -> None:
    (folder / "huge.txt").write_text("Huge\n\n" + PARAGRAPH * 200, encoding="utf-8")
    (folder / "huge.html").write_text("<p>" + PARAGRAPH * 200 + "</p>", encoding="utf-8")
    failed, docs = _ingest(embedder, tmp_path / "index", folder, max_file_bytes=8_000)
    assert docs == {"good.txt"}
    assert "larger than" in failed["huge.txt"] and "larger than" in failed["huge.html"]


def test_deep_and_malformed_html_is_survived(
    tmp_path: Path, folder: Path, embedder: Embedder
) -> None:
    depth = 20_000
    (folder / "deep.html").write_text(
        "<html><body>"
        + "<div>" * depth
        + f"<p>{PARAGRAPH}</p>"
        + "</div>" * depth
        + "</body></html>",
        encoding="utf-8",
    )
    (folder / "broken.html").write_text(
        "<html><head><title>Broken page</title><body><p>"
        + PARAGRAPH
        + "<b><i>unclosed <table><tr><td>cell<p>more "
        + PARAGRAPH
        + "<!-- never closed",
        encoding="utf-8",
    )
    # An unclosed <title> makes the rest of the file title text, as in a browser.
    (folder / "swallowed.html").write_text(
        "<html><head><title>Never closed<body><p>" + PARAGRAPH, encoding="utf-8"
    )
    (folder / "binary.html").write_bytes(b"<html>\x00\x01\x02\xff\xfe" + os.urandom(2000))
    (folder / "entities.html").write_text(
        "<p>" + "&amp;" * 20_000 + PARAGRAPH + "</p>", encoding="utf-8"
    )
    failed, docs = _ingest(embedder, tmp_path / "index", folder)
    # every file is either ingested or listed as failed with a reason: nothing crashes
    assert {"good.txt", "broken.html", "deep.html"} <= docs
    assert docs | set(failed) >= {"binary.html", "entities.html", "swallowed.html"}
    assert "empty" in failed["swallowed.html"]
    assert all(reason for reason in failed.values())
    with Index.open(tmp_path / "index") as index:
        for doc_id in ("broken.html", "deep.html"):
            document = index.document(doc_id)
            assert document is not None and "harbour inspectors" in document.text, doc_id
