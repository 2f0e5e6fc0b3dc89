from __future__ import annotations

from fastapi import APIRouter

from server.deps import QA
from server.schemas import Health, Ready

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Ready, summary="The index is loaded and searchable")
def readyz(qa: QA) -> Ready:
    manifest = qa.index.manifest
    return Ready(
        ready=True,
        documents=qa.index.document_count,
        chunks=qa.index.chunk_count,
        generation=manifest.generation,
        embedder=manifest.embedder,
    )
