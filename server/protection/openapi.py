"""The OpenAPI schema tells clients what this layer may answer.

Every operation may get 429 (rate limit) and, when it takes a body, 413 (too
large) and 400 (not JSON, from server/errors.py); with keys on, protected
operations declare the bearer scheme (so /docs shows an Authorize button) and 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from citeline.settings import ProtectionSettings
from server.protection.auth import open_without_key

SCHEME = "apiKey"
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
_ERROR_SCHEMA = {
    "type": "object",
    "title": "ErrorResponse",
    "required": ["error"],
    "properties": {
        "error": {"type": "string", "title": "Error"},
        "details": {
            "anyOf": [{"type": "array", "items": {"type": "object"}}, {"type": "null"}],
            "title": "Details",
        },
    },
}
_EXTRA = {
    "400": "The body is not valid JSON",
    "401": "An API key is required, or the one sent is not valid",
    "413": "The request body is larger than CITELINE_MAX_BODY_BYTES",
    "429": "Too many requests; retry after the Retry-After header's seconds",
}


def document(app: FastAPI, settings: ProtectionSettings) -> None:
    """Wrap ``app.openapi`` so the generated schema lists this layer's answers."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        _extend(schema, settings)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _error(code: str) -> dict[str, Any]:
    return {"description": _EXTRA[code], "content": {"application/json": {"schema": _ERROR_REF}}}


def _extend(schema: dict[str, Any], settings: ProtectionSettings) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {}).setdefault("ErrorResponse", _ERROR_SCHEMA)
    if settings.keys_on:
        components.setdefault("securitySchemes", {})[SCHEME] = {
            "type": "http",
            "scheme": "bearer",
            "description": "One of the keys in CITELINE_API_KEYS",
        }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            codes = []
            if settings.rate_limit > 0 and path not in ("/healthz", "/readyz"):
                codes.append("429")
            if "requestBody" in operation:
                codes += ["400", "413"]
            if settings.keys_on and not open_without_key(method.upper(), path):
                codes.append("401")
                operation.setdefault("security", [{SCHEME: []}])
            for code in codes:
                responses.setdefault(code, _error(code))
