"""`create_app` installs the protection layer itself, last (server/app.py calls install)."""

from __future__ import annotations

from pathlib import Path

from citeline.settings import Settings
from server.app import create_app
from server.metrics import Metrics
from server.protection import ProtectionSettings, install
from server.protection.requestid import RequestContextMiddleware


def test_create_app_installs_protection_outermost(seed_index: Path) -> None:
    app = create_app(Settings(index=seed_index))  # the lifespan is not run: nothing loads
    settings = getattr(app.state, "protection", None)
    assert isinstance(settings, ProtectionSettings), (
        "server/app.py must call server.protection.install(app) as the last step of create_app"
    )
    assert isinstance(app.state.metrics, Metrics)
    # Outermost: no middleware added after install() may see a request before the key check.
    assert app.user_middleware[0].cls is RequestContextMiddleware
    assert install(app) is settings  # idempotent: a second call changes nothing
