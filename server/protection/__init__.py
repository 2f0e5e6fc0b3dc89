"""Keys, limits, request ids and JSON logs, plus the server's metrics and live index
reload (server/metrics.py, server/reload.py), in one call.

``install(app)`` must be the last thing ``create_app`` does before returning the
app, after every router, ``install_slack`` and any other middleware: middleware
added later would sit outside the key check and the request id. Calling it twice
on one app is harmless.

Order of the middleware, outermost first (each sees what the next refuses):
request id + access log + JSON 500 -> metrics -> CORS (when origins are set) ->
API keys + rate limit -> body size limit -> the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from access.audit import AuditLog
from citeline.settings import ProtectionSettings
from server.metrics import IndexCollector, Metrics, MetricsMiddleware, QueryCacheCollector
from server.metrics import router as metrics_router
from server.protection import logs, openapi
from server.protection.auth import AccessMiddleware, keyring_of
from server.protection.limits import BodyLimitMiddleware
from server.protection.requestid import RequestContextMiddleware
from server.reload import Reloader
from server.reload import router as reload_router

__all__ = ["ProtectionSettings", "install"]

log = logging.getLogger("citeline.protection")

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def install(app: FastAPI, settings: ProtectionSettings | None = None) -> ProtectionSettings:
    existing: ProtectionSettings | None = getattr(app.state, "protection", None)
    if existing is not None:
        return existing
    if settings is None:
        configured = getattr(app.state, "settings", None)
        settings = configured.protection if configured is not None else ProtectionSettings()
    app.state.protection = settings

    logs.configure(settings.log_json)
    metrics = Metrics()
    metrics.registry.register(IndexCollector(app.state))
    metrics.registry.register(QueryCacheCollector(app.state))
    app.state.metrics = metrics
    reloader = Reloader(app, metrics, settings.reload_interval)
    app.state.reloader = reloader

    app.include_router(metrics_router)
    app.include_router(reload_router)
    openapi.document(app, settings)

    # add_middleware puts each one outside those added before it.
    writes = getattr(getattr(app.state, "settings", None), "writes", None)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        metrics=metrics,
        uploads=("/v1/documents", writes.max_upload_bytes) if writes is not None else None,
    )
    # Built here, not at the first request: a keys file that cannot be used stops the
    # start (citeline serve reports it), never a running server.
    app.add_middleware(
        AccessMiddleware,
        settings=settings,
        metrics=metrics,
        keyring=keyring_of(settings),
        audit=AuditLog(settings.audit_log),
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            allow_credentials=False,  # keys travel in a header, never in cookies
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)

    app.router.lifespan_context = _with_watcher(
        app.router.lifespan_context, app, settings, reloader
    )
    _announce(app, settings)
    return settings


def _with_watcher(
    inner: Callable[[Any], contextlib.AbstractAsyncContextManager[Any]],
    app: FastAPI,
    settings: ProtectionSettings,
    reloader: Reloader,
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]:
    """The app's own lifespan, then the index watcher for as long as the app runs."""

    @contextlib.asynccontextmanager
    async def lifespan(scope_app: Any) -> AsyncIterator[Any]:
        async with inner(scope_app) as state:
            # uvicorn configures its loggers after create_app; restyle them now.
            logs.configure(settings.log_json, logs.UVICORN_LOGGERS)
            if settings.threadpool:
                # The limiter belongs to the running event loop, so it is set here.
                anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threadpool
            task = None
            if settings.reload_interval > 0:
                task = asyncio.create_task(reloader.watch(), name="citeline-index-watcher")
            try:
                yield state
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    return lifespan


def _announce(app: FastAPI, settings: ProtectionSettings) -> None:
    host = str(getattr(getattr(app.state, "settings", None), "host", "127.0.0.1"))
    # Keys off is the normal local install; say it loudly only when others can connect.
    level = logging.WARNING if not settings.keys_on and host not in _LOOPBACK else logging.INFO
    log.log(level, settings.describe())
    watcher = f"every {settings.reload_interval:g} s" if settings.reload_interval > 0 else "off"
    log.info("index watcher: %s; POST /v1/admin/reload reloads now", watcher)
