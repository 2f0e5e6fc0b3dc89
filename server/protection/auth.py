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

import hashlib
import hmac
import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

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


class KeyChecker:
    """Constant-time comparison against every configured key."""

    def __init__(self, keys: tuple[bytes, ...]) -> None:
        self._keys = keys
        # Rate-limit identities: a digest prefix, so the key itself is never kept twice.
        self._ids = tuple(f"key:{hashlib.sha256(k).hexdigest()[:12]}" for k in keys)

    def identify(self, token: bytes) -> str | None:
        """The identity of the key ``token`` is, or None."""
        found: str | None = None
        # No early exit: the time taken does not depend on which key matched.
        for key, ident in zip(self._keys, self._ids, strict=True):
            if hmac.compare_digest(token, key):
                found = ident
        return found


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
    def __init__(
        self,
        app: ASGIApp,
        settings: ProtectionSettings,
        metrics: Metrics,
        limiter: TokenBucketLimiter | None = None,
        admin_keys: tuple[bytes, ...] = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        # Admin keys (server/protection/admin.py) are valid keys too; roles are checked there.
        keys = tuple(k.get_secret_value().encode() for k in settings.api_keys) + admin_keys
        self.checker = KeyChecker(keys) if keys else None
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
        if self.checker is not None:
            token = bearer_token(scope)
            key_identity = self.checker.identify(token) if token else None
            if key_identity is not None:
                identity = key_identity
            elif not open_without_key(method, path):
                refusal = self._unauthorized(token)
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
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

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
