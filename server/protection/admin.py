"""Who may write: the admin role of the write routes (POST/DELETE /v1/documents).

``CITELINE_ADMIN_KEYS`` (same format as ``CITELINE_API_KEYS``) lists the keys that may add
and remove articles. Reads stay with ``CITELINE_API_KEYS`` (admin keys are accepted for
reads too). The rules of :func:`require_admin`:

- an admin key in ``Authorization: Bearer`` -> allowed;
- another valid key (a reader's) -> 403;
- no or an unknown key while any keys are configured -> 401;
- no keys configured at all -> 403 "write routes are off", unless
  ``CITELINE_ALLOW_ANONYMOUS_WRITES=1`` (a trusted single-user install).

Kept apart from the access middleware (server/protection/auth.py) so it can later merge
with per-key roles; the middleware only learns that admin keys are valid keys.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from pydantic import SecretStr

from citeline.settings import WriteSettings

__all__ = ["WriteAccess", "require_admin"]


class WriteAccess:
    """The decision of :func:`require_admin`, built once per app."""

    def __init__(self, admin: WriteSettings, reader_keys: tuple[SecretStr, ...]) -> None:
        self._admin = tuple(k.get_secret_value().encode() for k in admin.admin_keys)
        self._readers = tuple(k.get_secret_value().encode() for k in reader_keys)
        self.anonymous = admin.allow_anonymous_writes and not self._admin and not self._readers

    @property
    def admin_keys(self) -> tuple[bytes, ...]:
        return self._admin

    def check(self, authorization: str | None) -> None:
        if self.anonymous:
            return
        if not self._admin and not self._readers:
            raise HTTPException(
                403,
                "write routes are off: set CITELINE_ADMIN_KEYS (or, for a trusted "
                "single-user install, CITELINE_ALLOW_ANONYMOUS_WRITES=1)",
            )
        token = _bearer(authorization)
        if token is None:
            raise HTTPException(
                401,
                "an admin key is required: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="citeline"'},
            )
        if _matches(token, self._admin):
            return
        if _matches(token, self._readers):
            raise HTTPException(403, "this key may read but not write; use an admin key")
        raise HTTPException(
            401,
            "the API key is not valid",
            headers={"WWW-Authenticate": 'Bearer realm="citeline", error="invalid_token"'},
        )


def _bearer(header: str | None) -> bytes | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip().encode()


def _matches(token: bytes, keys: tuple[bytes, ...]) -> bool:
    found = False
    for key in keys:  # no early exit: timing does not tell which key matched
        found |= hmac.compare_digest(token, key)
    return found


def require_admin(request: Request) -> None:
    access: WriteAccess | None = getattr(request.app.state, "write_access", None)
    if access is None:
        raise HTTPException(403, "write routes are not configured on this server")
    access.check(request.headers.get("authorization"))


AdminOnly = Annotated[None, Depends(require_admin)]
