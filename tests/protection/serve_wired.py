"""``citeline serve`` (the real CLI) with the protection layer installed.

``server.app.create_app`` calls ``server.protection.install`` itself once that
line is in place; ``install`` is idempotent, so the wrapper below then does
nothing. Until then it makes the subprocess tests exercise the layer. Usage:
``python -m tests.protection.serve_wired serve --index DIR --port P``.
"""

from __future__ import annotations

from typing import Any

import server.app as server_app
from server.protection import install

_create_app = server_app.create_app


def _create_protected_app(*args: Any, **kwargs: Any) -> Any:
    app = _create_app(*args, **kwargs)
    install(app)
    return app


server_app.create_app = _create_protected_app

if __name__ == "__main__":
    from citeline.cli import app

    app()
