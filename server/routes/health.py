from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from answer.qa import QAService
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
    qa: QAService | None = request.app.state.qa
    if qa is None:
        error = getattr(request.app.state, "index_error", None) or "no index loaded"
        return JSONResponse(NotReady(error=error).model_dump(), status_code=503)
    manifest = qa.index.manifest
    return Ready(
        ready=True,
        documents=qa.index.document_count,
        chunks=qa.index.chunk_count,
        generation=manifest.generation,
        embedder=manifest.embedder,
    )
