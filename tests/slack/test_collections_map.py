"""Slack's channel -> collection map: a channel is answered only from its collections."""

from __future__ import annotations

import json

import pytest

from citeline.settings import SlackSettings


def test_without_a_map_every_channel_and_dm_reads_every_collection() -> None:
    s = SlackSettings()
    assert s.collections_for("CGENERAL") is None and s.collections_for("D123", "im") is None
    assert s.channel_allowed("CGENERAL") and s.channel_allowed("D123", "im")


def test_a_map_limits_channels_and_dms(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CITELINE_SLACK_CHANNEL_COLLECTIONS",
        json.dumps({"CENERGY": ["energy"], "CBOTH": ["a", "b"]}),
    )
    s = SlackSettings()
    assert s.collections_for("CENERGY") == ["energy"]
    assert s.collections_for("CBOTH") == ["a", "b"]
    # Not mapped: not answered (nothing leaks into a channel nobody assigned).
    assert s.collections_for("COTHER") == [] and not s.channel_allowed("COTHER")
    assert not s.channel_allowed("D123", "im")  # no DM default configured
    monkeypatch.setenv("CITELINE_SLACK_DM_COLLECTIONS", '["public"]')
    s = SlackSettings()
    assert s.collections_for("D123", "im") == ["public"] and s.channel_allowed("D123", "im")
