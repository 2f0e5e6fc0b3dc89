"""``citeline eval``: retrieval quality on BEIR folders, answer quality on QA sets."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Protocol

import typer
from rich.table import Table

from citeline.console import err, fail, out
from citeline.console import settings as settings_for

if TYPE_CHECKING:
    from answer.service import AnswerService

eval_app = typer.Typer(
    help="Measure retrieval and answer quality.", no_args_is_help=True, add_completion=False
)

ModeChoice = Literal["dense", "bm25", "hybrid", "all"]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines")]
AskIndexOpt = Annotated[Path, typer.Option("--index", "-i", help="Index directory to ask")]
AskModeOpt = Annotated[
    Literal["dense", "bm25", "hybrid"] | None,
    typer.Option(help="Retrieval mode [default: $CITELINE_RETRIEVAL_MODE]"),
]
TopKOpt = Annotated[int | None, typer.Option(min=1, max=50, help="Passages to read")]


@eval_app.command("retrieval")
def retrieval(
    folder: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    ],
    index: Annotated[
        Path | None,
        typer.Option(
            "--index",
            "-i",
            help="Reuse this index if it exists, else ingest the corpus into it "
            "[default: a temporary index]",
        ),
    ] = None,
    mode: Annotated[ModeChoice, typer.Option(help="Retrieval mode, or all side by side")] = "all",
    split: Annotated[str, typer.Option(help="Which qrels/<split>.tsv to score")] = "test",
    dense_weight: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="Hybrid: weight of the dense side")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Passage size when ingesting [default: as ingest]")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option(help="Sentence overlap when ingesting [default: as ingest]")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """nDCG@10, Recall@10/100, MRR@10 (document level) and latency per retrieval mode."""
    from citeline.evaluation.beir import BeirError, evaluate, load_beir, prepared_index
    from index.embedder import Embedder, EmbedderConfig
    from index.retrieval import MODES, FusionSettings
    from index.store import Index, IndexUnavailable
    from ingest.chunker import ChunkerSettings

    try:
        data = load_beir(folder, split)
    except (BeirError, OSError) as exc:
        raise fail(str(exc)) from None
    settings = settings_for()
    fusion = FusionSettings(
        dense_weight=settings.retrieval.fusion_dense_weight
        if dense_weight is None
        else dense_weight,
        candidates=settings.retrieval.fusion_candidates,
    )
    modes = list(MODES) if mode == "all" else [mode]
    with err.status("loading the embedding model...", spinner="dots"):
        embedder = Embedder(
            config=EmbedderConfig.from_settings(
                settings.embedder, role="ingest", threads=settings.embed_threads
            )
        )
    product = ChunkerSettings()
    chunker = ChunkerSettings(
        max_tokens=product.max_tokens if max_tokens is None else max_tokens,
        overlap_sentences=product.overlap_sentences if overlap is None else overlap,
    )
    status = err.status("preparing the index...", spinner="dots")

    def ingesting(done: int, total: int, chunks: int) -> None:
        status.update(f"ingesting the corpus: {chunks} passages embedded")

    try:
        with (
            status,
            prepared_index(data, embedder, index, chunker, ingesting) as (index_dir, summary),
            Index.open(index_dir) as opened,
        ):
            status.update(f"running {len(data.queries)} queries x {len(modes)} modes...")
            results = evaluate(opened, embedder, data, modes, fusion)
            documents, passages = opened.document_count, opened.chunk_count
            indexed = set(opened.bm25.doc_ids)
    except (BeirError, IndexUnavailable) as exc:
        raise fail(str(exc)) from None

    failed = len(summary.failed) if summary else 0
    # A reused index may hold another corpus: judged documents it lacks can never be found.
    judged = {d for rel in data.qrels.values() for d, g in rel.items() if g > 0}
    missing = len(judged - indexed)
    if as_json:
        report = {
            "dataset": str(folder),
            "split": split,
            "queries": results[0].queries if results else 0,
            "documents": documents,
            "passages": passages,
            "failed_documents": failed,
            "judged_documents_missing": missing,
            "dense_weight": fusion.dense_weight,
            "results": {r.mode: r.as_dict() for r in results},
        }
        out.print_json(json.dumps(report))
        return
    table = Table(
        title=f"{folder.name}: {results[0].queries} queries, {documents} documents, "
        f"{passages} passages",
        caption="document level; latency per query incl. embedding the query",
    )
    for col in ("mode", "nDCG@10", "Recall@10", "Recall@100", "MRR@10", "p50 ms", "p99 ms"):
        table.add_column(col, justify="left" if col == "mode" else "right")
    for r in results:
        table.add_row(
            r.mode,
            f"{r.ndcg_10:.3f}",
            f"{r.recall_10:.3f}",
            f"{r.recall_100:.3f}",
            f"{r.mrr_10:.3f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
        )
    out.print(table)
    if failed:
        err.print(f"[yellow]{failed} corpus documents could not be ingested[/]")
    if missing:
        err.print(
            f"[yellow]{missing} of {len(judged)} judged documents are not in the index; "
            "is it an index of this corpus?[/]"
        )


@eval_app.command("qa")
def qa(
    file: Annotated[
        Path, typer.Argument(help='jsonl of {"question", "answers": [..], "gold_doc_id"?}')
    ],
    index: AskIndexOpt,
    mode: AskModeOpt = None,
    top_k: TopKOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answers whose cited quotes contain a gold answer, citation accuracy, abstention."""
    from citeline.evaluation.qa import QaSetError, evaluate_qa, load_qa_set

    try:
        items = load_qa_set(file)
    except (QaSetError, OSError) as exc:
        raise fail(str(exc)) from None
    service = _answer_service(index, mode)
    try:
        with err.status(f"asking {len(items)} questions...", spinner="dots"):
            report = evaluate_qa(service, items, top_k)
    finally:
        service.close()
    title = f"{file.name}: {report.questions} questions, mode {service.mode}"
    _print_report(file, service.mode, report, title, as_json)


@eval_app.command("chat")
def chat(
    file: Annotated[
        Path,
        typer.Argument(help='jsonl of {"dialog_id", "turn", "question", "history", "passage_ids"}'),
    ],
    index: AskIndexOpt,
    mode: AskModeOpt = None,
    top_k: TopKOpt = None,
    verbose: Annotated[
        bool, typer.Option(help="Print each follow-up and its condensed form")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Follow-ups with their history vs alone vs a person's rewrite: gold passage cited.

    Goes through the same answer service as /v1/chat (condensing, retrieval,
    answer), in this process; an LLM is used when CITELINE_LLM_BASE_URL is set."""
    from collections.abc import Sequence

    from citeline.evaluation.chat import DialogSetError, evaluate_chat, load_dialogs

    try:
        turns = load_dialogs(file)
    except (DialogSetError, OSError) as exc:
        raise fail(str(exc)) from None
    service = _answer_service(index, mode)

    def ask(messages: Sequence[dict[str, str]]) -> tuple[str, list[str]]:
        question, answer = service.chat_sync(messages, top_k)
        return question, [] if answer.abstained else [c.doc_id for c in answer.citations]

    try:
        with err.status(f"asking {len(turns)} turns three ways...", spinner="dots"):
            report = evaluate_chat(ask, turns, err.print if verbose else None)
    finally:
        service.close()
    _print_report(
        file, service.mode, report, f"{file.name}: follow-ups, mode {service.mode}", as_json
    )


class _Report(Protocol):
    def as_dict(self) -> dict[str, object]: ...

    def rows(self) -> Iterable[tuple[str, str]]: ...


def _answer_service(index: Path, mode: Literal["dense", "bm25", "hybrid"] | None) -> AnswerService:
    """The answer path users get (the LLM when CITELINE_LLM_BASE_URL is set) over
    ``index``, or a CLI error naming what is wrong with the index."""
    from answer.service import AnswerService
    from index.store import Index, IndexUnavailable
    from index.vector_store import BackendConfig

    settings = settings_for(index)
    try:
        Index.open(index, BackendConfig.from_settings(settings.backend)).close()
    except IndexUnavailable as exc:
        raise fail(str(exc)) from None
    with err.status("loading the index and the model...", spinner="dots"):
        service = AnswerService.from_settings(settings, mode=mode)
    if service.index_error is not None:
        service.close()
        raise fail(service.index_error)
    return service


def _print_report(file: Path, mode: str, report: _Report, title: str, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps({"file": str(file), "mode": mode, **report.as_dict()}))
        return
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in report.rows():
        table.add_row(label, value)
    out.print(table)


if __name__ == "__main__":
    eval_app()
