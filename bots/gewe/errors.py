"""Typed errors raised by the GeWe client and the callback parser."""

from __future__ import annotations


class GeweError(Exception):
    """Base class of every error raised while talking to GeWe."""


class GeweApiError(GeweError):
    """GeWe answered with `ret != 200` (or a non-2xx status); `msg` is GeWe's own text."""

    def __init__(self, msg: str, *, ret: int | None, path: str, http_status: int | None = None) -> None:
        super().__init__(f"GeWe {path} failed (ret={ret}): {msg}")
        self.msg = msg
        self.ret = ret
        self.path = path
        self.http_status = http_status


class GeweServerError(GeweApiError):
    """GeWe answered with an HTTP 5xx status or a body that is not a GeWe envelope."""


class GeweTooOftenError(GeweApiError):
    """WeChat refused because the account is sending too often (操作过于频繁); back off."""


class GeweOfflineError(GeweApiError):
    """The WeChat account behind the appId is offline (已离线); reconnect or log in again."""


class GeweTokenError(GeweApiError):
    """The X-GEWE-TOKEN header is missing, invalid or expired."""


class GeweTransportError(GeweError):
    """The HTTP exchange failed; `maybe_delivered` says whether GeWe may have acted on the request."""

    def __init__(self, message: str, *, path: str, maybe_delivered: bool) -> None:
        super().__init__(f"GeWe {path}: {message}")
        self.path = path
        self.maybe_delivered = maybe_delivered


class CallbackFormatError(ValueError):
    """A callback body that is not a JSON object; the receiver should answer 400."""


TOO_OFTEN_MARKERS = ("频繁",)
OFFLINE_MARKERS = ("已离线", "不在线")
TOKEN_MARKERS = ("X-GEWE-TOKEN",)


def classify_api_error(msg: str, *, ret: int | None, path: str, http_status: int | None = None) -> GeweApiError:
    """Build the most specific GeweApiError for GeWe's `msg`."""
    error_class: type[GeweApiError] = GeweApiError
    if any(marker in msg for marker in TOO_OFTEN_MARKERS):
        error_class = GeweTooOftenError
    elif any(marker in msg for marker in OFFLINE_MARKERS):
        error_class = GeweOfflineError
    elif any(marker in msg for marker in TOKEN_MARKERS):
        error_class = GeweTokenError
    elif http_status is not None and http_status >= 500:
        error_class = GeweServerError
    return error_class(msg, ret=ret, path=path, http_status=http_status)
