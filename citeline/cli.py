"""The ``citeline`` command: ingest, serve, ask, search."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from citeline.access_cli import collections_app, keys_app
from citeline.console import err, fail, out, setup_logging
from citeline.console import settings as settings_for
from citeline.eval_cli import eval_app
from citeline.feedback_cli import feedback_app
from citeline.migrate_cli import migrate
from citeline.settings import Settings
from citeline.slack_cli import slack

if TYPE_CHECKING:
    from answer.service import AnswerService
    from ingest.pipeline import IngestSummary

app = typer.Typer(
    help="Citeline: answers from your articles, every claim cited to its exact passage.",
    no_args_is_help=True,
    add_completion=False,
)

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", "-i", help="Index directory [default: $CITELINE_INDEX or var/index]"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines")]
CollectionsOpt = Annotated[
    list[str] | None,
    typer.Option("--collection", "-c", help="Collection to use (repeatable) [default: all]"),
]
ModeOpt = Annotated[
    str | None,
    typer.Option(help="dense, bm25 or hybrid [default: $CITELINE_RETRIEVAL_MODE or hybrid]"),
]


def _mode(mode: str | None) -> Literal["dense", "bm25", "hybrid"] | None:
    if mode not in (None, "dense", "bm25", "hybrid"):
        raise fail(f"--mode must be dense, bm25 or hybrid, not {mode!r}")
    return mode  # type: ignore[return-value]


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="Files or folders of .txt .md .html .pdf .docx .jsonl, or http(s) URLs of "
            "pages, RSS/Atom feeds or sitemaps"
        ),
    ],
    index: IndexOpt = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Let URLs reach loopback and private addresses (refused by default)",
        ),
    ] = False,
    delay: Annotated[
        float, typer.Option(min=0, help="Seconds between two requests to one host")
    ] = 1.0,
    collection: Annotated[
        str | None,
        typer.Option(
            help="Collection under the --index root to ingest into (created if new) "
            "[default: default, the root's own index]"
        ),
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Passage size in cl100k tokens")] = 200,
    overlap: Annotated[int, typer.Option(help="Sentences shared by neighbouring passages")] = 1,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            help="Also write this run's counters in Prometheus text format "
            "(for node_exporter's textfile collector)"
        ),
    ] = None,
    as_json: JsonOpt = False,
    ray: Annotated[
        bool,
        typer.Option(
            "--ray",
            help="Read, chunk and embed on Ray: a local cluster of this machine's cores "
            "unless --ray-address names one (pip install 'citeline[scale]')",
        ),
    ] = False,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster to use, implies --ray: auto, ray://HOST:10001 or HOST:PORT"),
    ] = None,
    ray_actors: Annotated[
        int, typer.Option(min=1, help="Embedding actors on Ray, each loads the model once")
    ] = 1,
    ray_batch: Annotated[
        int, typer.Option(min=1, help="Articles per embedding batch of a Ray actor")
    ] = 64,
    embed_backend: Annotated[
        str | None,
        typer.Option(
            help="Embedder runtime: torch, onnx, openvino or openvino-bf16 "
            "[default: $CITELINE_EMBED_BACKEND or openvino-bf16]"
        ),
    ] = None,
    ray_gpus_per_actor: Annotated[
        float,
        typer.Option(min=0, help="GPUs per Ray embedding actor (with CITELINE_EMBED_DEVICE=cuda)"),
    ] = 0.0,
) -> None:
    """Build or update an index from articles; only changed articles are re-embedded."""
    import contextlib

    from index.embedder import EmbedderConfig
    from index.store import IndexUnavailable
    from index.vector_store import BackendConfig
    from ingest.chunker import ChunkerSettings
    from ingest.pipeline import Ingestor

    settings = settings_for(index)
    backend = BackendConfig.from_settings(settings.backend)
    if embed_backend is not None:
        from index.embedder import BACKENDS

        if embed_backend not in BACKENDS:
            raise fail(
                f"--embed-backend must be one of {', '.join(BACKENDS)}, not {embed_backend!r}"
            )
        settings.embedder.backend = embed_backend
    embed_config = EmbedderConfig.from_settings(
        settings.embedder, role="ingest", threads=settings.embed_threads
    )
    if collection is not None:
        from index.collections import CollectionError, Registry

        try:
            settings.index = Registry(settings.index).path_of(collection)
        except CollectionError as exc:
            raise fail(str(exc)) from None
    chunker = ChunkerSettings(max_tokens=max_tokens, overlap_sentences=overlap)
    urls = [p for p in paths if p.lower().startswith(("http://", "https://"))]
    files = [Path(p) for p in paths if p not in urls]
    if urls and (ray or ray_address):
        raise fail("--ray reads files only; ingest URLs without --ray")
    cluster: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if ray or ray_address:
        import importlib.util

        from ingest.ray_ingest import RayOptions, check_address, ray_cluster, ray_ingestor

        if importlib.util.find_spec("ray") is None:
            raise fail("--ray needs Ray: pip install 'citeline[scale]'")

        try:
            options = RayOptions(
                address=check_address(ray_address or "local"),
                actors=ray_actors,
                batch_size=ray_batch,
                embed_threads=settings.embed_threads,
                embedder=embed_config,
                gpus_per_actor=ray_gpus_per_actor,
                tiktoken_bpe=settings.tiktoken_bpe,
            )
        except ValueError as exc:
            raise fail(f"--ray-address: {exc}") from None
        ingestor = ray_ingestor(settings.index, chunker, options=options, backend=backend)
        cluster = ray_cluster(options)
    else:
        from index.embedder import Embedder

        with err.status("loading the embedding model...", spinner="dots"):
            embedder = Embedder(config=embed_config)
        ingestor = Ingestor(embedder, settings.index, chunker, backend=backend)
    bar = Progress(
        TextColumn("[bold]ingest[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} passages embedded"),
        TimeElapsedColumn(),
        console=err,
        disable=not progress,
        transient=False,
    )
    try:
        with cluster, bar:
            task = bar.add_task("ingest", total=None, chunks=0)

            def report(done: int, total: int, chunks: int) -> None:
                bar.update(task, completed=done, total=total, chunks=chunks)

            if urls:
                from ingest.fetch import Fetcher, FetchPolicy
                from ingest.urlsafety import URLPolicy
                from ingest.web import WebSource

                policy = FetchPolicy(
                    per_host_delay=delay, urls=URLPolicy(allow_private=allow_private)
                )
                with Fetcher(policy) as fetcher:
                    summary = ingestor.run(
                        files,
                        progress=report,
                        web=[WebSource(u) for u in urls],
                        fetcher=fetcher,
                    )
            else:
                summary = ingestor.run(files, progress=report)
    except IndexUnavailable as exc:
        raise fail(str(exc)) from None
    except ConnectionError as exc:  # no Ray cluster at the given address
        raise fail(f"cannot reach the Ray cluster: {exc}") from None
    if metrics_file is not None:
        from server.metrics import write_ingest_metrics

        write_ingest_metrics(summary, str(metrics_file))

    _print_summary(summary, settings.index, as_json, backend=ingestor.model.backend)
    if not summary.read_anything:
        raise fail("no article could be read from the given paths; the index was not changed", 1)


def _print_summary(
    summary: IngestSummary, index: Path, as_json: bool, backend: str | None = None
) -> None:
    if as_json:
        extra = {"embed_backend": backend} if backend else {}
        out.print_json(json.dumps({**summary.as_dict(), **extra}))
        return
    table = Table(title=f"Ingest into {index}", show_header=False)
    rows: list[tuple[str, object]] = [
        ("added", summary.added),
        ("updated", summary.updated),
        ("unchanged", summary.unchanged),
        ("removed", summary.removed),
        ("failed", len(summary.failed)),
        ("passages embedded", summary.chunks_embedded),
    ]
    if summary.requests:
        rows += [("HTTP requests", summary.requests), ("not modified (304)", summary.not_modified)]
    rows += [
        ("index documents", summary.documents),
        ("index passages", summary.chunks),
        ("seconds", f"{summary.seconds:.1f}"),
    ]
    if backend:
        rows.append(("embedder backend", backend))
    for label, value in rows:
        table.add_row(label, str(value))
    err.print(table)
    for f in summary.failed:
        err.print(f"[yellow]skipped[/] {f.source}: {f.reason}")
    if not summary.committed and summary.read_anything:
        err.print("nothing changed; the index was left as it was")


@app.command()
def sync(
    sources: Annotated[
        Path, typer.Option("--sources", "-s", help="TOML file of folders, feeds, sitemaps, URLs")
    ],
    index: IndexOpt = None,
    every: Annotated[
        str | None,
        typer.Option(help="Run again at this interval (90s, 15m, 1h); default: run once"),
    ] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private",
            help="Let URLs reach loopback and private addresses (else only the file's allow list)",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Keep an index in line with a sources file, once or on a schedule (README "Sync")."""
    import time as time_mod

    from index.store import IndexUnavailable
    from index.vector_store import BackendConfig
    from ingest.fetch import Fetcher
    from ingest.pipeline import Ingestor
    from ingest.sources import SourcesError, load_sources, parse_interval

    settings = settings_for(index)
    backend = BackendConfig.from_settings(settings.backend)
    try:
        interval = parse_interval(every) if every else None
        plan = load_sources(sources, allow_private=allow_private)
    except (SourcesError, ValueError) as exc:
        raise fail(str(exc)) from None
    from index.embedder import Embedder

    with err.status("loading the embedding model...", spinner="dots"):
        embedder = Embedder(threads=settings.embed_threads)
    ingestor = Ingestor(embedder, settings.index, backend=backend)
    while True:
        started = time_mod.monotonic()
        try:
            plan = load_sources(sources, allow_private=allow_private)  # edits apply next run
            with Fetcher(plan.fetch) as fetcher:
                summary = ingestor.run(plan.folders, web=plan.web, fetcher=fetcher)
            _print_summary(summary, settings.index, as_json)
        except (IndexUnavailable, SourcesError) as exc:
            if interval is None:
                raise fail(str(exc)) from None
            err.print(f"[bold red]error:[/] {exc}; trying again at the next run")
        if interval is None:
            return
        time_mod.sleep(max(0.0, interval - (time_mod.monotonic() - started)))


@app.command()
def serve(
    index: IndexOpt = None,
    host: Annotated[str | None, typer.Option(help="[default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="[default: 8000]")] = None,
) -> None:
    """Serve the HTTP API (and its docs at /docs) over an index."""
    import uvicorn

    from index.store import IndexMissing, IndexUnavailable
    from server.app import create_app

    settings = settings_for(index)
    if host:
        settings.host = host
    if port:
        settings.port = port
    try:
        # Fail before the slow model load.
        _check_index(settings)
    except IndexMissing as exc:
        raise fail(str(exc)) from None
    except IndexUnavailable as exc:
        # A damaged index: serve unready (/readyz 503) until it is repaired and
        # reloaded, rather than exit into a supervisor's restart loop.
        err.print(f"[bold red]error:[/] {exc}")
    setup_logging(settings.log_level)
    err.print(f"Citeline on http://{settings.host}:{settings.port}  (index {settings.index})")
    err.print(settings.protection.describe(), highlight=False)
    err.print(settings.slack.describe(), highlight=False)
    from access.keys import KeysFileError

    try:
        application = create_app(settings)
    except KeysFileError as exc:
        raise fail(str(exc)) from None
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
    )


def _check_index(settings: Settings) -> None:
    """Every collection under the index root opens (IndexMissing when there is none,
    IndexUnavailable when none can be read), without loading the model."""
    from index.library import Library
    from index.store import IndexMissing, IndexUnavailable
    from index.vector_store import BackendConfig

    root = Path(settings.index)
    hint = f"run `citeline ingest PATH --index {root} [--collection NAME]` first"
    if not root.is_dir():
        raise IndexMissing(f"no index at {root}: {hint}")
    library = Library(root, BackendConfig.from_settings(settings.backend))
    library.refresh()
    try:
        if not library.names():
            raise IndexMissing(
                f"{root} is not a Citeline index (no CURRENT file, no collections/): {hint}"
            )
        if library.errors and not library.snapshot():
            raise IndexUnavailable("; ".join(library.errors.values()))
    finally:
        for ix in library.snapshot().values():
            ix.close()


def _service(settings: Settings) -> AnswerService:
    """The answer service over the index, as the server builds it."""
    from answer.service import AnswerService
    from index.store import IndexUnavailable

    try:
        # Fail before the slow model load.
        _check_index(settings)
    except IndexUnavailable as exc:
        raise fail(str(exc)) from None
    service = AnswerService.from_settings(settings)
    if service.index_error is not None:
        service.close()
        raise fail(service.index_error)
    return service


def _collections(service: AnswerService, names: list[str] | None) -> list[str] | None:
    if not names:
        return None
    known = service.current().names
    missing = [n for n in names if n not in known]
    if missing:
        service.close()
        raise fail(
            f"no collection named {', '.join(missing)} in {service.index_dir} "
            f"(there are: {', '.join(known) or 'none'})"
        )
    return names


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question in plain words")],
    index: IndexOpt = None,
    top_k: Annotated[int | None, typer.Option(min=1, max=50)] = None,
    mode: ModeOpt = None,
    collection: CollectionsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question from the index, with cited quotes (written by the LLM when
    CITELINE_LLM_BASE_URL is set, as the HTTP API does)."""
    if not question.strip():
        raise fail("the question is empty")
    service = _service(settings_for(index))
    try:
        answer = service.ask_sync(
            question.strip(), top_k, _mode(mode), _collections(service, collection)
        )
    finally:
        service.close()
    if answer.fallback_reason:
        err.print(f"[yellow]extractive answer:[/] {answer.fallback_reason}", highlight=False)
    if as_json:
        out.print_json(json.dumps(asdict(answer)))
        return
    out.print(answer.answer, highlight=False, soft_wrap=True, markup=False)
    for c in answer.citations:
        out.print(
            f"[{c.n}] {c.title or c.doc_id} — {c.source} [{c.start}:{c.end}]",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for")],
    index: IndexOpt = None,
    top_k: Annotated[int, typer.Option(min=1, max=50)] = 5,
    mode: ModeOpt = None,
    collection: CollectionsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List the passages most similar to a query."""
    if not query.strip():
        raise fail("the query is empty")
    service = _service(settings_for(index))
    try:
        hits = service.search(
            query.strip(), top_k, None, _mode(mode), _collections(service, collection)
        )
    finally:
        service.close()
    if as_json:
        out.print_json(json.dumps([{**asdict(h.passage), "score": h.score} for h in hits]))
        return
    for rank, h in enumerate(hits, start=1):
        p = h.passage
        out.print(
            f"{rank}. {h.score:.3f}  {p.title or p.doc_id}  [{p.start}:{p.end}]",
            highlight=False,
            soft_wrap=True,
        )
        out.print(p.text, highlight=False, soft_wrap=True, markup=False)
        out.print()


app.command()(slack)
app.command()(migrate)
app.add_typer(eval_app, name="eval")
app.add_typer(feedback_app, name="feedback")
app.add_typer(collections_app, name="collections")
app.add_typer(keys_app, name="keys")

if __name__ == "__main__":
    app()
