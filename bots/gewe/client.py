"""Async GeWe HTTP API client: typed results, typed errors, safe retries."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from bots.gewe._fields import as_int, as_list, as_str, lookup
from bots.gewe.errors import GeweServerError, GeweTransportError, classify_api_error
from bots.gewe.models import (
    BriefInfo,
    ChatroomMembers,
    ContactsList,
    Label,
    LoginQrCode,
    LoginStatus,
    SendResult,
)

logger = logging.getLogger(__name__)

TOKEN_HEADER = "X-GEWE-TOKEN"
BRIEF_INFO_BATCH = 100
SLOW_CALL_TIMEOUT = 120.0

# Raised before any byte of the request left us: safe to retry even a send.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off with full jitter for transport failures."""

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return rng.uniform(ceiling / 2, ceiling)


class GeweClient:
    """One GeWe API endpoint and token; every method maps to one GeWe path."""

    def __init__(
        self,
        base_url: str,
        token: str = "",
        *,
        timeout: float = 15.0,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retry = retry or RetryPolicy()
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self._timeout)
        self._sleep = sleep
        self._rng = rng or random.Random()

    async def aclose(self) -> None:
        """Close the underlying HTTP client when this client created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> GeweClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def call(
        self, path: str, body: dict[str, Any], *, idempotent: bool, read_timeout: float | None = None
    ) -> Any:
        """POST `body` to `path` and return GeWe's `data`; raises typed errors, retries safely."""
        url = f"{self.base_url}{path}"
        request_timeout = httpx.Timeout(read_timeout, connect=self._timeout.connect) if read_timeout else self._timeout
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._http.post(
                    url, json=body, headers={TOKEN_HEADER: self.token}, timeout=request_timeout
                )
            except _NOT_SENT_ERRORS as exc:
                if attempt >= self.retry.attempts:
                    raise GeweTransportError(repr(exc), path=path, maybe_delivered=False) from exc
            except httpx.TransportError as exc:
                if not idempotent or attempt >= self.retry.attempts:
                    raise GeweTransportError(repr(exc), path=path, maybe_delivered=True) from exc
            else:
                if response.status_code >= 500 and idempotent and attempt < self.retry.attempts:
                    logger.warning("GeWe %s answered HTTP %s; retrying", path, response.status_code)
                else:
                    return self._unwrap(path, response)
            delay = self.retry.delay(attempt, self._rng)
            logger.warning("GeWe %s attempt %d failed; retrying in %.2fs", path, attempt, delay)
            await self._sleep(delay)

    @staticmethod
    def _unwrap(path: str, response: httpx.Response) -> Any:
        try:
            envelope = response.json()
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict):
            raise GeweServerError(
                f"HTTP {response.status_code}: {response.text[:200]}",
                ret=None,
                path=path,
                http_status=response.status_code,
            )
        ret = as_int(lookup(envelope, "ret"))
        if ret != 200 or response.status_code >= 400:
            msg = as_str(lookup(envelope, "msg")) or f"HTTP {response.status_code}"
            raise classify_api_error(msg, ret=ret, path=path, http_status=response.status_code)
        return lookup(envelope, "data")

    # ------------------------------------------------------------ tools / login

    async def get_token_id(self) -> str:
        """Obtain a new API token (and use it for later calls)."""
        token = as_str(await self.call("/tools/getTokenId", {}, idempotent=True))
        self.token = token
        return token

    async def set_callback(self, callback_url: str) -> None:
        """Register the URL GeWe posts callbacks to (GeWe first posts a test packet there)."""
        await self.call("/tools/setCallback", {"token": self.token, "callbackUrl": callback_url}, idempotent=True)

    async def get_login_qr_code(self, app_id: str = "") -> LoginQrCode:
        """Start a QR login; pass the stored appId on every login after the first."""
        data = await self.call("/login/getLoginQrCode", {"appId": app_id}, idempotent=False)
        return LoginQrCode.from_data(data)

    async def check_login(self, app_id: str, uuid: str, captch_code: str | None = None) -> LoginStatus:
        """Poll the QR login (GeWe advises every ~5 s)."""
        body: dict[str, Any] = {"appId": app_id, "uuid": uuid}
        if captch_code:
            body["captchCode"] = captch_code
        return LoginStatus.from_data(await self.call("/login/checkLogin", body, idempotent=True))

    async def check_online(self, app_id: str) -> bool:
        """Whether the account is online."""
        return bool(await self.call("/login/checkOnline", {"appId": app_id}, idempotent=True))

    async def reconnect(self, app_id: str) -> None:
        """Ask GeWe to reconnect a dropped account."""
        await self.call("/login/reconnection", {"appId": app_id}, idempotent=False)

    async def logout(self, app_id: str) -> None:
        """Log the account out."""
        await self.call("/login/logout", {"appId": app_id}, idempotent=False)

    # ------------------------------------------------------------ messages (never re-sent once delivered)

    async def post_text(self, app_id: str, to_wxid: str, content: str, ats: Sequence[str] | None = None) -> SendResult:
        """Send text; for group @-mentions pass wxids in `ats` and keep the visible `@nick` in content."""
        body: dict[str, Any] = {"appId": app_id, "toWxid": to_wxid, "content": content}
        if ats:
            body["ats"] = ",".join(ats)
        return SendResult.from_data(await self.call("/message/postText", body, idempotent=False))

    async def post_image(self, app_id: str, to_wxid: str, img_url: str) -> SendResult:
        """Send an image by URL."""
        body = {"appId": app_id, "toWxid": to_wxid, "imgUrl": img_url}
        return SendResult.from_data(await self.call("/message/postImage", body, idempotent=False))

    async def post_file(self, app_id: str, to_wxid: str, file_url: str, file_name: str) -> SendResult:
        """Send a file by URL."""
        body = {"appId": app_id, "toWxid": to_wxid, "fileUrl": file_url, "fileName": file_name}
        return SendResult.from_data(await self.call("/message/postFile", body, idempotent=False))

    async def post_link(
        self, app_id: str, to_wxid: str, *, title: str, desc: str, link_url: str, thumb_url: str
    ) -> SendResult:
        """Send a link card."""
        body = {
            "appId": app_id,
            "toWxid": to_wxid,
            "title": title,
            "desc": desc,
            "linkUrl": link_url,
            "thumbUrl": thumb_url,
        }
        return SendResult.from_data(await self.call("/message/postLink", body, idempotent=False))

    async def post_app_msg(self, app_id: str, to_wxid: str, appmsg: str) -> SendResult:
        """Send a raw `<appmsg>` XML message."""
        body = {"appId": app_id, "toWxid": to_wxid, "appmsg": appmsg}
        return SendResult.from_data(await self.call("/message/postAppMsg", body, idempotent=False))

    async def revoke_msg(self, app_id: str, sent: SendResult) -> None:
        """Recall a message using the ids its send call returned."""
        body = {
            "appId": app_id,
            "toWxid": sent.to_wxid,
            "msgId": sent.msg_id,
            "newMsgId": sent.new_msg_id,
            "createTime": sent.create_time,
        }
        await self.call("/message/revokeMsg", body, idempotent=False)

    # ------------------------------------------------------------ contacts and groups

    async def fetch_contacts_list(self, app_id: str) -> ContactsList:
        """All friends, groups and official accounts (slow on GeWe's side)."""
        data = await self.call(
            "/contacts/fetchContactsList", {"appId": app_id}, idempotent=True, read_timeout=SLOW_CALL_TIMEOUT
        )
        return ContactsList.from_data(data)

    async def get_brief_info(self, app_id: str, wxids: Sequence[str]) -> list[BriefInfo]:
        """Profiles of `wxids`, fetched in batches of at most 100."""
        infos: list[BriefInfo] = []
        for start in range(0, len(wxids), BRIEF_INFO_BATCH):
            batch = list(wxids[start : start + BRIEF_INFO_BATCH])
            data = await self.call("/contacts/getBriefInfo", {"appId": app_id, "wxids": batch}, idempotent=True)
            infos.extend(BriefInfo.from_data(item) for item in as_list(data) if isinstance(item, dict))
        return infos

    async def get_chatroom_member_list(self, app_id: str, chatroom_id: str) -> ChatroomMembers:
        """Members of a group chat."""
        data = await self.call(
            "/group/getChatroomMemberList", {"appId": app_id, "chatroomId": chatroom_id}, idempotent=True
        )
        return ChatroomMembers.from_data(data)

    # ------------------------------------------------------------ labels

    async def list_labels(self, app_id: str) -> list[Label]:
        """The account's contact labels."""
        data = await self.call("/label/list", {"appId": app_id}, idempotent=True)
        items = lookup(data, "labelList") if isinstance(data, dict) else data
        return [Label.from_data(item) for item in as_list(items) if isinstance(item, dict)]

    async def add_label(self, app_id: str, label_name: str) -> Label:
        """Create a label."""
        data = await self.call("/label/add", {"appId": app_id, "labelName": label_name}, idempotent=False)
        return Label.from_data(data)

    async def modify_label_members(self, app_id: str, label_ids: Sequence[int], wxids: Sequence[str]) -> None:
        """Set the labels of `wxids` to exactly `label_ids`."""
        body = {"appId": app_id, "labelIds": ",".join(str(i) for i in label_ids), "wxIds": list(wxids)}
        await self.call("/label/modifyMemberList", body, idempotent=False)
