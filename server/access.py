"""What the caller may touch: route dependencies over the middleware's checked key.

The access middleware (server/protection/auth.py) puts the caller on the request
(``request.state.caller``; every caller is an admin of everything when no keys are
configured). Routes ask here which collections a request covers
(access/scope.py: 403 for a collection the key may not read, 404 for one it may read
that does not exist) and record them for the audit line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from access.keys import ANONYMOUS, Caller
from access.scope import Forbidden, UnknownCollection, resolve
from answer.searcher import Searcher


def get_caller(request: Request) -> Caller:
    caller: Caller | None = getattr(request.state, "caller", None)
    if caller is None and not hasattr(request.state, "caller"):
        return ANONYMOUS  # an app without the protection layer (some unit tests)
    if caller is None:
        raise HTTPException(401, "an API key is required: send 'Authorization: Bearer <key>'")
    return caller


def require_admin(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    """Routes that act on the whole deployment: admin keys of every collection only."""
    if not caller.admin_of_all:
        raise HTTPException(403, "this route needs an admin key for all collections")
    return caller


def covered(request: Request, searcher: Searcher, requested: Sequence[str] | None) -> list[str]:
    """The collections a request covers (see access/scope.py), recorded for the audit."""
    caller = get_caller(request)
    try:
        names = resolve(caller, requested, searcher.names)
    except Forbidden as exc:
        request.state.collections = list(exc.names)
        raise HTTPException(403, str(exc)) from None
    except UnknownCollection as exc:
        request.state.collections = list(exc.names)
        raise HTTPException(404, str(exc)) from None
    request.state.collections = names
    return names


CallerDep = Annotated[Caller, Depends(get_caller)]
AdminDep = Annotated[Caller, Depends(require_admin)]
