"""``citeline eval`` end to end: a BEIR folder and a QA set written by the test,
run through the real CLI with the real model, ingest and index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citeline.eval_cli import eval_app
from citeline.evaluation.qa import contains_answer, load_qa_set, normalize_answer
from tests.conftest import SEED_ARTICLE

CORPUS = [
    ("d1", "Port strike", "Dock workers ended their strike after the union accepted a pay rise."),
    ("d2", "Rates held", "The central bank kept interest rates unchanged as inflation slowed."),
    ("d3", "Tulip garden", "Volunteers planted tulips in the old rail yard garden."),
    ("d4", "Derby draw", "The city derby ended in a draw after a late penalty."),
    ("d5", "Comet seen", "Astronomers photographed a bright comet passing near Mars."),
]
QUERIES = {
    "q1": "dock workers strike pay",  # relevant: d1
    "q2": "interest rate decision",  # relevant: d2
    "q3": "comet near Mars",  # relevant: d5 (graded 2) and, weakly, d3 (1)
    "q4": "a query nobody judged",
}
QRELS = [("q1", "d1", 1), ("q2", "d2", 1), ("q3", "d5", 2), ("q3", "d3", 1)]


def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    with (folder / "corpus.jsonl").open("w") as fh:
        for doc_id, title, text in CORPUS:
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (folder / "queries.jsonl").open("w") as fh:
        for qid, text in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{s}" for q, d, s in QRELS]
    (folder / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n")
    return folder


def test_eval_retrieval_all_modes(tmp_path: Path) -> None:
    beir = write_beir(tmp_path / "tiny")
    index_dir = tmp_path / "index"
    runner = CliRunner()
    result = runner.invoke(eval_app, ["retrieval", str(beir), "--index", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["queries"] == 3 and report["documents"] == 5  # q4 has no judgments
    assert report["judged_documents_missing"] == 0
    assert set(report["results"]) == {"dense", "bm25", "hybrid"}
    for mode, r in report["results"].items():
        # Each judged query's best document is unambiguous here, so every mode
        # puts it first; q3's second relevant document caps nDCG below 1.
        assert r["mrr_10"] == pytest.approx(1.0), mode
        # Keyword search cannot reach q3's weak match (no shared term); the others can.
        expected_recall = (1 + 1 + 0.5) / 3 if mode == "bm25" else 1.0
        assert r["recall_100"] == pytest.approx(expected_recall), mode
        assert 0.9 < r["ndcg_10"] <= 1.0, mode
        assert 0 < r["p50_ms"] <= r["p99_ms"], mode
    # The index was kept: a second run reuses it and prints a table for people.
    again = runner.invoke(eval_app, ["retrieval", str(beir), "--index", str(index_dir)])
    assert again.exit_code == 0, again.output
    assert "nDCG@10" in again.stdout and "hybrid" in again.stdout
    one = runner.invoke(
        eval_app, ["retrieval", str(beir), "-i", str(index_dir), "--mode", "bm25", "--json"]
    )
    assert list(json.loads(one.stdout)["results"]) == ["bm25"]
    # Reusing an index of another corpus is flagged: a judged document it lacks.
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\tzz9\t1\n")
    other = runner.invoke(eval_app, ["retrieval", str(beir), "-i", str(index_dir), "--json"])
    assert json.loads(other.stdout)["judged_documents_missing"] == 1


def test_eval_retrieval_rejects_a_folder_that_is_not_beir(tmp_path: Path) -> None:
    result = CliRunner().invoke(eval_app, ["retrieval", str(tmp_path)])
    assert result.exit_code == 2
    assert "corpus.jsonl is missing" in result.output


def test_squad_normalisation() -> None:
    assert normalize_answer("The  Strategic-Partnership!") == "strategicpartnership"
    assert (
        normalize_answer("an Extensive, strategic partnership.")
        == "extensive strategic partnership"
    )
    assert contains_answer(
        ["A deal on an extensive strategic partnership."], ["Strategic partnership"]
    )
    # Whole words only: "art" is not found inside "partnership".
    assert not contains_answer(["strategic partnership"], ["art"])
    assert not contains_answer([], ["anything"])


def test_eval_qa_on_the_seed_article(tmp_path: Path, seed_index: Path) -> None:
    qa_file = tmp_path / "qa.jsonl"
    doc_id = SEED_ARTICLE.name
    rows = [
        {
            "question": "What did Gazprom and SOCAR sign?",
            "answers": ["strategic partnership"],
            "gold_doc_id": doc_id,
        },
        {
            "question": "Who did Putin meet in Baku?",
            "answers": ["Ilham Aliyev"],
            "gold_doc_id": doc_id,
        },
        {"question": "What is the melting point of tungsten?", "answers": []},
    ]
    qa_file.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert len(load_qa_set(qa_file)) == 3
    result = CliRunner().invoke(
        eval_app, ["qa", str(qa_file), "--index", str(seed_index), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["questions"] == 3 and report["answerable"] == 2
    # The headline question: its cited quote holds the answer, from the one article.
    assert report["answer_in_quotes"] >= 0.5
    assert report["citation_doc_accuracy"] == pytest.approx(1.0)
    assert report["gold_doc_cited"] == pytest.approx(1.0)
    assert 0.0 <= report["abstention_rate"] <= 1.0
    assert report["p50_ms"] > 0
    table = CliRunner().invoke(eval_app, ["qa", str(qa_file), "-i", str(seed_index)])
    assert "answer found in cited quotes" in table.stdout


def test_eval_qa_reports_a_bad_line(tmp_path: Path, seed_index: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "answers": ["x"]}\n{"question": "", "answers": []}\n')
    result = CliRunner().invoke(eval_app, ["qa", str(bad), "--index", str(seed_index)])
    assert result.exit_code == 2 and "bad.jsonl:2" in result.output


def test_eval_chat_on_the_seed_article(tmp_path: Path, seed_index: Path) -> None:
    doc_id = SEED_ARTICLE.name
    first = "Why did Putin visit Azerbaijan?"
    follow_up = "What did Gazprom and SOCAR sign during the visit?"
    turns = [
        {"dialog_id": "d", "turn": 1, "question": first, "history": [], "passage_ids": [doc_id]},
        {
            "dialog_id": "d",
            "turn": 2,
            "question": follow_up,
            "history": [
                {"role": "user", "content": first},
                {"role": "assistant", "content": "To sign agreements on energy."},
            ],
            "passage_ids": [doc_id],
            "rewrite": "What did Gazprom and SOCAR sign during Putin's visit to Azerbaijan?",
        },
    ]
    dialogs = tmp_path / "dialogs.jsonl"
    dialogs.write_text("\n".join(json.dumps(t) for t in turns) + "\n")
    args = ["chat", str(dialogs), "--index", str(seed_index), "--mode", "bm25"]
    result = CliRunner().invoke(eval_app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["mode"] == "bm25" and report["file"] == str(dialogs)
    # One follow-up (turn 1 has no history); the index holds one article: every answer
    # to a question it can answer cites it.
    assert report["follow_ups"] == 1 and report["with_rewrite_turns"] == 1
    assert report["with_history"] == pytest.approx(1.0)
    table = CliRunner().invoke(eval_app, args)
    assert table.exit_code == 0 and "follow-ups, mode bm25" in table.stdout


@pytest.mark.parametrize("command", ["qa", "chat"])
def test_eval_answers_name_a_missing_index(tmp_path: Path, command: str) -> None:
    line = {"question": "q?", "answers": ["a"]}
    if command == "chat":
        line = {"dialog_id": "d", "turn": 1, "question": "q?", "history": []}
    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps(line) + "\n")
    missing = tmp_path / "no-index"
    result = CliRunner().invoke(eval_app, [command, str(data), "--index", str(missing)])
    assert result.exit_code != 0
    assert str(missing) in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("second_line", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"dialog_id": "d", "question": "no turn number"}', "not a dialog turn"),
    ],
)
def test_eval_chat_reports_a_bad_line(
    tmp_path: Path, seed_index: Path, second_line: str, reason: str
) -> None:
    bad = tmp_path / "dialogs.jsonl"
    good = {"dialog_id": "d", "turn": 1, "question": "q?", "history": []}
    bad.write_text(json.dumps(good) + "\n\n" + second_line + "\n")
    result = CliRunner().invoke(eval_app, ["chat", str(bad), "--index", str(seed_index)])
    assert result.exit_code == 2
    assert "dialogs.jsonl:3" in result.output and reason in result.output
