"""Budget alert webhooks: where they may point (no SSRF), and POSTing alerts in the background with retries.

A webhook URL is checked when a budget is saved (422 with the reason) and again before every send, because a
name that resolved to a public address then may resolve to an internal one now (DNS rebinding). The send then
goes to the very address that was checked (Host header and TLS server name stay the URL's), so the check and
the connection cannot disagree. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any

import httpx

logger = logging.getLogger(__name__)

RESOLVE_TIMEOUT_SECONDS = 5.0
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeWebhook(Exception):
    """The webhook URL must not be called (scheme, credentials, or an address that is not public)."""


def url_problem(url: str) -> str | None:
    """Why a webhook URL is refused on its face (not http(s), credentials, no host), else None."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "webhook_url is not a valid URL"
    if parsed.scheme not in ("http", "https"):
        return "webhook_url must be an http or https URL"
    if parsed.userinfo:
        return "webhook_url must not contain credentials (user:password@)"
    if not parsed.host:
        return "webhook_url needs a host"
    return None


def address_problem(address: IPAddress) -> str | None:
    """Which kind of non-public address this is (loopback, private, link-local, multicast ...), else None."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    kinds = (
        ("loopback", address.is_loopback),
        ("private", address.is_private),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((kind for kind, matches in kinds if matches), None)


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a host name resolves to, in the resolver's order (an IP literal gives itself)."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=RESOLVE_TIMEOUT_SECONDS
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


async def checked_addresses(url: str, *, allow_private: bool) -> list[str]:
    """The addresses to send to; UnsafeWebhook when any is not public (unless allowed), OSError when unresolvable."""
    problem = url_problem(url)
    if problem:
        raise UnsafeWebhook(problem)
    parsed = httpx.URL(url)
    addresses = await resolve(parsed.host, _port(parsed))
    if not addresses:
        raise OSError(f"{parsed.host} has no address")
    if not allow_private:
        for address in addresses:
            kind = address_problem(ipaddress.ip_address(address.split("%", 1)[0]))
            if kind:
                raise UnsafeWebhook(
                    f"webhook_url must point at a public address, {parsed.host} is {kind} "
                    "(WEBHOOK_ALLOW_PRIVATE=true allows it)"
                )
    return addresses


async def validate(url: str, *, allow_private: bool) -> None:
    """Refuse (UnsafeWebhook) a webhook URL being saved; a name that does not resolve now is checked when used."""
    try:
        await checked_addresses(url, allow_private=allow_private)
    except (OSError, TimeoutError) as exc:
        logger.info("budget webhook host does not resolve yet", extra={"webhook": destination(url), "reason": str(exc)})


def destination(url: str) -> str:
    """scheme://host[:port] of a webhook URL, for logs (paths and queries often carry the receiver's key)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "(invalid URL)"
    return f"{parsed.scheme}://{parsed.netloc.decode('ascii', 'replace')}"


async def _post_pinned(http: httpx.AsyncClient, url: str, address: str, payload: dict[str, Any]) -> httpx.Response:
    parsed = httpx.URL(url)
    return await http.post(
        parsed.copy_with(host=address),
        json=payload,
        headers={"Host": parsed.netloc.decode("ascii")},
        extensions={"sni_hostname": parsed.host},
    )


async def deliver(
    url: str,
    payload: dict[str, Any],
    *,
    allow_private: bool = False,
    attempts: int = 3,
    request_timeout: float = 5.0,
    backoff: float = 0.5,
) -> bool:
    """POST the payload as JSON until a 2xx answer or the attempts run out; True when delivered.

    Each attempt resolves and checks the host again and connects to a checked address; an address that is not
    public (unless allowed) stops the delivery at once.
    """
    reason = "not attempted"
    async with httpx.AsyncClient(timeout=request_timeout, follow_redirects=False) as http:
        for attempt in range(1, attempts + 1):
            try:
                addresses = await checked_addresses(url, allow_private=allow_private)
            except UnsafeWebhook as exc:
                logger.warning("budget webhook refused", extra={"webhook": destination(url), "reason": str(exc)})
                return False
            except (OSError, TimeoutError) as exc:
                addresses, reason = [], f"cannot resolve: {exc}"
            for address in addresses:
                try:
                    response = await _post_pinned(http, url, address, payload)
                except httpx.ConnectError as exc:
                    reason = f"ConnectError: {exc}"
                    continue  # the next address of the host
                except httpx.HTTPError as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                    break
                if response.is_success:
                    return True
                reason = f"HTTP {response.status_code}"
                break
            if attempt < attempts:
                await asyncio.sleep(backoff * 2 ** (attempt - 1))
    logger.warning("budget webhook failed", extra={"webhook": destination(url), "attempts": attempts, "reason": reason})
    return False
