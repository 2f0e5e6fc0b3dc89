"""Dependencies the routes declare; the objects live on the app for its lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from answer.answering import AnswerService
from answer.qa import QAService
from server.settings import Settings


def get_qa(request: Request) -> QAService:
    qa: QAService | None = request.app.state.qa
    if qa is None:
        error = getattr(request.app.state, "index_error", None) or "no index loaded"
        raise HTTPException(503, f"the index is not loaded: {error}")
    return qa


def get_answers(request: Request) -> AnswerService:
    answers: AnswerService = request.app.state.answers
    return answers


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


QA = Annotated[QAService, Depends(get_qa)]
AnswerSvc = Annotated[AnswerService, Depends(get_answers)]
AppSettings = Annotated[Settings, Depends(get_settings)]
