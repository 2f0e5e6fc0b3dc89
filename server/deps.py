"""Dependencies the routes declare; the objects live on the app for its lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from access.keys import ANONYMOUS
from answer.searcher import Searcher
from answer.service import AnswerService, too_long
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
        # The error names collections and files: only for keys that read them all.
        caller = getattr(request.state, "caller", ANONYMOUS)
        if caller is None or caller.collections is not None:
            error = "no collection is loaded (a key for all collections sees why)"
        raise HTTPException(503, f"the index is not loaded: {error}")
    return searcher


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


class QuestionLimit:
    """Refuses a question (or query) longer than CITELINE_MAX_QUESTION_CHARS with a 422
    saying by how much; routes call it on the text they answer."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, text: str, what: str = "question") -> None:
        problem = too_long(text, self.limit, what)
        if problem:
            raise HTTPException(422, problem)


def get_question_limit(request: Request) -> QuestionLimit:
    return QuestionLimit(get_settings(request).max_question_chars)


AnswerSvc = Annotated[AnswerService, Depends(get_answers)]
Served = Annotated[Searcher, Depends(get_searcher)]
AppSettings = Annotated[Settings, Depends(get_settings)]
LengthLimit = Annotated[QuestionLimit, Depends(get_question_limit)]
