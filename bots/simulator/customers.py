"""Scripted customers: Chinese names, personas and a tiny conversation script engine."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
GIVEN_CHARS = "伟芳娜敏静丽强磊洋艳勇军杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉宇欣怡晨子涵梓萱雨轩浩然思琪佳琪"
NICKNAME_STYLES = ("{surname}{given}", "{surname}{given}", "小{given1}", "{given1}{given1}", "{surname}姐", "{given}🌸")
GROUP_NAMES = ("老客福利群", "新品尝鲜群", "VIP会员群", "宝妈团购群", "周末秒杀群", "穿搭交流群")
PRODUCTS = ("连衣裙", "羊毛大衣", "运动鞋", "真丝围巾", "保温杯", "护手霜", "面膜", "双肩包", "牛仔裤", "卫衣")


class Intent(StrEnum):
    """What a customer line is about."""

    SMALL_TALK = "small_talk"
    PRICE = "price"
    DELIVERY = "delivery"
    SIZE = "size"
    DISCOUNT = "discount"
    HUMAN = "human"
    COMPLAINT = "complaint"
    THANKS = "thanks"


LINES: dict[Intent, tuple[str, ...]] = {
    Intent.SMALL_TALK: (
        "在吗？",
        "你好呀～",
        "刚下班，来看看有什么新品",
        "今天天气真好，想买点东西犒劳自己",
        "朋友推荐我来的",
        "好久没来了，最近有什么活动吗？",
    ),
    Intent.PRICE: ("{product}多少钱？", "{product}现在什么价格？", "这款{product}最低多少？", "{product}还是原价吗？"),
    Intent.DELIVERY: (
        "今天下单什么时候能发货？",
        "发什么快递？几天能到？",
        "能发顺丰吗？我急用",
        "我在新疆，包邮吗？",
    ),
    Intent.SIZE: (
        "{product}有XL码吗？",
        "我身高165体重110斤，穿什么尺码合适？",
        "{product}偏大还是偏小？",
        "{product}有别的颜色吗？",
    ),
    Intent.DISCOUNT: ("有优惠券吗？", "买两件能便宜点吗？", "老客户有折扣吗？", "满减活动还有吗？"),
    Intent.HUMAN: ("转人工", "我要找人工客服", "能让真人来回答吗？", "机器人说不清楚，转人工吧"),
    Intent.COMPLAINT: (
        "上次买的{product}质量有问题，我要投诉",
        "快递一周都没到，怎么回事？",
        "收到的货和图片不一样，我要退款",
        "客服一直不回消息，太失望了",
    ),
    Intent.THANKS: ("好的，谢谢", "明白了～", "那我再考虑一下", "好，我下单了", "收到，谢谢亲"),
}

STYLE_WEIGHTS: dict[str, dict[Intent, float]] = {
    "chatty": {
        Intent.SMALL_TALK: 3,
        Intent.PRICE: 2,
        Intent.SIZE: 2,
        Intent.DISCOUNT: 2,
        Intent.DELIVERY: 1,
        Intent.THANKS: 2,
        Intent.HUMAN: 0.3,
        Intent.COMPLAINT: 0.2,
    },
    "bargainer": {
        Intent.PRICE: 3,
        Intent.DISCOUNT: 4,
        Intent.DELIVERY: 1,
        Intent.THANKS: 1,
        Intent.HUMAN: 0.5,
        Intent.COMPLAINT: 0.2,
    },
    "impatient": {
        Intent.DELIVERY: 3,
        Intent.PRICE: 1,
        Intent.HUMAN: 2,
        Intent.COMPLAINT: 1.5,
        Intent.THANKS: 1,
    },
}


@dataclass
class Persona:
    """How one scripted customer talks."""

    style: str
    favourite_products: tuple[str, ...]
    max_turns: int
    turns_in_conversation: int = 0
    last_intent: Intent | None = field(default=None)


def random_nickname(rng: random.Random) -> str:
    """A plausible Chinese WeChat nickname."""
    style = rng.choice(NICKNAME_STYLES)
    given = "".join(rng.choice(GIVEN_CHARS) for _ in range(rng.choice((1, 2))))
    return style.format(surname=rng.choice(SURNAMES), given=given, given1=rng.choice(GIVEN_CHARS))


def random_group_name(rng: random.Random) -> str:
    """A plausible customer group name."""
    return rng.choice(GROUP_NAMES) + rng.choice(("", "1群", "2群", "(官方)"))


def random_persona(rng: random.Random) -> Persona:
    """A persona with a style, favourite products and patience."""
    return Persona(
        style=rng.choice(tuple(STYLE_WEIGHTS)),
        favourite_products=tuple(rng.sample(PRODUCTS, 2)),
        max_turns=rng.randint(3, 7),
    )


def _line(intent: Intent, persona: Persona, rng: random.Random) -> str:
    return rng.choice(LINES[intent]).format(product=rng.choice(persona.favourite_products))


def opening_line(persona: Persona, rng: random.Random) -> str:
    """The first message of a new conversation started by the customer."""
    persona.turns_in_conversation = 1
    intent = rng.choice((Intent.SMALL_TALK, Intent.PRICE, Intent.SIZE, Intent.DISCOUNT, Intent.DELIVERY))
    persona.last_intent = intent
    return _line(intent, persona, rng)


def reply_line(persona: Persona, received_text: str, rng: random.Random) -> str | None:
    """The customer's answer to a message from the account, or None when they stop talking."""
    if persona.turns_in_conversation >= persona.max_turns:
        return None
    persona.turns_in_conversation += 1
    weights = STYLE_WEIGHTS[persona.style]
    if "人工" in received_text or "稍等" in received_text:
        intent = Intent.THANKS
    else:
        intents = [intent for intent in weights if intent != persona.last_intent]
        intent = rng.choices(intents, weights=[weights[i] for i in intents])[0]
    persona.last_intent = intent
    return _line(intent, persona, rng)
