"""``citeline slack``: the Slack bot over Socket Mode, for workspaces without a public URL.

Registered in ``citeline/cli.py``; kept apart so the CLI module stays small and
slack_bolt is imported only when this command runs.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from citeline.console import err, fail, setup_logging
from citeline.console import settings as settings_for


def slack(
    index: Annotated[
        Path | None,
        typer.Option(
            "--index", "-i", help="Index directory [default: $CITELINE_INDEX or var/index]"
        ),
    ] = None,
) -> None:
    """Answer mentions, DMs and /ask in Slack over Socket Mode (no public URL needed).

    Needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN; with a public URL use `citeline serve` instead.
    """

    settings = settings_for(index)
    slack_settings = settings.slack
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", slack_settings.bot_token),
            ("SLACK_APP_TOKEN", slack_settings.app_token),
        )
        if value is None or not value.get_secret_value().strip()
    ]
    if missing:
        raise fail(
            f"{' and '.join(missing)} not set. Create the app from slackbot/manifest.yaml, "
            "install it, then export the Bot User OAuth Token (xoxb-...) and an "
            "App-Level Token with connections:write (xapp-...)."
        )
    if not str(slack_settings.app_token and slack_settings.app_token.get_secret_value()).startswith(
        "xapp-"
    ):
        raise fail("SLACK_APP_TOKEN must be an App-Level Token (it starts with xapp-)")

    from slack_sdk.errors import SlackApiError

    from answer.service import AnswerService
    from index.store import Index, IndexUnavailable
    from index.vector_store import BackendConfig
    from slackbot.socket import socket_mode_handler

    try:
        # Fail before the slow model load.
        Index.open(settings.index, BackendConfig.from_settings(settings.backend)).close()
    except IndexUnavailable as exc:
        raise fail(str(exc)) from None
    setup_logging(settings.log_level)
    with err.status("loading the embedding model...", spinner="dots"):
        service = AnswerService.from_settings(settings)
    if service.index_error is not None:
        service.close()
        raise fail(service.index_error)
    err.print(service.describe(), highlight=False)
    handler = socket_mode_handler(
        slack_settings, lambda: service, max_question_chars=settings.max_question_chars
    )
    try:
        handler.connect()
    except SlackApiError as exc:
        service.close()
        raise fail(f"Slack refused the connection: {exc.response.get('error')}") from None
    err.print(
        f"Slack: Socket Mode on (index {settings.index}); answering mentions, DMs and /ask. "
        "Ctrl-C stops.",
        highlight=False,
    )
    # SIGTERM (service managers, docker stop) ends like Ctrl-C: the socket is closed cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
        service.close()
