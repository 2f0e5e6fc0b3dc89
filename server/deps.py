"""Dependencies the routes declare; the objects live on the app for its lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from answer.searcher import Searcher
from answer.service import AnswerService
from citeline.settings import Settings


def get_answers(request: Request) -> AnswerService:
    answers: AnswerService = request.app.state.answers
    return answers


def get_searcher(request: Request) -> Searcher:
    """The index generation served now; 503 while none is loaded."""
    answers: AnswerService | None = getattr(request.app.state, "answers", None)
    searcher = answers.searcher if answers is not None else None
    if searcher is None:
        error = (answers.index_error if answers is not None else None) or "no index loaded"
        raise HTTPException(503, f"the index is not loaded: {error}")
    return searcher


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AnswerSvc = Annotated[AnswerService, Depends(get_answers)]
Served = Annotated[Searcher, Depends(get_searcher)]
AppSettings = Annotated[Settings, Depends(get_settings)]
