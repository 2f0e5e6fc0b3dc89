"""POST /v1/feedback: a thumbs up or down on an answer, stored and counted."""

from __future__ import annotations

import sqlite3
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from server.feedback import CitedQuote, Feedback, FeedbackStore
from server.metrics import metrics_of
from server.schemas import ErrorResponse, FeedbackRequest, FeedbackResponse

router = APIRouter(
    prefix="/v1",
    tags=["feedback"],
    responses={422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)


def get_feedback_store(request: Request) -> FeedbackStore:
    store: FeedbackStore = request.app.state.feedback
    return store


Feedbacks = Annotated[FeedbackStore, Depends(get_feedback_store)]


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackResponse,
    summary="Record a thumbs up or down on an answer (exported by `citeline feedback export`)",
)
async def feedback(body: FeedbackRequest, store: Feedbacks, request: Request) -> FeedbackResponse:
    record = Feedback(
        question=body.question,
        answer=body.answer,
        vote=body.vote,
        citations=[CitedQuote(**c.model_dump()) for c in body.citations],
        comment=body.comment or None,
    )
    try:
        feedback_id = await run_in_threadpool(store.add, record)
    except (sqlite3.Error, OSError) as exc:
        raise HTTPException(
            503, f"the feedback could not be stored in {store.path}: {exc}"
        ) from None
    metrics = metrics_of(request)
    if metrics is not None:
        metrics.feedback.labels(vote=body.vote).inc()
    return FeedbackResponse(id=feedback_id, vote=body.vote)
