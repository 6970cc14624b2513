"""Logging with the session id on every line, as text or as one JSON object per line.

The session id lives in a context variable set by the session's WebSocket task; every task
it starts (media pump, pipeline, watchdog) and every worker-thread call it makes (the pools
copy the context) inherit it, so a line from deep in an engine still says whose it was.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time

session_id: contextvars.ContextVar[str] = contextvars.ContextVar("session_id", default="-")


class SessionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.session = session_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "session": getattr(record, "session", "-"),
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(SessionFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(session)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
