"""ASGI app of the GeWe simulator: the GeWe API under a base path plus a JSON control API under /_sim."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bots.simulator.state import (
    SERVER_ERROR_MSG,
    TEST_PACKET_MSG,
    TOKEN_INVALID_MSG,
    TOKEN_MISSING_MSG,
    ApiCall,
    SimError,
    SimulatorState,
)

ApiHandler = Callable[[SimulatorState, dict[str, Any]], Awaitable[Any]]
TOKEN_HEADER = "X-GEWE-TOKEN"


def _str(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    return "" if value is None else str(value)


# ---------------------------------------------------------------- GeWe API handlers


async def _get_token_id(state: SimulatorState, body: dict[str, Any]) -> Any:
    token = state.random_id(32)
    state.tokens.add(token)
    return token


async def _set_callback(state: SimulatorState, body: dict[str, Any]) -> Any:
    url = _str(body, "callbackUrl")
    if not url.startswith(("http://", "https://")):
        raise SimError("回调地址格式不正确")
    state.callback_url = url
    state.deliver_soon({"testMsg": TEST_PACKET_MSG, "token": _str(body, "token")})
    return None


async def _get_login_qr_code(state: SimulatorState, body: dict[str, Any]) -> Any:
    return state.start_login(_str(body, "appId"))


async def _check_login(state: SimulatorState, body: dict[str, Any]) -> Any:
    return state.check_login(_str(body, "appId"), _str(body, "uuid"))


async def _check_online(state: SimulatorState, body: dict[str, Any]) -> Any:
    return state.account(_str(body, "appId")).online


async def _reconnection(state: SimulatorState, body: dict[str, Any]) -> Any:
    account = state.account(_str(body, "appId"))
    if state.failures.reconnect_fails:
        raise SimError("重连失败，请重新扫码登录")
    account.online = True
    return None


async def _logout(state: SimulatorState, body: dict[str, Any]) -> Any:
    state.account(_str(body, "appId")).online = False
    return None


async def _post_text(state: SimulatorState, body: dict[str, Any]) -> Any:
    ats = [part for part in _str(body, "ats").split(",") if part]
    return state.record_send(
        _str(body, "appId"), _str(body, "toWxid"), kind="text", msg_type=1, content=_str(body, "content"), ats=ats
    )


async def _post_image(state: SimulatorState, body: dict[str, Any]) -> Any:
    return state.record_send(
        _str(body, "appId"), _str(body, "toWxid"), kind="image", msg_type=3, content=_str(body, "imgUrl")
    )


async def _post_file(state: SimulatorState, body: dict[str, Any]) -> Any:
    return state.record_send(
        _str(body, "appId"),
        _str(body, "toWxid"),
        kind="file",
        msg_type=49,
        content=_str(body, "fileUrl"),
        extra={"fileName": _str(body, "fileName")},
    )


async def _post_link(state: SimulatorState, body: dict[str, Any]) -> Any:
    extra = {key: _str(body, key) for key in ("title", "desc", "thumbUrl")}
    return state.record_send(
        _str(body, "appId"), _str(body, "toWxid"), kind="link", msg_type=49, content=_str(body, "linkUrl"), extra=extra
    )


async def _post_app_msg(state: SimulatorState, body: dict[str, Any]) -> Any:
    return state.record_send(
        _str(body, "appId"), _str(body, "toWxid"), kind="appmsg", msg_type=49, content=_str(body, "appmsg")
    )


async def _revoke_msg(state: SimulatorState, body: dict[str, Any]) -> Any:
    state.account(_str(body, "appId"))
    state.revoke(_str(body, "appId"), _str(body, "newMsgId"))
    return None


async def _fetch_contacts_list(state: SimulatorState, body: dict[str, Any]) -> Any:
    account = state.account(_str(body, "appId"))
    return {
        "friends": list(account.contacts),
        "chatrooms": list(account.chatrooms),
        "ghs": ["gh_7aac992b0363", "weixin"],
    }


async def _get_brief_info(state: SimulatorState, body: dict[str, Any]) -> Any:
    account = state.account(_str(body, "appId"))
    wxids = body.get("wxids")
    if not isinstance(wxids, list) or not wxids:
        raise SimError("wxids不能为空")
    if len(wxids) > 100:
        raise SimError("wxids最多100个")
    result = []
    for wxid in map(str, wxids):
        contact = account.contacts.get(wxid)
        room = account.chatrooms.get(wxid)
        if contact is not None:
            result.append(
                {
                    "userName": wxid,
                    "nickName": contact.nickname,
                    "remark": contact.remark,
                    "alias": "",
                    "smallHeadImgUrl": "",
                    "labelList": ",".join(str(label) for label in sorted(contact.label_ids)),
                }
            )
        elif room is not None:
            result.append({"userName": wxid, "nickName": room.name, "remark": "", "alias": "", "labelList": ""})
    return result


async def _get_chatroom_member_list(state: SimulatorState, body: dict[str, Any]) -> Any:
    account = state.account(_str(body, "appId"))
    room = account.chatrooms.get(_str(body, "chatroomId"))
    if room is None:
        raise SimError("群聊不存在")
    members = []
    for wxid in room.member_wxids:
        contact = account.contacts.get(wxid)
        nickname = account.nickname if wxid == account.wxid else (contact.nickname if contact else wxid)
        members.append({"wxid": wxid, "nickName": nickname, "displayName": "", "inviterUserName": room.owner})
    return {"memberList": members, "chatroomOwner": room.owner, "adminWxid": None}


async def _label_list(state: SimulatorState, body: dict[str, Any]) -> Any:
    account = state.account(_str(body, "appId"))
    return {"labelList": [{"labelName": name, "labelId": k} for k, name in sorted(account.labels.items())]}


async def _label_add(state: SimulatorState, body: dict[str, Any]) -> Any:
    account = state.account(_str(body, "appId"))
    name = _str(body, "labelName").strip()
    if not name:
        raise SimError("labelName不能为空")
    for label_id, existing in account.labels.items():
        if existing == name:
            return {"labelName": name, "labelId": label_id}
    label_id = max(account.labels, default=0) + 1
    account.labels[label_id] = name
    return {"labelName": name, "labelId": label_id}


async def _label_modify_members(state: SimulatorState, body: dict[str, Any]) -> Any:
    account = state.account(_str(body, "appId"))
    label_ids = {int(part) for part in _str(body, "labelIds").split(",") if part.strip().isdigit()}
    unknown = label_ids - set(account.labels)
    if unknown:
        raise SimError(f"标签不存在: {sorted(unknown)}")
    wxids = body.get("wxIds")
    for wxid in map(str, wxids if isinstance(wxids, list) else []):
        contact = account.contacts.get(wxid)
        if contact is not None:
            contact.label_ids = set(label_ids)
    return None


API_HANDLERS: dict[str, ApiHandler] = {
    "/tools/getTokenId": _get_token_id,
    "/tools/setCallback": _set_callback,
    "/login/getLoginQrCode": _get_login_qr_code,
    "/login/checkLogin": _check_login,
    "/login/checkOnline": _check_online,
    "/login/reconnection": _reconnection,
    "/login/logout": _logout,
    "/message/postText": _post_text,
    "/message/postImage": _post_image,
    "/message/postFile": _post_file,
    "/message/postLink": _post_link,
    "/message/postAppMsg": _post_app_msg,
    "/message/revokeMsg": _revoke_msg,
    "/contacts/fetchContactsList": _fetch_contacts_list,
    "/contacts/getBriefInfo": _get_brief_info,
    "/group/getChatroomMemberList": _get_chatroom_member_list,
    "/label/list": _label_list,
    "/label/add": _label_add,
    "/label/modifyMemberList": _label_modify_members,
}
TOKENLESS_PATHS = frozenset({"/tools/getTokenId"})


def _envelope(data: Any = None, *, ret: int = 200, msg: str = "操作成功", status: int = 200) -> JSONResponse:
    return JSONResponse({"ret": ret, "msg": msg, "data": data}, status_code=status)


async def _read_json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _api_endpoint(state: SimulatorState) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        path = "/" + request.path_params["path"]
        body = await _read_json_object(request)
        state.calls.append(ApiCall(path=path, body=body or {}, at=asyncio.get_running_loop().time()))
        handler = API_HANDLERS.get(path)
        if handler is None:
            return _envelope(ret=404, msg=f"接口不存在: {path}", status=404)
        if body is None:
            return _envelope(ret=500, msg="请求体必须是JSON对象")
        if path not in TOKENLESS_PATHS:
            token = request.headers.get(TOKEN_HEADER, "")
            if not token:
                return _envelope(ret=500, msg=TOKEN_MISSING_MSG)
            if token not in state.tokens:
                return _envelope(ret=500, msg=TOKEN_INVALID_MSG)
        if state.failures.http_500_calls > 0:
            state.failures.http_500_calls -= 1
            return _envelope(ret=500, msg=SERVER_ERROR_MSG, status=500)
        try:
            data = await handler(state, body)
            response = _envelope(data)
        except SimError as exc:
            response = _envelope(ret=exc.ret, msg=exc.msg)
        if state.failures.slow_calls > 0:
            # The work is done (a send is recorded) but the answer is late: a client read timeout
            # here is the "GeWe may have accepted it" case.
            state.failures.slow_calls -= 1
            await asyncio.sleep(state.failures.slow_seconds)
        return response

    return endpoint


# ---------------------------------------------------------------- control API


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _control_routes(state: SimulatorState) -> list[Route]:
    async def get_state(request: Request) -> Response:
        return JSONResponse(state.snapshot())

    async def create_account(request: Request) -> Response:
        body = await _read_json_object(request) or {}
        account = state.create_account(
            app_id=body.get("appId") or None,
            wxid=body.get("wxid") or None,
            nickname=body.get("nickname") or None,
            online=bool(body.get("online", True)),
        )
        return JSONResponse(account.summary())

    async def get_account(request: Request) -> Response:
        account = state.accounts.get(request.path_params["app_id"])
        return JSONResponse(account.summary()) if account else _error("unknown appId", 404)

    async def set_offline(request: Request) -> Response:
        return await _set_online(request, False)

    async def set_online(request: Request) -> Response:
        return await _set_online(request, True)

    async def _set_online(request: Request, online: bool) -> Response:
        app_id = request.path_params["app_id"]
        if app_id not in state.accounts:
            return _error("unknown appId", 404)
        await state.set_online(app_id, online)
        return JSONResponse(state.accounts[app_id].summary())

    async def inject(request: Request) -> Response:
        body = await _read_json_object(request)
        if body is None or not body.get("appId") or not isinstance(body.get("content"), str):
            return _error("body needs appId and content")
        try:
            payload = state.customer_message(
                str(body["appId"]),
                from_wxid=body.get("fromWxid") or None,
                content=body["content"],
                chatroom_id=body.get("chatroomId") or None,
                mention_account=bool(body.get("mentionAccount", False)),
                msg_type=int(body.get("msgType", 1)),
            )
        except SimError as exc:
            return _error(exc.msg, 404)
        except KeyError as exc:
            return _error(f"unknown chatroom {exc}", 404)
        await state.deliver(payload)
        return JSONResponse(payload)

    async def list_sent(request: Request) -> Response:
        messages = state.sent_messages(
            app_id=request.query_params.get("appId"), to_wxid=request.query_params.get("toWxid")
        )
        return JSONResponse([message.to_json() for message in messages])

    async def set_failures(request: Request) -> Response:
        body = await _read_json_object(request) or {}
        failures = state.failures
        if body.get("clear"):
            failures.too_often_sends = failures.http_500_calls = failures.slow_calls = 0
            failures.reconnect_fails = False
        failures.too_often_sends = int(body.get("tooOften", failures.too_often_sends))
        failures.http_500_calls = int(body.get("http500", failures.http_500_calls))
        failures.slow_calls = int(body.get("slow", failures.slow_calls))
        failures.slow_seconds = float(body.get("slowSeconds", failures.slow_seconds))
        failures.reconnect_fails = bool(body.get("reconnectFails", failures.reconnect_fails))
        return JSONResponse(asdict(failures))

    async def confirm_login(request: Request) -> Response:
        body = await _read_json_object(request) or {}
        try:
            login = state.confirm_login(uuid=body.get("uuid"), app_id=body.get("appId"))
        except KeyError:
            return _error("no pending login", 404)
        return JSONResponse(asdict(login))

    async def add_friend(request: Request) -> Response:
        body = await _read_json_object(request) or {}
        try:
            payload = state.add_friend(
                str(body.get("appId", "")), wxid=body.get("wxid") or None, nickname=body.get("nickname") or None
            )
        except SimError as exc:
            return _error(exc.msg, 404)
        await state.deliver(payload)
        return JSONResponse(payload)

    async def set_customers(request: Request) -> Response:
        body = await _read_json_object(request) or {}
        if "enabled" in body:
            state.scripted_customers = bool(body["enabled"])
        if "seed" in body:
            state.rng.seed(body["seed"])
        if "replyDelay" in body:
            low, high = body["replyDelay"]
            state.config.customer_reply_delay = (float(low), float(high))
        if "newConversationInterval" in body:
            low, high = body["newConversationInterval"]
            state.config.new_conversation_interval = (float(low), float(high))
        if body.get("startConversation"):
            await state.start_conversation()
        return JSONResponse({"enabled": state.scripted_customers})

    async def set_callbacks(request: Request) -> Response:
        body = await _read_json_object(request) or {}
        config = state.config
        if "callbackUrl" in body and body.get("appId"):
            state.app_callback_urls[str(body["appId"])] = body["callbackUrl"]
        elif "callbackUrl" in body:
            state.callback_url = body["callbackUrl"] or None
        config.duplicate_probability = float(body.get("duplicateProbability", config.duplicate_probability))
        config.late_redelivery_probability = float(
            body.get("lateRedeliveryProbability", config.late_redelivery_probability)
        )
        config.late_redelivery_delay = float(body.get("lateRedeliveryDelay", config.late_redelivery_delay))
        return JSONResponse(
            {
                "callbackUrl": state.callback_url,
                "duplicateProbability": config.duplicate_probability,
                "lateRedeliveryProbability": config.late_redelivery_probability,
                "lateRedeliveryDelay": config.late_redelivery_delay,
            }
        )

    async def list_deliveries(request: Request) -> Response:
        return JSONResponse([asdict(delivery) for delivery in state.deliveries])

    async def list_calls(request: Request) -> Response:
        return JSONResponse([asdict(call) for call in state.calls])

    return [
        Route("/_sim/state", get_state, methods=["GET"]),
        Route("/_sim/accounts", create_account, methods=["POST"]),
        Route("/_sim/accounts/{app_id}", get_account, methods=["GET"]),
        Route("/_sim/accounts/{app_id}/offline", set_offline, methods=["POST"]),
        Route("/_sim/accounts/{app_id}/online", set_online, methods=["POST"]),
        Route("/_sim/inject", inject, methods=["POST"]),
        Route("/_sim/sent", list_sent, methods=["GET"]),
        Route("/_sim/failures", set_failures, methods=["POST"]),
        Route("/_sim/login/confirm", confirm_login, methods=["POST"]),
        Route("/_sim/friends", add_friend, methods=["POST"]),
        Route("/_sim/customers", set_customers, methods=["POST"]),
        Route("/_sim/callbacks", set_callbacks, methods=["POST"]),
        Route("/_sim/deliveries", list_deliveries, methods=["GET"]),
        Route("/_sim/calls", list_calls, methods=["GET"]),
    ]


def create_simulator_app(state: SimulatorState | None = None) -> Starlette:
    """Build the simulator ASGI app around `state` (a fresh default state when None)."""
    sim_state = state or SimulatorState()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await sim_state.start()
        try:
            yield
        finally:
            await sim_state.stop()

    base = "/" + sim_state.config.base_path.strip("/")
    routes = [
        *_control_routes(sim_state),
        Route(f"{base}/{{path:path}}", _api_endpoint(sim_state), methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.simulator = sim_state
    return app
