"""Hostile input: the GeWe callback parser never raises on a JSON object, whatever its shape.

`parse_callback` documents "never raise on a JSON object"; bodies given as bytes or text may only fail with
`CallbackFormatError` (not UTF-8, not JSON, not an object). Its last-resort `except Exception` keeps the raw
payload as `unknown`, so a crash inside the parser would be hidden: these tests also fail when that fallback
is taken. Derandomized, so CI runs the same >= 10,000 examples every time.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.gewe import CallbackFormatError, EventKind, InboundEvent, parse_callback

ACCOUNT = "wxid_0xsqb3o0tsvz22"
KNOWN_TYPE_NAMES = {"addmsg", "modcontacts", "delcontacts", "offline", ""}
KNOWN_MSG_TYPES = {1, 3, 34, 37, 42, 43, 47, 48, 49, 51, 62, 10000, 10002}

# Examples per test; the sum is what the acceptance asks for (>= 10,000).
EXAMPLES = {
    "arbitrary_objects": 1_500,
    "gewe_shaped": 5_000,
    "casings": 1_500,
    "bodies": 2_000,
}
assert sum(EXAMPLES.values()) >= 10_000

FUZZ = settings(
    derandomize=True,  # the same examples on every run, so CI is reproducible
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def fuzz(examples: str) -> settings:
    """The shared fuzz settings with this test's share of the examples."""
    return settings(FUZZ, max_examples=EXAMPLES[examples])


# ---------------------------------------------------------------- strategies

HUGE_INTS = st.one_of(
    st.sampled_from([2**53 + 1, 2**63 - 1, 2**63, 2**64 + 7, -(2**63) - 1, 10**30, 7773749793478223190, 10**400]),
    # Beyond Python's 4300-digit str() limit (built lazily: Hypothesis cannot even repr such a constant).
    st.sampled_from([4300, 5000]).map(lambda digits: -(10**digits)),
)
INTS = st.one_of(st.integers(), st.integers(min_value=-(2**70), max_value=2**70), HUGE_INTS)


def digits(number: int) -> str:
    """The number as a numeric string, also past the str() limit."""
    return str(number) if abs(number) < 10**4000 else "-" * (number < 0) + "9" * 4301


NUMERIC_TEXT = INTS.map(digits)
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
# Any unicode, a lone surrogate (json.loads makes one of "\ud800"), NUL, and the markers the parser looks for.
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\u2005", "\x00", "\ud800", "@chatroom", "gh_x", "weixin", ACCOUNT, "<", "<!DOCTYPE"]),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTS, FLOATS, TEXT)
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(TEXT, children, max_size=4),
    ),
    max_leaves=8,
)
# A value of the wrong type for a field: cheaper to draw than JSON, as hostile.
ODD = st.one_of(SCALARS, st.lists(SCALARS, max_size=2), st.dictionaries(TEXT, SCALARS, max_size=2))


def key_variants(camel: str) -> st.SearchStrategy[str]:
    """The key as documented, as newer builds send it (snake_case), lower-case and upper-case."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()
    return st.sampled_from([camel, snake, camel.lower(), camel.upper(), snake.upper()])


def wrapped(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value as GeWe sends strings: bare or in `{"string": ...}` (sometimes with extra keys)."""
    return st.one_of(
        value,
        st.builds(lambda v: {"string": v}, value),
        st.builds(lambda v, k: {k: v}, value, key_variants("String")),
        st.builds(lambda v: {"string": v, "extra": [1]}, value),
    )


def ids() -> st.SearchStrategy[Any]:
    """Ids as numbers (beyond 2**53 too), numeric strings, floats, wrappers or garbage."""
    return st.one_of(INTS, NUMERIC_TEXT, FLOATS, wrapped(INTS), wrapped(TEXT), ODD)


WXIDS = st.one_of(
    st.sampled_from([ACCOUNT, "wxid_phyyedw9xap22", "34757816141@chatroom", "gh_6651e07e4b2d", "fmessage", ""]),
    TEXT,
)
MSG_TYPES = st.one_of(st.sampled_from(sorted(KNOWN_MSG_TYPES)), INTS, st.sampled_from(["1", "49", " 49 ", "x"]), ODD)


# Content the way GeWe puts XML in it, well-formed or broken, for every XML-carrying message type.
# Templates are filled with drawn text; building them once keeps the strategies cheap to draw from.
APPMSG_INNER = [
    "<title>{text}</title><url>{text}</url><des>{text}</des>",
    "<title>{text}</title><appattach><totallen>{number}</totallen><fileext>{text}</fileext></appattach>",
    "<title>{text}</title><refermsg><svrid>{number}</svrid><content>{text}</content>"
    "<fromusr>{text}</fromusr><displayname>{text}</displayname></refermsg>",
    "<title>{text}</title><refermsg/>",
    "<wcpayinfo><feedesc><![CDATA[{text}]]></feedesc><paysubtype>{number}</paysubtype></wcpayinfo>",
    "<weappinfo><pagepath>{text}</pagepath></weappinfo>",
    "<title><title><title>",
]
XML_TEMPLATES = [
    '<?xml version="1.0"?>\n<msg><appmsg appid="">{inner}<type>{app_type}</type></appmsg></msg>',
    "<appmsg><type>{app_type}</type>{inner}</appmsg>",
    "<msg><appmsg><type>{app_type}</type>{inner}",
    '<sysmsg type="revokemsg"><revokemsg><newmsgid>{number}</newmsgid>'
    "<replacemsg><![CDATA[{text}]]></replacemsg></revokemsg></sysmsg>",
    '<sysmsg type="pat"><pat><fromusername>{text}</fromusername><template>{text}</template></pat></sysmsg>',
    '<sysmsg type="{attr}"><sysmsgtemplate><content_template><template>{text}'
    "</template></content_template></sysmsgtemplate></sysmsg>",
    '<msg fromusername="{attr}" encryptusername="v3_{attr}" ticket="v4_{attr}" scene="{number}" content="{attr}"/>',
    '<msg><location x="{attr}" y="{attr}" label="{attr}" poiname="{attr}"/></msg>',
    '<location x="{attr}"/>',
    '<msg username="{attr}" nickname="{attr}"/>',
    '<!DOCTYPE x [<!ENTITY a "{attr}">]><msg>&a;</msg>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><msg>&lol2;</msg>',
    '<!doctype x SYSTEM "file:///etc/passwd"><msg/>',
    "<msg>" * 200 + "</msg>" * 200,
    "<msg>" * 2000,
    "<{attr}>{text}</{attr}>",
    "<msg><![CDATA[{text}",
    "{text}",
]
APP_TYPES = st.one_of(st.sampled_from(["5", "6", "33", "36", "57", "2000", "2001", "4242"]), TEXT)
XML_FRAGMENTS = st.builds(
    lambda template, inner, text, attr, number, app_type: template.format(
        inner=inner.format(text=text, number=number), text=text, attr=attr, number=number, app_type=app_type
    ),
    st.sampled_from(XML_TEMPLATES),
    st.sampled_from(APPMSG_INNER),
    TEXT,
    st.text(max_size=12),
    st.one_of(NUMERIC_TEXT, TEXT),
    APP_TYPES,
)
# Group messages carry "<sender wxid>:\n" before the content.
GROUP_PREFIXED = st.builds(lambda sender, fragment: f"{sender}:\n{fragment}", WXIDS, XML_FRAGMENTS)


CONTENT = st.one_of(XML_FRAGMENTS, GROUP_PREFIXED, TEXT, st.builds(lambda m: f"@{m}\u2005{m}", TEXT))
MSG_SOURCE = st.one_of(
    st.builds(lambda a: f"<msgsource><atuserlist><![CDATA[{a}]]></atuserlist></msgsource>", TEXT),
    st.sampled_from(["<msgsource><tips>3</tips></msgsource>", "<bizmsgshowtype>", "<atuserlist>", ""]),
    TEXT,
)

# Logical field -> strategy for its value; `render` spells the keys in a chosen casing.
DATA_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "MsgId": ids(),
    "NewMsgId": ids(),
    "FromUserName": st.one_of(wrapped(WXIDS), ODD),
    "ToUserName": st.one_of(wrapped(WXIDS), ODD),
    "MsgType": MSG_TYPES,
    "Content": st.one_of(wrapped(CONTENT), ODD),
    "CreateTime": st.one_of(INTS, NUMERIC_TEXT, FLOATS, ODD),
    "MsgSource": st.one_of(MSG_SOURCE, ODD),
    "PushContent": st.one_of(st.sampled_from(["张三在群聊中@了你", ""]), TEXT, ODD),
    "Status": ODD,
    "ImgBuf": st.one_of(st.builds(lambda s: {"iLen": 0, "buffer": s}, TEXT), ODD),
    "UserName": st.one_of(wrapped(WXIDS), ODD),
    "NickName": st.one_of(wrapped(TEXT), ODD),
    "Remark": st.one_of(wrapped(TEXT), ODD),
    "Alias": st.one_of(wrapped(TEXT), ODD),
}
TYPE_NAME_TEXTS = st.sampled_from(
    ["AddMsg", "add_msg", "ADDMSG", "ModContacts", "mod_contacts", "DelContacts", "Offline", "FinderMsg", ""]
)
TYPE_NAMES = st.one_of(TYPE_NAME_TEXTS, TEXT, ODD)


ENVELOPE_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "TypeName": TYPE_NAMES,
    "Appid": st.one_of(TEXT, ids()),
    "Wxid": st.one_of(WXIDS, ODD),
}
PRESENT = st.integers(0, 9).map(bool)  # a field is missing one time in ten
DATA_CHOICE = st.lists(st.sampled_from(sorted(DATA_FIELDS)), unique=True, max_size=9)
TEST_MSG = st.one_of(st.none(), TEXT)


@st.composite
def logical_payload(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(envelope fields, Data fields) by their documented names; fields may be missing or of any type."""
    envelope = {name: draw(strategy) for name, strategy in ENVELOPE_FIELDS.items() if draw(PRESENT)}
    test_msg = draw(TEST_MSG)
    if test_msg is not None:
        envelope["testMsg"] = test_msg
    data: dict[str, Any] = {}
    if draw(PRESENT):
        data = {name: draw(DATA_FIELDS[name]) for name in draw(DATA_CHOICE)}
    else:
        envelope["Data"] = draw(JSON)  # Data missing, null, a list, a scalar...
    return envelope, data


def render(
    envelope: dict[str, Any], data: dict[str, Any] | None, casing: Any, extras: dict[str, Any]
) -> dict[str, Any]:
    """The logical payload with keys spelled by `casing(name)`, plus extra keys nobody knows."""
    body = {casing(name): value for name, value in envelope.items()}
    if data is not None and "Data" not in envelope:
        body[casing("Data")] = {casing(name): value for name, value in data.items()} | extras
    return body | extras


EXTRA_KEYS = st.dictionaries(st.text(max_size=8).map(lambda k: f"zz_extra_{k}"), ODD, max_size=2)
CASINGS = st.sampled_from(
    [
        lambda k: k,
        lambda k: re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(),
        str.lower,
        str.upper,
    ]
)

# ---------------------------------------------------------------- checks


class _FallbackCatcher(logging.Handler):
    """Records the parser's "unexpected shape" log: an exception swallowed by its last-resort handler."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def no_swallowed_exception() -> Iterator[None]:
    """Fail when the parser reached its catch-all `except Exception` (a crash it merely hid)."""
    parser_logger = logging.getLogger("bots.gewe.callbacks")
    catcher = _FallbackCatcher()
    parser_logger.addHandler(catcher)
    try:
        yield
    finally:
        parser_logger.removeHandler(catcher)
    if catcher.records:
        record = catcher.records[0]
        detail = logging.Formatter().formatException(record.exc_info) if record.exc_info else record.getMessage()
        raise AssertionError(f"the parser swallowed an exception:\n{detail}")


def assert_well_formed(event: InboundEvent, payload: dict[str, Any]) -> None:
    """The typed result the consumers rely on, whatever the input was."""
    assert isinstance(event, InboundEvent)
    assert isinstance(event.kind, EventKind)
    assert event.raw is payload
    for name in ("type_name", "app_id", "account_wxid", "chat_id", "sender_wxid", "text", "content", "msg_id"):
        assert isinstance(getattr(event, name), str), name
    assert isinstance(event.new_msg_id, str)
    assert event.msg_type is None or type(event.msg_type) is int
    assert event.create_time is None or type(event.create_time) is int
    for flag in ("is_group", "is_self_sent", "is_person", "mentions_account"):
        assert type(getattr(event, flag)) is bool, flag
    type_name = event.type_name.replace("_", "").lower()
    if type_name not in KNOWN_TYPE_NAMES:
        assert event.kind is EventKind.UNKNOWN
    if type_name == "addmsg" and event.msg_type not in KNOWN_MSG_TYPES and event.kind is not EventKind.UNKNOWN:
        raise AssertionError(f"msg_type {event.msg_type!r} parsed as {event.kind}")


def parse_checked(payload: dict[str, Any], **kwargs: Any) -> InboundEvent:
    with no_swallowed_exception():
        event = parse_callback(payload, **kwargs)
    assert_well_formed(event, payload)
    return event


# ---------------------------------------------------------------- properties


@fuzz("arbitrary_objects")
@given(
    payload=st.dictionaries(
        st.one_of(TEXT, TYPE_NAME_TEXTS, key_variants("TypeName"), key_variants("Data")), JSON, max_size=5
    )
)
def test_arbitrary_json_objects_parse(payload: dict[str, Any]) -> None:
    parse_checked(payload)


@fuzz("gewe_shaped")
@given(
    logical=logical_payload(),
    casing=CASINGS,
    extras=EXTRA_KEYS,
    account=st.one_of(st.none(), WXIDS),
)
def test_gewe_shaped_payloads_with_wrong_types_parse(
    logical: tuple[dict[str, Any], dict[str, Any]], casing: Any, extras: dict[str, Any], account: str | None
) -> None:
    envelope, data = logical
    payload = render(envelope, data, casing, extras)
    event = parse_checked(payload, account_wxid=account)
    new_msg_id = data.get("NewMsgId")
    if event.type_name.replace("_", "").lower() == "addmsg" and type(new_msg_id) is int and abs(new_msg_id) < 10**4000:
        assert event.new_msg_id == str(new_msg_id)  # exact, beyond 2**53 too
    if type(new_msg_id) is str:
        assert event.new_msg_id in ("", new_msg_id)


@fuzz("casings")
@given(logical=logical_payload(), first=CASINGS, second=CASINGS, account=st.sampled_from([None, ACCOUNT]))
def test_key_casing_does_not_change_the_result(
    logical: tuple[dict[str, Any], dict[str, Any]], first: Any, second: Any, account: str | None
) -> None:
    envelope, data = logical
    one = parse_checked(render(envelope, data, first, {}), account_wxid=account)
    other = parse_checked(render(envelope, data, second, {}), account_wxid=account)
    assert one == other  # `raw` is not compared


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=bool(len(str(value)) % 2), allow_nan=True)
    except ValueError:  # an integer past str()'s limit: write one by hand
        return '{"NewMsgId": -' + "9" * 4_301 + "}"


BODIES = st.one_of(
    JSON.map(_json_text),
    logical_payload().map(lambda logical: _json_text(render(logical[0], logical[1], lambda k: k, {}))),
    st.binary(max_size=64),
    st.text(max_size=64),
    st.sampled_from(["", "null", "[]", '"x"', "NaN", '{"NewMsgId": 1e400}', "\ufeff{}", '{"a": "\\ud800"}']),
    # Built lazily so Hypothesis never has to print them: deep nesting, numbers past the str() limit.
    st.sampled_from([100_000, 5_000]).map(lambda n: "{" * n if n > 10_000 else '{"a": ' + "1" * n + "}"),
    st.sampled_from(["9", "-1"]).map(lambda d: '{"TypeName": "AddMsg", "Data": {"NewMsgId": ' + d * 4_301 + "}}"),
)


@fuzz("bodies")
@given(body=BODIES, as_bytes=st.booleans())
def test_raw_bodies_give_an_event_or_callback_format_error(body: str | bytes, as_bytes: bool) -> None:
    if as_bytes and isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    try:
        with no_swallowed_exception():
            event = parse_callback(body)
    except CallbackFormatError:
        return
    assert isinstance(event, InboundEvent)
    assert isinstance(event.raw, dict)


# ---------------------------------------------------------------- regressions found by the fuzzer and by hand


def test_unknown_type_name_comes_back_unknown_with_the_raw_payload() -> None:
    payload = {"TypeName": "FinderMsg", "Appid": "wx_1", "Data": {"MsgType": 1, "Content": "hi"}}
    event = parse_checked(payload)
    assert (event.kind, event.raw, event.app_id) == (EventKind.UNKNOWN, payload, "wx_1")


def test_json_number_too_long_for_python_is_a_callback_format_error() -> None:
    # json.loads raised a bare ValueError (int-digits limit), which the callback endpoint answered with a 500.
    body = '{"TypeName": "AddMsg", "Data": {"NewMsgId": ' + "9" * 5_000 + "}}"
    for raw in (body, body.encode()):
        with pytest.raises(CallbackFormatError, match="not valid JSON"):
            parse_callback(raw)


def test_id_too_long_for_str_does_not_lose_the_message() -> None:
    # str() of such an int raised inside the parser: the whole text message fell back to `unknown`.
    huge = 10**5_000
    payload = {
        "TypeName": "AddMsg",
        "Appid": huge,
        "Data": {"MsgId": huge, "NewMsgId": -huge, "MsgType": 1, "Content": {"string": "在吗"}, "CreateTime": huge},
    }
    event = parse_checked(payload, account_wxid=ACCOUNT)
    assert (event.kind, event.text, event.app_id, event.msg_id, event.new_msg_id) == (
        EventKind.TEXT,
        "在吗",
        "",
        "",
        "",
    )
    assert event.create_time is None


def test_non_finite_numbers_are_not_ids_or_times() -> None:
    payload = {"TypeName": "AddMsg", "Data": {"MsgType": math.inf, "NewMsgId": math.nan, "CreateTime": -math.inf}}
    event = parse_checked(payload)
    assert (event.msg_type, event.new_msg_id, event.create_time) == (None, "", None)
