"""``citeline slack`` (Socket Mode) end to end, as a real process over the seed index.

Slack cannot be reached from these machines. Standing in for Slack: the local HTTP
server of ``tests/slack/standin.py`` (apps.connections.open, auth.test,
chat.postMessage, response_url hooks) and a local websocket server (the
``websockets`` package) that plays Slack's Socket Mode endpoint: it says hello,
sends event envelopes and records the bot's acks.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from tests.conftest import free_port
from tests.slack.conftest import event_callback, new_ts
from tests.slack.standin import APP_TOKEN, BOT_TOKEN, BOT_USER_ID, SlackStandIn

pytestmark = pytest.mark.slow

RUN_SLACK_COMMAND = "import typer; from citeline.slack_cli import slack; typer.run(slack)"


class SocketModeStandIn:
    """One Socket Mode connection at a time: envelopes go out, acks come back."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self.port = free_port()
        self.server: Server = serve(
            self._serve, "127.0.0.1", self.port, compression=None, ping_interval=None
        )
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    def _serve(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}}))
        self.connected.set()
        while True:
            with contextlib.suppress(queue.Empty):
                ws.send(json.dumps(self.outbox.get_nowait()))
            try:
                message = ws.recv(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return  # the bot hung up
            self.acks.put(json.loads(message))

    def ack_for(self, envelope_id: str, timeout: float = 30) -> dict[str, Any]:
        while True:
            ack = self.acks.get(timeout=timeout)
            if ack.get("envelope_id") == envelope_id:
                return ack


@pytest.fixture(scope="module")
def socket_standin(standin: SlackStandIn) -> Iterator[SocketModeStandIn]:
    s = SocketModeStandIn()
    standin.socket_url = s.url
    try:
        yield s
    finally:
        s.server.shutdown()


def _env(standin: SlackStandIn, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CITELINE_SLACK"))}
    return {**env, "SLACK_API_URL": standin.api_url, **extra}


def test_socket_mode_answers_a_mention_and_a_slash_command(
    seed_index: Path,
    standin: SlackStandIn,
    socket_standin: SocketModeStandIn,
    tmp_path: Path,
) -> None:
    log = tmp_path / "slack.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_SLACK_COMMAND, "--index", str(seed_index)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(standin, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN),
        )
    try:
        assert socket_standin.connected.wait(120), log.read_text()
        opened = standin.wait_for(lambda c: c.method == "apps.connections.open")
        assert opened.token == APP_TOKEN

        ts = new_ts()
        event = {
            "type": "app_mention",
            "user": "UHUMAN1",
            "text": f"<@{BOT_USER_ID}> What did Gazprom and SOCAR sign?",
            "ts": ts,
            "channel": "CGENERAL",
            "event_ts": ts,
        }
        socket_standin.outbox.put(
            {
                "envelope_id": "env-mention",
                "type": "events_api",
                "accepts_response_payload": False,
                "payload": event_callback(event),
            }
        )
        assert socket_standin.ack_for("env-mention")["envelope_id"] == "env-mention"
        post = standin.wait_for(
            lambda c: c.method == "chat.postMessage" and c.params.get("thread_ts") == ts, 60
        )
        assert post.token == BOT_TOKEN and post.params["channel"] == "CGENERAL"
        section = next(b for b in post.params["blocks"] if b["type"] == "section")["text"]["text"]
        assert "strategic partnership" in section

        socket_standin.outbox.put(
            {
                "envelope_id": "env-ask",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": "T0CITELINE",
                    "channel_id": "CGENERAL",
                    "user_id": "UHUMAN1",
                    "command": "/ask",
                    "text": "What did Gazprom and SOCAR sign?",
                    "response_url": standin.hook_url("socket-ask"),
                },
            }
        )
        ack = socket_standin.ack_for("env-ask")
        assert "Looking that up" in ack["payload"]["text"]
        hook = standin.wait_for(lambda c: c.path.endswith("/socket-ask"), 60)
        assert hook.params["response_type"] == "in_channel"
        assert "strategic partnership" in json.dumps(hook.params["blocks"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text()
    assert "Socket Mode on" in log.read_text()


def test_slack_command_without_tokens_says_what_to_set(
    seed_index: Path, standin: SlackStandIn
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", RUN_SLACK_COMMAND, "--index", str(seed_index)],
        capture_output=True,
        text=True,
        env=_env(standin, SLACK_BOT_TOKEN=BOT_TOKEN),
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr and "manifest.yaml" in result.stderr
