"""Log records carry the request id; ``CITELINE_LOG_JSON=1`` writes them as JSON lines.

The request id lives in a context variable set by the request middleware. Sync
routes run in threads that copy the context, so their log records get it too.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("citeline_request_id", default=None)

# Attributes every LogRecord has; anything else came from ``extra=`` and is kept.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id", "taskName"}
)
# uvicorn's loggers have their own handlers (propagate off); JSON mode restyles them too.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id`` (or None) so any format can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        # default=str: an odd object in ``extra`` must not lose the whole line.
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(json_lines: bool, loggers: tuple[str, ...] = ("",)) -> None:
    """Idempotent: tags records with the request id and, in JSON mode, formats them.

    Applied to the root logger at install time and again to uvicorn's loggers at
    startup, after uvicorn has configured its own.
    """
    for name in loggers:
        logger = logging.getLogger(name or None)
        handlers: list[logging.Handler] = list(logger.handlers)
        if not handlers and name == "" and json_lines:
            handlers = [logging.StreamHandler(sys.stderr)]
            logger.addHandler(handlers[0])
        for h in handlers:
            if not any(isinstance(f, RequestIdFilter) for f in h.filters):
                h.addFilter(RequestIdFilter())
            if json_lines and not isinstance(h.formatter, JsonFormatter):
                h.setFormatter(JsonFormatter())
