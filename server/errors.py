"""Error bodies that tell the client what to fix: ``{"error": "...", "details": [...]}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "json_invalid":
        return f"the request body is not valid JSON ({ctx.get('error', 'parse error')})"
    if kind == "missing":
        return f"'{loc}' is required"
    if kind == "string_too_short":
        return f"'{loc}' must not be empty or only whitespace"
    if kind == "string_too_long":
        return f"'{loc}' is too long: at most {ctx.get('max_length')} characters"
    if kind == "extra_forbidden":
        return f"'{loc}' is not a known field; remove it"
    if kind in ("greater_than_equal", "less_than_equal"):
        return f"'{loc}' is out of range: {error.get('msg', '').lower()}"
    if kind == "model_attributes_type":
        return "the request body must be a JSON object"
    return f"'{loc}': {error.get('msg', 'invalid value')}"


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        status = 400 if any(e.get("type") == "json_invalid" for e in errors) else 422
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": _describe(e)}
            for e in errors
        ]
        message = "; ".join(d["message"] for d in details) or "invalid request"
        return JSONResponse({"error": message, "details": details}, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )
