"""Citeline in Slack: mentions, DMs and /ask answered in the thread with sources.

``install_slack(app)`` mounts HTTP mode on the API server; ``citeline slack``
runs Socket Mode. slack_bolt is imported only when Slack is configured.
"""

from slackbot.http import install_slack
from slackbot.settings import SlackSettings

__all__ = ["SlackSettings", "install_slack"]
