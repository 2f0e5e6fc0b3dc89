"""HTTP mode: Slack's Events API and the /ask command at ``POST /slack/events``.

Bolt's Starlette/FastAPI adapter converts the request and bolt verifies it
(signature and a timestamp at most 5 minutes old, else 401 before any listener
runs). The adapter's own handler calls bolt's synchronous ``dispatch`` on the
event loop, where bolt's first ``auth.test`` call and its wait for the ack
would stall every other request of the server; so dispatch runs in the
threadpool here, with the adapter's response conversion. The request is built
here too, without bolt's ``X-Slack-Bolt-Lazy-*`` headers: they tell bolt to run
a lazy listener directly (meant for FaaS re-invocation), and the signature does
not cover headers.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from citeline.settings import SlackSettings

if TYPE_CHECKING:
    from slack_bolt import App

    from slackbot.bot import ServiceGetter

log = logging.getLogger("citeline.slack")

EVENTS_PATH = "/slack/events"
# Slack's payloads are a few KB; a cap keeps a flood of bytes out of memory.
MAX_BODY = 256 * 1024


async def _read_capped(request: Request) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


def install_slack(
    app: FastAPI,
    service: ServiceGetter | None = None,
    settings: SlackSettings | None = None,
) -> App | None:
    """Mount ``POST /slack/events`` when SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are set.

    Without them this only logs that Slack is off and adds no route. Calling it
    twice on one app is harmless. ``service`` defaults to the lifespan's
    ``app.state.answers``, looked up per question. ``settings`` defaults to the
    app's ``settings.slack``.
    """
    existing: App | None = getattr(app.state, "slack", None)
    if existing is not None:
        return existing
    if settings is None:
        configured = getattr(app.state, "settings", None)
        settings = configured.slack if configured is not None else SlackSettings()
    log.info(settings.describe())
    if not settings.http_mode:
        return None

    from slack_bolt import BoltRequest
    from slack_bolt.adapter.starlette.handler import to_starlette_response

    from slackbot.bot import build_app

    server_settings = getattr(app.state, "settings", None)
    bolt = build_app(
        settings,
        service or (lambda: app.state.answers),
        max_question_chars=getattr(server_settings, "max_question_chars", 2000),
    )
    app.state.slack = bolt

    @app.post(EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        body = await _read_capped(request)
        if body is None:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        try:
            bolt_request = BoltRequest(
                body=body.decode("utf-8"),
                query=str(request.url.query),
                headers={
                    k: v for k, v in request.headers.items() if not k.startswith("x-slack-bolt-")
                },
            )
        except (UnicodeDecodeError, ValueError):
            return JSONResponse(
                {"error": "the request body is not a Slack payload"}, status_code=400
            )
        bolt_response = await run_in_threadpool(bolt.dispatch, bolt_request)
        return to_starlette_response(bolt_response)

    return bolt
