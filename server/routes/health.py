from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from server.schemas import Health, NotReady, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Ready,
    responses={503: {"model": NotReady}},
    summary="The index is loaded and searchable",
)
async def readyz(request: Request) -> Ready | JSONResponse:
    answers = getattr(request.app.state, "answers", None)
    searcher = answers.searcher if answers is not None else None
    if searcher is None:
        error = (answers.index_error if answers is not None else None) or "no index loaded"
        return JSONResponse(NotReady(error=error).model_dump(), status_code=503)
    index = searcher.index
    manifest = index.manifest
    return Ready(
        ready=True,
        documents=index.document_count,
        chunks=index.chunk_count,
        generation=manifest.generation,
        embedder=manifest.embedder,
        # The page's question counter shows this limit (readyz needs no key).
        max_question_chars=request.app.state.settings.max_question_chars,
    )
