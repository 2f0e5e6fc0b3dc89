"""Dependencies the routes declare; the objects live on the app for its lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from server.qa import QAService
from server.settings import Settings


def get_qa(request: Request) -> QAService:
    qa: QAService = request.app.state.qa
    return qa


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


QA = Annotated[QAService, Depends(get_qa)]
AppSettings = Annotated[Settings, Depends(get_settings)]
