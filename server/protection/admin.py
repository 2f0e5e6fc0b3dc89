"""Who may write: the admin role on the write routes (POST/DELETE /v1/documents, jobs).

The caller comes from the access middleware's key ring (access/keys.py): admins from
``CITELINE_ADMIN_KEYS`` or the keys file. The rules of :func:`require_admin`:

- a key that may write the collection the routes write to (``default``) -> allowed;
- another valid key (a reader's, or an admin of other collections) -> 403;
- no or an unknown key while any keys are configured -> 401 (the middleware);
- no keys configured at all -> 403 "write routes are off", unless
  ``CITELINE_ALLOW_ANONYMOUS_WRITES=1`` (a trusted single-user install): with keys off
  every caller is the anonymous admin, so reads alone must not open the write routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from access.keys import ANONYMOUS, Caller
from index.collections import DEFAULT
from server.access import get_caller

__all__ = ["AdminOnly", "require_admin"]


def require_admin(request: Request, caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    if caller is ANONYMOUS:
        if request.app.state.settings.writes.allow_anonymous_writes:
            return caller
        raise HTTPException(
            403,
            "write routes are off: set CITELINE_ADMIN_KEYS or a keys file with an admin "
            "(or, for a trusted single-user install, CITELINE_ALLOW_ANONYMOUS_WRITES=1)",
        )
    if not caller.can_write(DEFAULT):
        raise HTTPException(403, "this key may read but not write; use an admin key")
    return caller


AdminOnly = Annotated[Caller, Depends(require_admin)]
