"""The chat page: ``GET /`` and its few static assets, served by the app itself.

The machine running Citeline may be offline, so nothing comes from a CDN. Assets are
served from a fixed allow-list rather than a directory mount: no path from the URL
ever reaches the file system, and wiring the page is one ``include_router`` line.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"

_ASSETS: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "key.js": "text/javascript; charset=utf-8",
    "collections.js": "text/javascript; charset=utf-8",
    "articles.js": "text/javascript; charset=utf-8",
    "articles.css": "text/css; charset=utf-8",
    "markdown.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

# Defence in depth behind the page's text-only rendering: even if article text ever
# reached the DOM as markup, inline scripts and event handlers would not run, and
# nothing could be loaded from or sent to another origin.
_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Revalidate on every load (cheap: FileResponse sends an ETag) so an upgrade is
    # seen at once rather than mixing an old app.js with a new server.
    "Cache-Control": "no-cache",
}

_PAGE_HEADERS = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": _CSP,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers=_PAGE_HEADERS,
    )


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no static asset named {name!r}")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=_COMMON_HEADERS)
