"""Who may write: the admin role and the collection on the write routes
(POST/DELETE /v1/documents, GET /v1/jobs/{id}).

The caller comes from the access middleware's key ring (access/keys.py): admins from
``CITELINE_ADMIN_KEYS`` or the keys file. The rules of :func:`require_admin`:

- an admin key (of any collections) -> may use the write routes, see below for which
  collection;
- another valid key (a reader's) -> 403;
- no or an unknown key while any keys are configured -> 401 (the middleware);
- no keys configured at all -> 403 "write routes are off", unless
  ``CITELINE_ALLOW_ANONYMOUS_WRITES=1`` (a trusted single-user install): with keys off
  every caller is the anonymous admin, so reads alone must not open the write routes.

Then :func:`writable_collection` (the ``?collection=NAME`` of a write, ``default`` when
not given), in this order:

- a name that is not a valid collection name -> 422;
- a collection the admin key is not scoped to -> 403, whether or not it exists (as for
  reads, access/scope.py: a key learns nothing about collections outside its grant);
- a collection that does not exist -> 404 saying how to create it
  (``citeline collections create NAME``). Writes never create collections: a typo in
  ``?collection=`` must not start a new, silently separate collection. ``default`` is
  the exception, as before collections existed: its first write creates it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request

from access.keys import ANONYMOUS, Caller
from index.collections import DEFAULT, CollectionError, check_name
from server.access import get_caller
from server.documents import DocumentWriter

__all__ = ["AdminOnly", "WriteCollection", "require_admin", "writable_collection", "writer_of"]


def require_admin(request: Request, caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    if caller is ANONYMOUS:
        if request.app.state.settings.writes.allow_anonymous_writes:
            return caller
        raise HTTPException(
            403,
            "write routes are off: set CITELINE_ADMIN_KEYS or a keys file with an admin "
            "(or, for a trusted single-user install, CITELINE_ALLOW_ANONYMOUS_WRITES=1)",
        )
    if not caller.is_admin:
        raise HTTPException(403, "this key may read but not write; use an admin key")
    return caller


AdminOnly = Annotated[Caller, Depends(require_admin)]


def writer_of(request: Request) -> DocumentWriter:
    writer: DocumentWriter | None = getattr(request.app.state, "document_writer", None)
    if writer is None:
        raise HTTPException(503, "the document writer is not running (no index loaded yet)")
    return writer


def writable_collection(
    request: Request,
    caller: AdminOnly,
    collection: Annotated[
        str,
        Query(
            max_length=63,
            description="The collection to write (GET /v1/collections lists them); it must "
            "exist (`citeline collections create NAME`), except `default`, which its "
            "first write creates",
        ),
    ] = DEFAULT,
) -> str:
    request.state.collections = [collection]  # for the audit line
    try:
        check_name(collection)
    except CollectionError as exc:
        raise HTTPException(422, str(exc)) from None
    if not caller.can_write(collection):
        raise HTTPException(403, f"this key may not write collection {collection}")
    if not writer_of(request).writable(collection):
        raise HTTPException(
            404,
            f"no collection named {collection}: an operator creates it with "
            f"`citeline collections create {collection} --index <the server's index>` "
            "(writes never create collections, except 'default')",
        )
    return collection


WriteCollection = Annotated[str, Depends(writable_collection)]
