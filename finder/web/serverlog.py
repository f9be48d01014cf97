"""gunicorn's error log without client addresses or query strings (gunicorn.conf.py sets ``logger_class``).

gunicorn writes "Invalid request from ip=<address>: <what it could not parse>"
for a malformed request, and the request line (query string included) when a
request fails outside the app. The app promises never to log either (search
terms and postcodes can be health information or point at someone's home), so
this logger keeps the fact and drops the details. Everything else gunicorn
logs (worker boots, timeouts, signals) passes unchanged.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

INVALID_REQUEST = "Invalid request from ip="
FAILED_REQUEST = "Error handling request"


def _path_only(value: Any) -> Any:
    return value.split("?", 1)[0] if isinstance(value, str) else value


class PrivateLogger(Logger):  # type: ignore[misc]
    """gunicorn's Logger minus client addresses and query strings."""

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(INVALID_REQUEST):
            # The text after the address can quote the request line or a header: keep none of it.
            super().info("invalid request refused (malformed HTTP; client and request details are not logged)")
            return
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(FAILED_REQUEST):
            args = tuple(_path_only(arg) for arg in args)
        super().exception(msg, *args, **kwargs)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith(FAILED_REQUEST):
            args = tuple(_path_only(arg) for arg in args)
        super().error(msg, *args, **kwargs)
