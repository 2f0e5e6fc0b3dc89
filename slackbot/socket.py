"""Socket Mode: the bot connects out to Slack over a websocket, so a workspace can
use Citeline without a public URL. Needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN.

Uses bolt's built-in Socket Mode client (no extra dependency). Events arrive over
the app-token-authenticated socket, so there is no request signature to check.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode import SocketModeHandler

from citeline.settings import SlackSettings
from slackbot.bot import ServiceGetter, build_app

log = logging.getLogger("citeline.slack")


def socket_mode_handler(
    settings: SlackSettings, service: ServiceGetter, *, max_question_chars: int = 2000
) -> SocketModeHandler:
    """A handler ready to ``connect()`` (returns) or ``start()`` (blocks)."""
    if not settings.socket_mode or settings.app_token is None:
        raise ValueError("Socket Mode needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN")
    app = build_app(settings, service, max_question_chars=max_question_chars, socket_mode=True)
    return SocketModeHandler(app, app_token=settings.app_token.get_secret_value())
