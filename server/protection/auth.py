"""API keys and the rate limit, as one ASGI middleware.

They share a question, who is calling: a request with a valid key is that key's
client, any other request is its client address. Requests refused for a missing
or wrong key still spend their address's tokens, so guessing keys is rate limited.

Routes open without a key, and why:
- ``/healthz`` and ``/readyz``: probes of orchestrators and load balancers carry no key.
- ``GET /`` and ``GET /static/*``: the chat page must load before it can ask the
  person for a key (server/static/app.js shows a key prompt on a 401 and then
  sends ``Authorization: Bearer`` with every API call). They serve fixed files only.
- ``POST /slack/events``: Slack cannot send our key; every request there is checked
  against the Slack signing secret instead (slackbot/http.py).
"""

from __future__ import annotations

import logging

import anyio.to_thread
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from access.audit import AuditLog
from access.keys import ANONYMOUS, Caller, KeyRing
from citeline.settings import ProtectionSettings
from server.metrics import Metrics
from server.protection.ratelimit import TokenBucketLimiter, retry_after_header

log = logging.getLogger("citeline.protection")

PROBES = frozenset({"/healthz", "/readyz"})
SLACK_EVENTS = "/slack/events"
REALM = 'Bearer realm="citeline"'


def open_without_key(method: str, path: str) -> bool:
    if path in PROBES:
        return True
    if method in ("GET", "HEAD") and (path == "/" or path.startswith("/static/")):
        return True
    return method == "POST" and path == SLACK_EVENTS


def keyring_of(settings: ProtectionSettings) -> KeyRing:
    """The keys the settings name: the keys file and the environment's plain keys
    (CITELINE_API_KEYS: readers of every collection; CITELINE_ADMIN_KEYS: admins)."""
    return KeyRing(
        getattr(settings, "keys_file", None),
        reader_keys=[k.get_secret_value() for k in settings.api_keys],
        admin_keys=[k.get_secret_value() for k in getattr(settings, "admin_keys", ())],
        reload_seconds=getattr(settings, "keys_reload_seconds", 1.0),
    )


def _unrouted(path: str) -> str:
    # No route matched (404) or the request was refused before routing: log the
    # prefix only, so no document id or other request data reaches the audit log.
    return "/".join(path.split("/")[:3]) + ("/…" if path.count("/") > 2 else "")


def _request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return value.decode("latin-1")[:64]
    return None


def bearer_token(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return b""
    return None


def client_address(scope: Scope) -> str:
    # uvicorn rewrites the client from X-Forwarded-For only for trusted proxies
    # (--forwarded-allow-ips, 127.0.0.1 by default), so this is not spoofable.
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


class AccessMiddleware:
    """Who is calling (a KeyRing caller in ``scope["state"]["caller"]``), the rate limit,
    and the audit line of every request."""

    def __init__(
        self,
        app: ASGIApp,
        settings: ProtectionSettings,
        metrics: Metrics,
        limiter: TokenBucketLimiter | None = None,
        keyring: KeyRing | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.keyring = keyring or keyring_of(settings)
        self.audit = audit or AuditLog(None)
        self.limiter = limiter
        if limiter is None and settings.rate_limit > 0:
            self.limiter = TokenBucketLimiter(settings.rate_limit, settings.rate_limit_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        path: str = scope["path"]
        identity = client_address(scope)
        refusal: JSONResponse | None = None
        caller: Caller | None = None
        if self.keyring.enabled:
            token = bearer_token(scope)
            # Off the event loop: the salted hash costs about a millisecond.
            caller = await anyio.to_thread.run_sync(self.keyring.identify, token) if token else None
            if caller is not None:
                identity = f"key:{caller.key_id}"
            elif not open_without_key(method, path):
                refusal = self._unauthorized(token)
        else:
            caller = ANONYMOUS
        state = scope.setdefault("state", {})
        state["caller"] = caller
        if self.limiter is not None and path not in PROBES:
            wait = self.limiter.acquire(identity)
            if wait > 0:
                self.metrics.refused.labels(reason="rate_limit").inc()
                refusal = JSONResponse(
                    {
                        "error": "too many requests: the rate limit is "
                        f"{self.limiter.rate * 60:g} per minute; retry after "
                        f"{retry_after_header(wait)} s"
                    },
                    status_code=429,
                    headers={"Retry-After": retry_after_header(wait)},
                )
        status = 500
        send_on = send

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        if self.audit.enabled:
            send_on = recording
        try:
            if refusal is not None:
                await refusal(scope, receive, send_on)
            else:
                await self.app(scope, receive, send_on)
        finally:
            if self.audit.enabled and path not in PROBES:
                route = scope.get("route")
                self.audit.write(
                    key=caller.key_id if caller is not None else "-",
                    route=getattr(route, "path", None) or _unrouted(path),
                    method=method,
                    status=status,
                    collections=state.get("collections"),
                    request_id=_request_id(scope),
                )

    def _unauthorized(self, token: bytes | None) -> JSONResponse:
        self.metrics.refused.labels(reason="auth").inc()
        if token is None:
            message = "an API key is required: send 'Authorization: Bearer <key>'"
            challenge = REALM
        elif not token:
            message = "the Authorization header must be 'Bearer <key>'"
            challenge = f'{REALM}, error="invalid_request"'
        else:
            message = "the API key is not valid"
            challenge = f'{REALM}, error="invalid_token"'
        return JSONResponse(
            {"error": message}, status_code=401, headers={"WWW-Authenticate": challenge}
        )
