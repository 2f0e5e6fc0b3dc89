"""``citeline collections list|create|delete`` and ``citeline keys add|list|revoke``.

Registered in ``citeline/cli.py``; kept apart so that module stays small. Neither
command loads the embedding model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from access.keys import KeysFile
    from index.collections import Registry

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

collections_app = typer.Typer(
    help="Named collections of articles under one --index root, each its own index.",
    no_args_is_help=True,
)
keys_app = typer.Typer(
    help="API keys with a role (reader|admin) and collections, kept as salted hashes.",
    no_args_is_help=True,
)

IndexOpt = Annotated[
    Path | None,
    typer.Option("--index", "-i", help="Index root [default: $CITELINE_INDEX or var/index]"),
]
KeysFileOpt = Annotated[
    Path | None,
    typer.Option("--keys-file", help="Keys file [default: $CITELINE_KEYS_FILE]"),
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _registry(index: Path | None) -> Registry:
    from index.collections import Registry

    # Only the root is needed: the CLI entry point reads it, the index package does not.
    root = index or Path(os.environ.get("CITELINE_INDEX", "var/index"))
    return Registry(root)


# -- collections ----------------------------------------------------------------------


@collections_app.command("list")
def collections_list(
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines")] = False,
) -> None:
    """Every collection with its article and passage counts."""
    registry = _registry(index)
    infos = registry.list()
    if as_json:
        out.print_json(
            json.dumps(
                [
                    {
                        "name": i.name,
                        "path": str(i.path),
                        "documents": i.documents,
                        "passages": i.passages,
                        "generation": i.generation,
                        "problem": i.problem,
                    }
                    for i in infos
                ]
            )
        )
        return
    if not infos:
        err.print(f"no collections in {registry.root}")
        return
    table = Table(title=f"Collections in {registry.root}")
    for col in ("name", "articles", "passages", "path"):
        table.add_column(col)
    for i in infos:
        table.add_row(
            i.name,
            "-" if i.documents is None else str(i.documents),
            "-" if i.passages is None else str(i.passages),
            str(i.path) + (f"  [red]{i.problem}[/]" if i.problem else ""),
        )
    out.print(table)


@collections_app.command("create")
def collections_create(
    name: Annotated[str, typer.Argument(help="a-z, 0-9, '-' and '_'")],
    index: IndexOpt = None,
) -> None:
    """Create an empty collection (ingest --collection NAME fills it)."""
    from index.collections import CollectionError

    try:
        path = _registry(index).create(name)
    except CollectionError as exc:
        raise _fail(str(exc)) from None
    err.print(f"created collection {name} at {path}", highlight=False)


@collections_app.command("delete")
def collections_delete(
    name: str,
    index: IndexOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
) -> None:
    """Delete a collection and every article in it (asks first unless --yes)."""
    from index.collections import CollectionError

    registry = _registry(index)
    try:
        info = registry.info(name)
    except CollectionError as exc:
        raise _fail(str(exc)) from None
    if not yes:
        count = "no" if info.documents is None else str(info.documents)
        if not typer.confirm(
            f"Delete collection {name} ({count} articles, {info.path})?", default=False, err=True
        ):
            raise _fail("not deleted", 1)
    try:
        registry.delete(name)
    except CollectionError as exc:
        raise _fail(str(exc)) from None
    err.print(f"deleted collection {name}", highlight=False)


# -- keys -----------------------------------------------------------------------------


def _keys_file(path: Path | None) -> KeysFile:
    from access.keys import KeysFile

    configured = os.environ.get("CITELINE_KEYS_FILE")
    path = path or (Path(configured) if configured else None)
    if path is None:
        raise _fail("name the keys file: --keys-file F (or set CITELINE_KEYS_FILE)")
    return KeysFile(path)


@keys_app.command("add")
def keys_add(
    name: Annotated[str, typer.Argument(help="Who the key is for; shown in logs, never the key")],
    role: Annotated[str, typer.Option(help="reader or admin")] = "reader",
    collections: Annotated[
        str | None,
        typer.Option(help="Comma-separated collections the key may use [default: all]"),
    ] = None,
    keys_file: KeysFileOpt = None,
) -> None:
    """Create a key; it is printed once, as the last line, and never stored."""
    from access.keys import KeysFileError

    scope = [c.strip() for c in collections.split(",") if c.strip()] if collections else None
    kf = _keys_file(keys_file)
    try:
        key = kf.add(name, role, scope)
    except KeysFileError as exc:
        raise _fail(str(exc)) from None
    err.print(
        f"added {role} key {name} for {', '.join(scope) if scope else 'all collections'} to "
        f"{kf.path}; store it now, it cannot be shown again:",
        highlight=False,
    )
    print(key, flush=True)


@keys_app.command("list")
def keys_list(
    keys_file: KeysFileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines")] = False,
) -> None:
    """The keys' names, roles and collections (never the keys)."""
    from access.keys import KeysFileError

    kf = _keys_file(keys_file)
    try:
        entries = kf.read()
    except KeysFileError as exc:
        raise _fail(str(exc)) from None
    rows: list[dict[str, object]] = [
        {
            "name": e.name,
            "id": e.id,
            "role": e.role,
            "collections": list(e.collections),
            "created": e.created,
        }
        for e in entries.values()
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table(title=f"Keys in {kf.path}")
    for col in ("name", "id", "role", "collections", "created"):
        table.add_column(col)
    for e in entries.values():
        table.add_row(e.name, e.id, e.role, ",".join(e.collections), e.created)
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(name: str, keys_file: KeysFileOpt = None) -> None:
    """Remove a key; a running server refuses it within a second."""
    from access.keys import KeysFileError

    kf = _keys_file(keys_file)
    try:
        kf.revoke(name)
    except KeysFileError as exc:
        raise _fail(str(exc)) from None
    err.print(f"revoked key {name}", highlight=False)
