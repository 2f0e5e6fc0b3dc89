"""Citeline in Slack: mentions, DMs and /ask answered in the thread with sources.

``install_slack(app)`` mounts HTTP mode on the API server; ``citeline slack``
runs Socket Mode. slack_bolt is imported only when Slack is configured.
"""

from citeline.settings import SlackSettings
from slackbot.http import install_slack

__all__ = ["SlackSettings", "install_slack"]
