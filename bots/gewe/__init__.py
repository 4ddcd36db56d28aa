"""GeWe (iPad-protocol WeChat) API client and callback parsing."""

from bots.gewe.callbacks import parse_callback
from bots.gewe.client import GeweClient, RetryPolicy
from bots.gewe.errors import (
    CallbackFormatError,
    GeweApiError,
    GeweError,
    GeweOfflineError,
    GeweServerError,
    GeweTokenError,
    GeweTooOftenError,
    GeweTransportError,
)
from bots.gewe.models import EventKind, InboundEvent

__all__ = [
    "CallbackFormatError",
    "EventKind",
    "GeweApiError",
    "GeweClient",
    "GeweError",
    "GeweOfflineError",
    "GeweServerError",
    "GeweTokenError",
    "GeweTooOftenError",
    "GeweTransportError",
    "InboundEvent",
    "RetryPolicy",
    "parse_callback",
]
