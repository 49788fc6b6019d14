"""Deterministic support tickets in Korean and English, with the category an agent gave them.

A *file* is named ``sample-N`` (N tickets, 500 to 20000); its random seed comes from the
name, so ``sample-500`` is the same 500 tickets on every machine. The text is assembled from
templates and slots (products, order numbers, amounts, couriers, payment methods) with
Korean particles chosen to fit the word before them, framed the way each channel writes
(an e-mail, a chat line, an agent's call notes, an in-app form), and noisy the way real
tickets are: side remarks about another topic, vague one-liners, typos, and cases agents
label inconsistently. So neither classifier can be perfect.

The shipped training set (``data/train.jsonl``) comes from the same generator with another
seed and without a quarter of the body templates, so the model meets phrasings it never saw.
Regenerate it with ``python -m jobwire.examples.tickets --train``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, TypeVar

from .phrases import AMBIGUOUS, ASIDES, BODIES, FRAMES, SUBJECTS, VAGUE

CATEGORIES = ("delivery", "refund", "payment", "account", "product_defect", "other")
CHANNELS = ("email", "chat", "phone", "app")
LANGUAGES = ("ko", "en")

#: How often each category and channel occurs (a plausible shop's mix).
CATEGORY_WEIGHTS = (28, 18, 15, 14, 15, 10)
CHANNEL_WEIGHTS = (30, 30, 15, 25)

MIN_TICKETS = 500
MAX_TICKETS = 20_000
FILE_ID_PATTERN = r"^sample-[1-9][0-9]{2,4}$"
FILE_IDS = ("sample-500", "sample-2000", "sample-20000")

TRAIN_SEED = 20_240_501
TRAIN_SIZE = 3000
TRAIN_FILE = Path(__file__).resolve().parent / "data" / "train.jsonl"

#: The last moment of the period the tickets were written in (Korean time).
KST = timezone(timedelta(hours=9))
PERIOD_END = datetime(2025, 3, 31, 23, 59, tzinfo=KST)
PERIOD_DAYS = 30

Phrasing = Literal["test", "train"]
T = TypeVar("T")


class UnknownFile(ValueError):
    """Not a ticket file: expected 'sample-N' with N from 500 to 20000."""


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    channel: str
    created_at: str
    lang: str
    subject: str
    body: str
    category: str
    """The ground truth: the category a support agent gave the ticket."""

    @property
    def text(self) -> str:
        return f"{self.subject}\n{self.body}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def ticket_count(file_id: str) -> int:
    """The number of tickets in ``file_id``; raises UnknownFile for anything else."""
    if not isinstance(file_id, str) or not re.fullmatch(FILE_ID_PATTERN, file_id):
        raise UnknownFile(
            f"Expected a file id like 'sample-500' (sample-N, N from {MIN_TICKETS} to "
            f"{MAX_TICKETS}), but got {file_id!r}"
        )
    count = int(file_id.removeprefix("sample-"))
    if not MIN_TICKETS <= count <= MAX_TICKETS:
        raise UnknownFile(
            f"Expected between {MIN_TICKETS} and {MAX_TICKETS} tickets, but {file_id!r} asks "
            f"for {count}"
        )
    return count


def seed_for(file_id: str) -> int:
    """A seed derived from the file id, the same on every machine and Python version."""
    return int.from_bytes(hashlib.sha256(file_id.encode()).digest()[:8], "big")


def load(file_id: str) -> list[Ticket]:
    """The tickets of ``file_id`` (``sample-N``), oldest first."""
    return generate(ticket_count(file_id), seed_for(file_id))


def load_training() -> list[tuple[str, str]]:
    """The shipped labelled training set as ``(text, category)`` pairs."""
    pairs = []
    with TRAIN_FILE.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            pairs.append((f"{row['subject']}\n{row['body']}", row["category"]))
    return pairs


# -- generation ------------------------------------------------------------------------


def generate(count: int, seed: int, phrasing: Phrasing = "test") -> list[Ticket]:
    """``count`` tickets from ``seed``. ``phrasing="train"`` leaves out every fourth body
    template, the ones the test files keep to see how the model does on new wording."""
    rng = random.Random(seed)
    stamps = sorted(PERIOD_END - timedelta(minutes=_minute_of_period(rng)) for _ in range(count))
    tickets = []
    for n, stamp in enumerate(stamps, 1):
        category = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
        channel = rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0]
        lang = rng.choice(LANGUAGES)
        subject, body, category = _compose(rng, category, channel, lang, phrasing)
        tickets.append(
            Ticket(
                id=f"TK-{n:05d}",
                channel=channel,
                created_at=stamp.isoformat(timespec="minutes"),
                lang=lang,
                subject=subject,
                body=body,
                category=category,
            )
        )
    return tickets


def _minute_of_period(rng: random.Random) -> int:
    # More tickets in the daytime than at night: redraw night-time minutes once.
    minute = rng.randrange(PERIOD_DAYS * 24 * 60)
    hour = (PERIOD_END - timedelta(minutes=minute)).hour
    if hour < 8 or hour >= 22:
        minute = rng.randrange(PERIOD_DAYS * 24 * 60)
    return minute


def _compose(
    rng: random.Random, category: str, channel: str, lang: str, phrasing: Phrasing
) -> tuple[str, str, str]:
    """A subject and body for ``category``; returns the label too, which ambiguous and
    vague tickets change."""
    roll = rng.random()
    if roll < 0.035:
        # A one-liner that says nothing of its topic; the agent knew from the order history.
        subject, core = rng.choice(VAGUE[lang])
    elif roll < 0.115:
        # Two readings; agents pick one or the other.
        core, choices, first = rng.choice(AMBIGUOUS[lang])
        category = choices[0] if rng.random() < first else choices[1]
        subject = rng.choice(SUBJECTS[rng.choice(choices)][lang])
    else:
        subject = rng.choice(SUBJECTS[category][lang])
        core = _pick(rng, BODIES[category][lang], phrasing)
        if rng.random() < 0.45:
            extra = _pick(rng, BODIES[category][lang], phrasing)
            if extra != core and channel != "chat":
                core = f"{core} {extra}"
    if rng.random() < 0.2:
        other = rng.choice([c for c in CATEGORIES if c != category])
        core = f"{core} {rng.choice(ASIDES[other][lang])}"
    frame = FRAMES[channel][lang]
    opener, closer = rng.choice(frame["open"]), rng.choice(frame["close"])
    slots = Slots(rng, lang)
    subject = slots.fill(rng.choice(frame["subject"]) + subject)
    # E-mails keep their line breaks; other channels are one line.
    separator = "\n" if channel == "email" else " "
    body = slots.fill(separator.join(part for part in (opener, core, closer) if part))
    if channel == "chat":
        body = _chat_style(rng, body, lang)
    if rng.random() < 0.12:
        body = _typo(rng, body, lang)
    return subject, body, category


def _pick(rng: random.Random, phrases: Sequence[T], phrasing: Phrasing) -> T:
    pool = [p for i, p in enumerate(phrases) if i % 4 != 3] if phrasing == "train" else phrases
    return rng.choice(pool)


def _chat_style(rng: random.Random, text: str, lang: str) -> str:
    """How people type in a chat window: lower case and short forms, no full stops."""
    if lang == "en" and rng.random() < 0.5:
        return text.lower().replace("please", "pls").replace(" you ", " u ")
    if lang == "ko" and rng.random() < 0.3:
        return text.replace("요.", "요").replace("니다.", "니다")
    return text


def _typo(rng: random.Random, text: str, lang: str) -> str:
    """One slip of the fingers: a dropped space (Korean) or two swapped letters (English)."""
    if lang == "ko":
        spaces = [i for i, ch in enumerate(text) if ch == " "]
        if not spaces:
            return text
        i = rng.choice(spaces)
        return text[:i] + text[i + 1 :]
    words = [m for m in re.finditer(r"[A-Za-z]{5,}", text)]
    if not words:
        return text
    m = rng.choice(words)
    i = rng.randrange(m.start(), m.end() - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


# -- slots -----------------------------------------------------------------------------

PRODUCTS = (
    ("무선 이어폰", "wireless earbuds"),
    ("로봇청소기", "robot vacuum"),
    ("에어프라이어", "air fryer"),
    ("스마트워치", "smartwatch"),
    ("전기포트", "electric kettle"),
    ("블루투스 스피커", "Bluetooth speaker"),
    ("기계식 키보드", "mechanical keyboard"),
    ("가습기", "humidifier"),
    ("보조배터리", "power bank"),
    ("헤어드라이어", "hair dryer"),
    ("공기청정기", "air purifier"),
    ("커피머신", "coffee machine"),
    ("전동칫솔", "electric toothbrush"),
    ("모니터", "monitor"),
    ("태블릿", "tablet"),
    ("전기면도기", "electric shaver"),
)
COURIERS = (
    ("CJ대한통운", "CJ Logistics"),
    ("한진택배", "Hanjin"),
    ("롯데택배", "Lotte Global"),
    ("우체국택배", "Korea Post"),
    ("로젠택배", "Logen"),
)
METHODS = (
    ("신용카드", "credit card"),
    ("카카오페이", "KakaoPay"),
    ("네이버페이", "Naver Pay"),
    ("토스페이", "Toss"),
    ("체크카드", "debit card"),
    ("페이코", "PayPal"),
    ("무통장입금", "bank transfer"),
)
NAMES = (
    ("김민지", "Emily Carter"),
    ("이서준", "Daniel Kim"),
    ("박지현", "Sofia Rossi"),
    ("최도윤", "James Lee"),
    ("정하은", "Priya Nair"),
    ("강태윤", "Lucas Martin"),
    ("윤서연", "Hannah Schmidt"),
    ("한지호", "Omar Haddad"),
)
KO_DATES = ("지난주 월요일", "그저께", "어제", "지난 주말", "이번 주 초", "{month}월 {day}일")
EN_DATES = ("last Monday", "the day before yesterday", "yesterday", "last weekend", "{mon} {day}")
MONTHS_EN = ("Feb", "March")


def has_batchim(word: str) -> bool:
    """Whether the last syllable of ``word`` ends in a consonant (받침), which picks the
    particle: 이/을/은/과/으로 after one, 가/를/는/와/로 after a vowel. Digits are read
    the Korean way (1 일, 2 이, …); non-Korean endings count as vowels."""
    last = word.rstrip()[-1:]
    if "가" <= last <= "힣":
        return (ord(last) - ord("가")) % 28 != 0
    return last in "013678"


def rieul_final(word: str) -> bool:
    last = word.rstrip()[-1:]
    return "가" <= last <= "힣" and (ord(last) - ord("가")) % 28 == 8


def particle(word: str, pair: str) -> str:
    """``word`` with the right one of a particle pair like ``"이/가"`` or ``"으로/로"``."""
    with_final, without = pair.split("/")
    if pair == "으로/로":
        return word + (without if not has_batchim(word) or rieul_final(word) else with_final)
    return word + (with_final if has_batchim(word) else without)


PARTICLES = {"ga": "이/가", "reul": "을/를", "eun": "은/는", "ro": "으로/로", "i": "이/가"}


class Slots(dict[str, str]):
    """The values of one ticket's placeholders, drawn when first used: ``{p}`` the product,
    ``{p_ga}`` it with 이/가, ``{p_reul}`` 을/를, ``{p_eun}`` 은/는, ``{p_ro}`` (으)로;
    ``{order}``, ``{amount}``, ``{amount_i}``, ``{courier}``, ``{method}``, ``{method_ro}``,
    ``{date}``, ``{days}``, ``{email}``, ``{name}``, ``{qty}``, ``{version}``."""

    def __init__(self, rng: random.Random, lang: str) -> None:
        super().__init__()
        self.rng = rng
        self.lang = 0 if lang == "ko" else 1

    def fill(self, text: str) -> str:
        return text.format_map(self)

    def __missing__(self, key: str) -> str:
        base, _, suffix = key.partition("_")
        value = particle(self[base], PARTICLES[suffix]) if suffix else self._draw(key)
        self[key] = value
        return value

    def _draw(self, key: str) -> str:
        rng, i = self.rng, self.lang
        if key in ("p", "courier", "method", "name"):
            table = {"p": PRODUCTS, "courier": COURIERS, "method": METHODS, "name": NAMES}[key]
            return rng.choice(table)[i]
        if key == "order":
            return (
                f"{rng.choice((2024, 2025, 2025))}{rng.randint(1, 12):02d}"
                f"{rng.randint(1, 28):02d}-{rng.randrange(10**6, 10**7)}"
            )
        if key == "amount":
            won = rng.randrange(59, 2_990) * 100
            return (
                f"{won:,}원"
                if i == 0
                else rng.choice((f"₩{won:,}", f"KRW {won:,}", f"${won / 1300:.2f}"))
            )
        if key == "date":
            return rng.choice(EN_DATES if i else KO_DATES).format(
                month=rng.choice((2, 3)), mon=rng.choice(MONTHS_EN), day=rng.randint(1, 28)
            )
        if key == "days":
            return str(rng.randint(3, 12))
        if key == "email":
            user = rng.choice(NAMES)[1].split()[0].lower() + str(rng.randint(1, 999))
            return f"{user}@{rng.choice(('gmail.com', 'naver.com', 'daum.net', 'kakao.com'))}"
        if key == "qty":
            return str(rng.choice((20, 30, 50, 100, 200)))
        if key == "version":
            return f"{rng.randint(3, 5)}.{rng.randint(0, 9)}.{rng.randint(0, 20)}"
        raise KeyError(key)


# -- the training file -----------------------------------------------------------------


def training_rows() -> list[dict[str, str]]:
    return [
        {"subject": t.subject, "body": t.body, "category": t.category}
        for t in generate(TRAIN_SIZE, TRAIN_SEED, phrasing="train")
    ]


def write_training(path: Path = TRAIN_FILE) -> int:
    rows = training_rows()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("file_id", nargs="?", default="sample-500", help="e.g. sample-2000")
    parser.add_argument("--train", action="store_true", help=f"rewrite {TRAIN_FILE.name}")
    options = parser.parse_args(argv)
    if options.train:
        print(f"wrote {write_training()} tickets to {TRAIN_FILE}", file=sys.stderr)
        return
    for ticket in load(options.file_id):
        print(json.dumps(ticket.to_dict(), ensure_ascii=False))


if __name__ == "__main__":
    main()
