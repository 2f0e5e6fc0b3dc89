"""What is indexed, and adding and removing articles over HTTP (admin keys only).

POST /v1/documents takes a JSON article, ``{"url": ...}`` to fetch a page, feed or sitemap,
or a multipart file upload (.txt .md .html .pdf .docx). Every write is a job run by the
server's one writer (server/documents.py); the route waits a few seconds for it and answers
201 with the result, or 202 with the job's URL when it takes longer (large uploads at once).
Writes name their collection in the query string, ``?collection=NAME`` (default
``default``), as the read routes of this module do; who may write which collection is
server/protection/admin.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from index.models import Article
from ingest.formats import FORMAT_OF_MEDIA_TYPE, FORMAT_OF_SUFFIX
from ingest.urlsafety import UnsafeURL, check_url
from server.access import covered
from server.deps import Served
from server.documents import DocumentWriter, Job
from server.protection.admin import AdminOnly, WriteCollection, writer_of
from server.schemas import ErrorResponse

router = APIRouter(tags=["documents"])

# Uploads larger than this return 202 at once; smaller writes are waited for.
WAIT_BYTES = 1024 * 1024
WAIT_SECONDS = 20.0
_LIST_PARAMS = frozenset({"limit", "offset", "q", "filter", "collection"})


class ArticleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="Document id; default: the url, else a content hash",
    )
    title: str | None = Field(None, max_length=2000)
    text: str | None = Field(None, description="The article body (plain text)")
    url: str | None = Field(
        None,
        max_length=4000,
        description="Alone: a page, feed or sitemap to fetch. With text: the article's link",
    )
    author: str | None = Field(None, max_length=2000)
    date: str | None = Field(None, max_length=100)
    metadata: dict[str, Any] | None = None


class FailureOut(BaseModel):
    source: str
    reason: str


class JobOut(BaseModel):
    """A write job; the counts appear once it ran."""

    id: str
    kind: str = Field(description="article, upload, url or delete")
    collection: str = Field(description="The collection the job writes")
    status: str = Field(description="queued, running, done or failed")
    doc_ids: list[str]
    error: str | None = None
    added: int | None = None
    updated: int | None = None
    unchanged: int | None = None
    removed: int | None = None
    passages_embedded: int | None = None
    failed: list[FailureOut] | None = None


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


_WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_errors(400, 403, 404, 415, 422, 500, 503),
    201: {"model": JobOut, "description": "Done: the job's result"},
    202: {"model": JobOut, "description": "Accepted: poll the Location header's job"},
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": ArticleIn.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "url": {"type": "string"},
                        "author": {"type": "string"},
                        "date": {"type": "string"},
                    },
                }
            },
        },
    }
}


class DocumentOut(BaseModel):
    doc_id: str
    title: str | None
    source: str | None
    url: str | None
    date: str | None
    passages: int
    collection: str | None = None


class DocumentList(BaseModel):
    total: int
    offset: int
    limit: int
    documents: list[DocumentOut]


_WHERE = "name the collection in the query string: POST /v1/documents?collection=NAME"


async def _answer(job: Job, wait: float) -> JSONResponse:
    if wait > 0:
        await asyncio.to_thread(job.done.wait, wait)
    body = job.as_dict()
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if not job.done.is_set():
        return JSONResponse(body, status_code=202, headers=headers)
    if job.status == "failed":
        status = 404 if job.collection_gone else 500
        return JSONResponse(body, status_code=status, headers=headers)
    summary = job.summary
    if summary is not None and summary.failed and not summary.read_anything and not summary.removed:
        reasons = "; ".join(f"{f.source}: {f.reason}" for f in summary.failed[:5])
        body["error"] = f"nothing could be ingested: {reasons}"
        return JSONResponse(body, status_code=422, headers=headers)
    return JSONResponse(body, status_code=201 if job.kind != "delete" else 200, headers=headers)


@router.get(
    "/v1/documents",
    response_model=DocumentList,
    responses=_errors(403, 404, 422, 503),
    summary="List what is indexed",
)
def list_documents(
    request: Request,
    searcher: Served,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    q: Annotated[
        str | None, Query(max_length=200, description="Text in the title, source or url")
    ] = None,
    filter: Annotated[
        list[str] | None,
        Query(
            description="key:value exact matches as in search (doc_id, title, author, source, "
            "url, date or a metadata key), repeatable: ?filter=category:business",
        ),
    ] = None,
    collection: Annotated[
        list[str] | None,
        Query(
            max_length=63,
            description="Collections to list, repeatable; default: every collection the key "
            "may read",
        ),
    ] = None,
) -> DocumentList:
    unknown = sorted(set(request.query_params) - _LIST_PARAMS)
    if unknown:
        raise HTTPException(
            422, f"unknown query parameter {unknown[0]!r}: filter with ?filter=key:value"
        )
    filters: dict[str, str] = {}
    for item in filter or []:
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise HTTPException(422, f"filter {item!r} must be key:value")
        filters[key.strip()] = value
    names = covered(request, searcher, collection)
    # One page over several collections, in collection order: each contributes at most
    # offset + limit rows, the page is cut from their concatenation.
    total, page = 0, []
    for name, ix in sorted(searcher.scoped(names).items()):
        count, rows = ix.list_documents(filters, text=q, offset=0, limit=offset + limit)
        total += count
        page += [
            DocumentOut(
                doc_id=r.doc_id,
                title=r.title,
                source=r.source,
                url=r.url,
                date=r.date,
                passages=r.passages,
                collection=name,
            )
            for r in rows
        ]
    return DocumentList(
        total=total, offset=offset, limit=limit, documents=page[offset : offset + limit]
    )


@router.post(
    "/v1/documents",
    status_code=201,
    response_model=JobOut,
    responses=_WRITE_RESPONSES,
    openapi_extra=_UPLOAD_BODY,
    summary="Add an article, a URL or a file",
)
async def add_document(request: Request, collection: WriteCollection) -> JSONResponse:
    writer = writer_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        return await _upload(request, writer, collection)
    if content_type != "application/json":
        raise HTTPException(
            415, 'send JSON (an article or {"url": ...}) or multipart/form-data with a file'
        )
    try:
        body = ArticleIn.model_validate_json(await request.body())
    except ValidationError as exc:
        if any(e["loc"] == ("collection",) for e in exc.errors()):
            raise HTTPException(422, f"invalid article: {_WHERE}") from None
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise HTTPException(422, f"invalid article: {problems}") from None
    if body.text is None:
        if not body.url:
            raise HTTPException(422, "give 'text' (and 'title') for an article, or 'url' to fetch")
        _check_fetchable(writer, body.url)
        return await _answer(writer.add_url(body.url, collection), WAIT_SECONDS)
    if not body.text.strip():
        raise HTTPException(422, "'text' is empty")
    if not body.title or not body.title.strip():
        raise HTTPException(422, "an article needs a 'title'")
    doc_id = (
        body.id
        or body.url
        or "api/" + hashlib.sha256(f"{body.title}\n{body.text}".encode()).hexdigest()[:16]
    )
    article = Article(
        doc_id=doc_id,
        text=body.text.strip(),
        title=body.title.strip(),
        author=body.author,
        source=body.url or doc_id,
        url=body.url,
        date=body.date,
        metadata={"format": "api", **(body.metadata or {})},
    )
    return await _answer(writer.add_articles([article], collection), WAIT_SECONDS)


async def _upload(request: Request, writer: DocumentWriter, collection: str) -> JSONResponse:
    form = await request.form()
    if "collection" in form:
        raise HTTPException(422, _WHERE)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(422, "multipart upload needs a 'file' field")
    filename = PurePosixPath(upload.filename or "upload").name
    suffix = PurePosixPath(filename).suffix.lower()
    fmt = FORMAT_OF_SUFFIX.get(suffix) or FORMAT_OF_MEDIA_TYPE.get(
        (upload.content_type or "").split(";")[0].strip().lower()
    )
    if fmt is None:
        raise HTTPException(
            415,
            f"unsupported file type {suffix or upload.content_type!r}: send "
            ".txt .md .html .pdf or .docx",
        )
    data = await upload.read()
    if not data:
        raise HTTPException(422, "the uploaded file is empty")
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "file" and v.strip()}
    doc_id = fields.pop("id", None) or "upload/" + re.sub(r"[^\w.\-]+", "_", filename)
    job = writer.add_upload(filename, data, fmt, doc_id, fields, collection)
    return await _answer(job, WAIT_SECONDS if len(data) <= WAIT_BYTES else 0)


def _check_fetchable(writer: DocumentWriter, url: str) -> None:
    try:
        check_url(url, writer.fetch_policy.urls)
    except UnsafeURL as exc:
        raise HTTPException(400, f"refusing to fetch this URL: {exc}") from None


@router.delete(
    "/v1/documents/{doc_id:path}",
    response_model=JobOut,
    responses={**_WRITE_RESPONSES, 200: {"model": JobOut, "description": "Removed"}},
    summary="Remove an article",
)
async def delete_document(
    doc_id: str, request: Request, collection: WriteCollection
) -> JSONResponse:
    job = writer_of(request).delete(doc_id, collection)
    await asyncio.to_thread(job.done.wait, WAIT_SECONDS)
    if job.done.is_set() and job.summary is not None and job.summary.removed == 0:
        raise HTTPException(404, f"no document {doc_id!r} in collection {collection}")
    return await _answer(job, 0)


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobOut,
    responses=_errors(403, 404, 503),
    summary="Status of a write job",
)
def job_status(job_id: str, request: Request, admin: AdminOnly) -> dict[str, Any]:
    job = writer_of(request).job(job_id)
    # A job of a collection this key may not write is "not found", like a document
    # outside a reader's collections: the answer must not tell that it exists.
    if job is None or not admin.can_write(job.collection):
        raise HTTPException(404, f"no job {job_id!r} (finished jobs are kept for a while)")
    request.state.collections = [job.collection]  # for the audit line
    return job.as_dict()
