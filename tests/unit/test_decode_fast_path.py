"""decode_event's msgspec fast path changes nothing but the cost: for every input it gives what
the orjson path (`_decode_document`, the decoder as it was before the fast path) gives, down to
the type and repr of every field, the identity of the agent-state constants and the reason and
detail of every rejection.

Two properties on generated documents (valid events of each type, then broken in every way the
two JSON readers might disagree on): decode_event equals the orjson path, and whatever the fast
path accepts on its own, the orjson path accepts as the same event. Explicit cases pin each
known difference between msgspec and orjson.
"""

from __future__ import annotations

import array
import json
import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from reference import REQUIRED_FIELDS

from streams.kpi import decode, wire
from streams.kpi.decode import (
    MAX_AGENT_QUEUES,
    MAX_SECONDS,
    MAX_TEXT_CHARS,
    MAX_TS,
    decode_event,
)
from streams.kpi.events import AGENT_STATES, EVENT_TYPES, AgentStateEvent, Rejection
from streams.synthetic import call_cycle_events

Result = Any  # an event or a Rejection
reference = decode._decode_document

REQUIRED = REQUIRED_FIELDS
OPTIONAL: dict[str, tuple[str, ...]] = {
    "call.offered": (),
    "call.answered": (),
    "call.abandoned": (),
    "call.wrapup": ("hold_seconds",),
    "agent.state": ("team", "reason"),
}
ALL_FIELDS = sorted({name for names in (*REQUIRED.values(), *OPTIONAL.values()) for name in names})


def fast_only(raw: Any) -> Result | None:
    """What the fast path alone makes of `raw`: None where decode_event hands it to orjson."""
    if type(raw) is bytes:
        escaped = b"\\" in raw
    elif type(raw) is str:
        escaped = "\\" in raw
    else:
        return None
    try:
        message = wire.DECODER.decode(raw)
    except Exception:
        return None
    return decode._fast_event(message, escaped)


def fingerprint(result: Result) -> tuple[str, tuple[tuple[str, str, str], ...]]:
    """Class, and type and repr of every field: 3 and 3.0, or 0.0 and -0.0, differ here."""
    fields = tuple(
        (name, type(value).__name__, repr(value))
        for name in result.fields
        for value in (getattr(result, name),)
    )
    return type(result).__name__, fields


def assert_same(result: Result, expected: Result) -> None:
    assert fingerprint(result) == fingerprint(expected)
    assert result == expected
    if isinstance(expected, AgentStateEvent):
        # The engine compares states by identity: the module's own constants, both ways.
        assert result.state is expected.state
        assert any(result.state is state for state in AGENT_STATES)


def check(raw: Any) -> tuple[Result, Result | None]:
    """Both properties for one input: (the orjson path's result, the fast path's alone)."""
    expected = reference(raw)
    assert_same(decode_event(raw), expected)
    fast = fast_only(raw)
    if fast is not None:
        assert not isinstance(expected, Rejection), (raw, expected)
        assert_same(fast, expected)
    return expected, fast


# --- generated documents -----------------------------------------------------------------------

NUMBER_TOKENS = (
    "0",
    "-0",
    "0.0",
    "-0.0",
    "1",
    "-1",
    "2.5",
    "1E2",
    "1e-400",
    "1e400",
    "-1e400",
    "1795424400",
    "1795424400.5",
    "32503680000",
    "32503680000.0",
    "32503679999.999996",
    "9007199254740993",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1" + "0" * 400,
    "-1" + "0" * 400,
    "1" + "0" * 400 + ".0",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "5e-324",
)
# Numbers beyond what orjson reads (or reads exactly), each followed in the document by the
# same key with a valid value: (label, JSON token).
OVERSIZED_FIRST = (
    ("1e400", "1e400"),
    ("10**400", "1" + "0" * 400),
    ("-1e400", "-1" + "0" * 400),
    ("10**30", str(10**30)),
)
# Strings a name, a state or a time might be: the boundaries of every text check.
SPECIAL_TEXT = (
    "",
    "a",
    "sales",
    "\x1f",
    "q\x1f1",
    "\x00",
    "\x7f",
    "\\",
    '"',
    "/",
    "é",
    "😀",
    "\u2028",
    "x" * MAX_TEXT_CHARS,
    "x" * (MAX_TEXT_CHARS + 1),
    "😀" * MAX_TEXT_CHARS,
    "😀" * (MAX_TEXT_CHARS + 1),
    "x" * (MAX_TEXT_CHARS - 1) + "\x1f",
    *AGENT_STATES,
    *EVENT_TYPES,
    "Available",
    "default",
    "2026-11-23T09:00:12.5Z",
    "2026-11-23T09:00:12",
    "2026-11-23",
    "1795424400",
)


def dumps(value: Any, ascii_only: bool) -> str:
    return json.dumps(value, ensure_ascii=ascii_only)


texts = st.one_of(
    st.sampled_from(SPECIAL_TEXT),
    st.text(max_size=6),
    st.text(alphabet=st.sampled_from('ab\x1f\\"é😀\x00\x7f\U0010ffff'), max_size=6),
    st.integers(MAX_TEXT_CHARS - 3, MAX_TEXT_CHARS + 3).map(lambda size: "n" * size),
)
string_tokens = st.builds(dumps, texts, st.booleans())
number_tokens = st.one_of(
    st.sampled_from(NUMBER_TOKENS),
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(0, MAX_TS * 1.01).map(repr),
)
scalar_tokens = st.one_of(st.sampled_from(("null", "true", "false")), number_tokens, string_tokens)
any_tokens = st.recursive(
    scalar_tokens,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(string_tokens, inner), max_size=3).map(
            lambda pairs: "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"
        ),
    ),
    max_leaves=4,
)
offsets = st.timedeltas(-timedelta(hours=23, minutes=59), timedelta(hours=23, minutes=59))
moments = st.datetimes(timezones=st.one_of(st.none(), st.just(UTC), st.builds(timezone, offsets)))
iso_texts = st.one_of(
    st.builds(lambda moment: moment.isoformat(), moments),
    st.builds(lambda moment: moment.isoformat(sep=" ", timespec="milliseconds"), moments),
    st.builds(
        lambda moment: moment.replace(tzinfo=None).isoformat() + "Z",
        st.datetimes(min_value=datetime(1960, 1, 1), max_value=datetime(3010, 1, 1)),
    ),
)
ts_tokens = st.one_of(
    st.floats(0, MAX_TS, exclude_max=True).map(repr),
    st.integers(0, int(MAX_TS)).map(str),
    st.builds(dumps, iso_texts, st.booleans()),
    number_tokens,
    scalar_tokens,
)
name_lists = st.one_of(
    st.lists(
        st.sampled_from(("sales", "support", "sales", "é", "\x1f", "", "x" * 513)), max_size=4
    ),
    st.lists(texts, max_size=3),
)
queue_tokens = st.one_of(
    st.builds(dumps, name_lists, st.booleans()),
    st.integers(MAX_AGENT_QUEUES - 2, MAX_AGENT_QUEUES + 2).map(
        lambda size: json.dumps([f"q{index % 600}" for index in range(size)])
    ),
    st.integers(MAX_AGENT_QUEUES + 1, MAX_AGENT_QUEUES + 3).map(
        lambda size: json.dumps(["sales"] * size)
    ),
)
valid_text_tokens = st.builds(
    dumps, st.sampled_from(("e1", "c1", "sales", "a1", "é", "😀", "a\\b", "x" * 512)), st.booleans()
)


valid_ts_tokens = st.one_of(
    st.floats(0, MAX_TS, exclude_max=True).map(repr),
    st.integers(0, int(MAX_TS) - 1).map(str),
    st.builds(
        lambda moment, zulu: json.dumps(
            moment.isoformat().replace("+00:00", "Z" if zulu else "+00:00")
        ),
        st.datetimes(datetime(1971, 1, 1), datetime(2998, 1, 1), timezones=st.just(UTC)),
        st.booleans(),
    ),
)
valid_seconds_tokens = st.one_of(st.floats(0, 1e6).map(repr), st.integers(0, 10**6).map(str))
valid_queue_tokens = st.builds(
    dumps, st.lists(st.sampled_from(("sales", "support", "é", "a\\b")), max_size=3), st.booleans()
)


def field_tokens(name: str, broken: bool = True) -> st.SearchStrategy[str]:
    """A valid value for the field, or (`broken`) anything the field might be sent as."""
    if name == "ts":
        valid, wrong = valid_ts_tokens, ts_tokens
    elif name.endswith("_seconds"):
        valid, wrong = valid_seconds_tokens, number_tokens
    elif name == "queues":
        valid, wrong = valid_queue_tokens, queue_tokens
    elif name == "state":
        valid = st.sampled_from(AGENT_STATES).map(json.dumps)
        wrong = st.builds(dumps, st.sampled_from(SPECIAL_TEXT), st.booleans())
    elif name == "reason":
        valid, wrong = st.one_of(st.just("null"), valid_text_tokens), string_tokens
    else:
        valid, wrong = valid_text_tokens, string_tokens
    return st.one_of(wrong, any_tokens) if broken else valid


@st.composite
def documents(draw: st.DrawFn) -> bytes:
    """One JSON document as bytes: an event of some type, often broken."""
    kind = draw(st.sampled_from((*EVENT_TYPES, *EVENT_TYPES, "call.unknown")))
    required = REQUIRED.get(kind, REQUIRED["call.offered"])
    optional = OPTIONAL.get(kind, ())
    pairs: list[tuple[str, str]] = [("type", json.dumps(kind))]
    # Half the documents have every field valid (mutations below may still break them).
    broken = draw(st.one_of(st.just(()), st.lists(st.sampled_from(required + optional))))
    for name in required:
        pairs.append((name, draw(field_tokens(name, name in broken))))
    for name in optional:
        if draw(st.booleans()):
            pairs.append((name, draw(field_tokens(name, name in broken))))
    for _ in range(draw(st.sampled_from((0, 0, 0, 1, 1, 2, 3)))):
        mutation = draw(st.sampled_from(("drop", "retype", "extra", "duplicate", "type")))
        index = draw(st.integers(0, len(pairs) - 1)) if pairs else 0
        if mutation == "drop" and pairs:
            del pairs[index]
        elif mutation == "retype" and pairs:
            pairs[index] = (pairs[index][0], draw(any_tokens))
        elif mutation == "extra":
            key = draw(st.one_of(st.sampled_from(ALL_FIELDS), st.text(max_size=4)))
            pairs.insert(index, (key, draw(any_tokens)))
        elif mutation == "duplicate" and pairs:
            key = pairs[index][0]
            value = draw(field_tokens(key) if key in ALL_FIELDS else any_tokens)
            pairs.insert(draw(st.integers(0, len(pairs))), (key, value))
        elif mutation == "type":
            pairs.insert(index, ("type", draw(st.one_of(string_tokens, any_tokens))))
    if draw(st.booleans()):
        pairs = draw(st.permutations(pairs))
    space = draw(st.sampled_from(("", " ", "\n", "\t ", "\r\n")))
    body = f",{space}".join(f"{json.dumps(key)}:{space}{value}" for key, value in pairs)
    # surrogatepass: a lone surrogate becomes the invalid UTF-8 of its code point.
    return f"{space}{{{body}}}{space}".encode("utf-8", "surrogatepass")


@st.composite
def inputs(draw: st.DrawFn) -> Any:
    raw = draw(documents())
    damage = draw(st.sampled_from(("none",) * 12 + ("byte", "cut", "surrogate", "other json")))
    if damage == "byte":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at:]
    elif damage == "cut":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif damage == "surrogate" and b'"e1"' in raw:
        raw = raw.replace(b'"e1"', draw(st.sampled_from(SURROGATES)), 1)
    elif damage == "other json":
        raw = draw(any_tokens).encode("utf-8", "surrogatepass")
    form = draw(st.sampled_from(("bytes",) * 5 + ("str", "bytearray", "memoryview")))
    if form == "str":
        return raw.decode("utf-8", "surrogateescape")
    if form == "bytearray":
        return bytearray(raw)
    if form == "memoryview":
        return memoryview(raw)
    return raw


SURROGATES = (
    b'"\\ud800"',
    b'"\\udc00"',
    b'"\\ud800\\u0041"',
    b'"\\udc00\\ud800"',
    b'"\\ud83d\\ude00"',
    b'"\xed\xa0\x80"',
    b'"\xf0\x9f\x98\x80"',
    b'"\xff"',
    b'"\xc0\xaf"',
    b'"\xf4\x90\x80\x80"',
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
def test_decode_event_is_the_orjson_path_for_generated_documents(raw: Any) -> None:
    expected, fast = check(raw)
    event("fast path accepted" if fast is not None else "orjson path")
    event(type(expected).__name__ + (f" {expected.reason}" if type(expected) is Rejection else ""))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(EVENT_TYPES), st.data())
def test_valid_events_take_the_fast_path(kind: str, data: st.DataObject) -> None:
    # Not a property of the result (the test above is), but of the cost: valid events in any
    # of their forms must not fall back, or the fast path is dead code.
    doc: dict[str, Any] = {"type": kind, "event_id": "e1"}
    doc["ts"] = data.draw(
        st.one_of(
            st.floats(0, MAX_TS, exclude_max=True),
            st.integers(0, int(MAX_TS) - 1),
            st.builds(
                lambda moment: moment.isoformat(),
                st.datetimes(datetime(1971, 1, 1), datetime(2998, 1, 1), timezones=st.just(UTC)),
            ),
        )
    )
    names = st.text(
        st.characters(blacklist_characters="\x1f", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=MAX_TEXT_CHARS,
    )
    seconds = st.one_of(
        st.floats(0, MAX_SECONDS, exclude_max=True), st.integers(0, int(MAX_SECONDS) - 1)
    )
    for name in REQUIRED[kind]:
        if name.endswith("_seconds"):
            doc[name] = data.draw(seconds)
        elif name not in ("type", "ts", "state", "queues"):
            doc[name] = data.draw(names)
    if kind == "call.wrapup" and data.draw(st.booleans()):
        doc["hold_seconds"] = data.draw(seconds)
    if kind == "agent.state":
        doc["state"] = data.draw(st.sampled_from(AGENT_STATES))
        doc["queues"] = data.draw(st.lists(names, min_size=doc["state"] != "logged_out"))
        if data.draw(st.booleans()):
            doc["team"] = data.draw(names)
        doc["reason"] = data.draw(st.one_of(st.none(), st.text()))
    raw = json.dumps(doc, ensure_ascii=data.draw(st.booleans())).encode()
    if data.draw(st.booleans()):
        raw = raw.decode()
    expected, fast = check(raw)
    assert not isinstance(expected, Rejection), expected
    assert fast is not None


def test_every_synthetic_event_takes_the_fast_path() -> None:
    for line in call_cycle_events(5000, queues=50, agents=500):
        expected, fast = check(line)
        assert fast is not None and not isinstance(expected, Rejection)


def test_decode_reads_the_fields_in_the_order_wire_declares_them() -> None:
    # decode takes each message's fields as a tuple, by position.
    call = ("event_id", "ts", "call_id", "queue")
    assert wire.CallOffered.__struct_fields__ == call
    assert wire.CallAnswered.__struct_fields__ == (*call, "agent_id", "wait_seconds")
    assert wire.CallAbandoned.__struct_fields__ == (*call, "wait_seconds")
    wrapup = (*call, "agent_id", "talk_seconds", "acw_seconds", "hold_seconds")
    assert wire.CallWrapup.__struct_fields__ == wrapup
    state = ("event_id", "ts", "agent_id", "state", "queues", "team", "reason")
    assert wire.AgentState.__struct_fields__ == state


def test_wire_reads_every_agent_state_as_the_module_constant() -> None:
    # The fast path passes msgspec's string on as the event's state, and the engine compares
    # states by identity: each Literal value must be the module's own string object.
    names = typing.get_args(wire.AgentStateName)
    assert sorted(names) == sorted(AGENT_STATES)
    for name in names:
        assert any(name is state for state in AGENT_STATES)
        raw = json.dumps(
            {
                "type": "agent.state",
                "event_id": "e1",
                "ts": T,
                "agent_id": "a1",
                "state": name,
                "queues": ["sales"],
            }
        ).encode()
        assert fast_only(raw).state is name


# --- explicit cases ----------------------------------------------------------------------------

T = 1795424400.5  # 2026-11-23T09:00:00.5Z
VALID: dict[str, dict[str, Any]] = {
    "call.offered": {"call_id": "c1", "queue": "sales"},
    "call.answered": {"call_id": "c1", "queue": "sales", "agent_id": "a1", "wait_seconds": 12.5},
    "call.abandoned": {"call_id": "c1", "queue": "sales", "wait_seconds": 3},
    "call.wrapup": {
        "call_id": "c1",
        "queue": "sales",
        "agent_id": "a1",
        "talk_seconds": 200.25,
        "hold_seconds": 10,
        "acw_seconds": 30.5,
    },
    "agent.state": {"agent_id": "a1", "state": "available", "queues": ["sales"], "team": "t1"},
}


def body(kind: str, **changes: Any) -> dict[str, Any]:
    doc = {"type": kind, "event_id": "e1", "ts": T, **VALID[kind]}
    doc.update(changes)
    return doc


def raw_json(kind: str, tail: str = "", **changes: Any) -> bytes:
    """The event as JSON text, with `tail` (raw JSON: `"key":value` pairs) before the `}`."""
    text = json.dumps(body(kind, **changes))
    return (text[:-1] + (", " + tail if tail else "") + "}").encode("utf-8", "surrogatepass")


def even(raw: bytes) -> bytes:
    """`raw` padded with a space to a whole number of 2-byte items."""
    return raw + b" " * (len(raw) % 2)


def without(kind: str, name: str) -> bytes:
    doc = body(kind)
    del doc[name]
    return json.dumps(doc).encode()


# (id, input, whether the fast path must take the input if the orjson path accepts it)
CASES: list[tuple[str, Any, bool]] = []


def case(name: str, raw: Any, fast_if_valid: bool = False) -> None:
    CASES.append((name, raw, fast_if_valid))


for kind in EVENT_TYPES:
    case(f"{kind} valid", raw_json(kind), True)
    case(f"{kind} as str", raw_json(kind).decode(), True)
    case(f"{kind} as bytearray", bytearray(raw_json(kind)))
    case(f"{kind} as memoryview", memoryview(raw_json(kind)))
    case(f"{kind} as strided memoryview", memoryview(even(raw_json(kind)))[::2])
    case(f"{kind} as memoryview of shorts", memoryview(array.array("H", even(raw_json(kind)))))
    case(f"{kind} keys reversed", json.dumps(dict(reversed(body(kind).items()))).encode(), True)
    case(f"{kind} unknown field", raw_json(kind, '"x": 1'))
    case(f"{kind} unknown field 1e400", raw_json(kind, '"x": 1e400'))
    case(f"{kind} unknown field 10**30", raw_json(kind, '"x": 123456789012345678901234567890'))
    case(f"{kind} unknown field 10**400", raw_json(kind, '"x": 1' + "0" * 400))
    case(
        f"{kind} unknown field invalid UTF-8",
        raw_json(kind, '"x": "\xff"').replace(b"\xc3\xbf", b"\xff"),
    )
    case(f"{kind} unknown field lone surrogate", raw_json(kind, '"x": "\\ud800"'))
    case(
        f"{kind} unknown field nested 2000 deep", raw_json(kind, '"x": ' + "[" * 2000 + "]" * 2000)
    )
    case(
        f"{kind} unknown key invalid UTF-8",
        raw_json(kind, '"\xff": 1').replace(b"\xc3\xbf", b"\xff"),
    )
    case(
        f"{kind} type twice, same",
        raw_json(kind, json.dumps("type") + ":" + json.dumps(kind)),
        True,
    )
    case(
        f"{kind} type twice, other",
        raw_json(
            kind, '"type": "call.offered"' if kind != "call.offered" else '"type": "agent.state"'
        ),
    )
    case(f"{kind} type twice, not a string", raw_json(kind, '"type": 5'))
    case(f"{kind} event_id twice", raw_json(kind, '"event_id": "e2"'), True)
    case(f"{kind} ts invalid then valid", b'{"ts": "nope", ' + raw_json(kind)[1:], True)
    case(f"{kind} ts valid then invalid", raw_json(kind, '"ts": "nope"'))
    case(f"{kind} ts valid then null", raw_json(kind, '"ts": null'))
    case(f"{kind} ts 1e400 then valid", b'{"ts": 1e400, ' + raw_json(kind)[1:])
    case(f"{kind} ts 10**400 then valid", b'{"ts": 1' + b"0" * 400 + b", " + raw_json(kind)[1:])
    case(f"{kind} escaped type", raw_json(kind).replace(b'"type": "', b'"typ\\u0065": "', 1), True)
    case(f"{kind} UTF-8 BOM", b"\xef\xbb\xbf" + raw_json(kind))
    case(f"{kind} trailing comma", raw_json(kind)[:-1] + b",}")
    case(f"{kind} trailing garbage", raw_json(kind) + b"x")
    case(f"{kind} two documents", raw_json(kind) + raw_json(kind))
    case(f"{kind} whitespace around", b" \n\t" + raw_json(kind) + b"\r\n ", True)
    case(f"{kind} form feed", b"\x0c" + raw_json(kind))
    case(f"{kind} type missing", without(kind, "type"))
    for name in (*REQUIRED[kind], *OPTIONAL[kind]):
        if name in body(kind):
            case(f"{kind} {name} missing", without(kind, name), name in OPTIONAL[kind])
        case(f"{kind} {name} null", raw_json(kind, **{name: None}), name == "reason")
        case(f"{kind} {name} true", raw_json(kind, **{name: True}))
        case(f"{kind} {name} false", raw_json(kind, **{name: False}))
        case(f"{kind} {name} list", raw_json(kind, **{name: [1]}))
        case(f"{kind} {name} object", raw_json(kind, **{name: {"a": 1}}))
        # msgspec refuses the null before it sees the second value: valid, but not fast.
        case(
            f"{kind} {name} twice, first null", f'{{"{name}": null, '.encode() + raw_json(kind)[1:]
        )
        if name in ("ts", "queues", "state"):
            continue
        if name.endswith("_seconds"):
            for token in NUMBER_TOKENS:
                case(f"{kind} {name} {token[:30]}", raw_json(kind, f'"{name}": {token}'))
            # The same key again with a valid value: the first must still be read.
            for label, token in OVERSIZED_FIRST:
                case(
                    f"{kind} {name} {label} then valid",
                    f'{{"{name}": {token}, '.encode() + raw_json(kind)[1:],
                )
            continue
        for text in SPECIAL_TEXT:
            case(f"{kind} {name} {text[:12]!r} len {len(text)}", raw_json(kind, **{name: text}))
        case(
            f"{kind} {name} U+001F uppercase escape",
            raw_json(kind, **{name: "a\x1fb"}).replace(b"\\u001f", b"\\u001F"),
        )
        case(f"{kind} {name} escaped backslash", raw_json(kind, **{name: "a\\u001f"}), True)
        case(
            f"{kind} {name} escaped non-ASCII",
            json.dumps(body(kind, **{name: "é😀"})).encode(),
            True,
        )
        case(
            f"{kind} {name} raw U+001F byte",
            raw_json(kind, **{name: "a\x1fb"}).replace(b"\\u001f", b"\x1f"),
        )
        case(f"{kind} {name} lone surrogate", raw_json(kind, **{name: "\ud800"}))
        case(
            f"{kind} {name} lone surrogate, raw",
            raw_json(kind, **{name: "\ud800"}).replace(b"\\ud800", b"\xed\xa0\x80"),
        )
        case(
            f"{kind} {name} invalid UTF-8",
            raw_json(kind, **{name: "a\xffb"}).replace(b"\\u00ff", b"\xff"),
        )
        case(
            f"{kind} {name} overlong UTF-8",
            raw_json(kind, **{name: "@@"}).replace(b"@@", b"\xc0\xaf"),
        )
        case(
            f"{kind} {name} beyond U+10FFFF",
            raw_json(kind, **{name: "@@"}).replace(b"@@", b"\xf4\x90\x80\x80"),
        )
        case(f"{kind} {name} number", raw_json(kind, **{name: 5}))
        case(
            f"{kind} {name} surrogate str input",
            json.dumps(body(kind, **{name: "\ud800"}), ensure_ascii=False),
        )

TS_VALUES: list[Any] = [
    T,
    1795424400,
    0,
    0.0,
    -0.0,
    -1,
    -0.5,
    MAX_TS,
    MAX_TS - 0.001,
    int(MAX_TS),
    int(MAX_TS) - 1,
    1e20,
    10**30,
    2**64,
    "2026-11-23T09:00:12.5Z",
    "2026-11-23T09:00:12.5+01:00",
    "2026-11-23T09:00:12.5-23:59",
    "2026-11-23 09:00:12Z",
    "2026-11-23T09:00:12",
    "2026-11-23",
    "2999-12-31T23:59:59.999999Z",
    "3000-01-01T00:00:00Z",
    "2999-12-31T23:00:00-01:00",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:59:59+01:00",
    "0001-01-01T00:00:00+00:01",
    "9999-12-31T23:59:59-23:59",
    "20261123T090012Z",
    "1795424400",
    "",
    "not a time",
    "2026-11-23T09:00:12\x1fZ",
]
for kind in EVENT_TYPES:
    for value in TS_VALUES:
        case(f"{kind} ts {value!r}", raw_json(kind, ts=value), True)
    for token in NUMBER_TOKENS:
        case(f"{kind} ts {token[:30]}", raw_json(kind, f'"ts": {token}'))

for state in (*AGENT_STATES, "Available", "", "busy", "logged_out ", "on_call\x1f"):
    for queues in ([], ["sales"], ["sales", "support", "sales"], ["sales", ""]):
        case(
            f"state {state!r} queues {queues}", raw_json("agent.state", state=state, queues=queues)
        )
for value in (5, None, True, ["available"]):
    case(f"state {value!r}", raw_json("agent.state", state=value))
for size in (MAX_AGENT_QUEUES - 1, MAX_AGENT_QUEUES, MAX_AGENT_QUEUES + 1):
    distinct = [f"q{index}" for index in range(size)]
    case(f"{size} distinct queues", raw_json("agent.state", queues=distinct), True)
    case(f"{size} queues, one name", raw_json("agent.state", queues=["sales"] * size), True)
for queues in (
    ["a", "b", "a", "c", "b"],
    ["x" * MAX_TEXT_CHARS],
    ["x" * (MAX_TEXT_CHARS + 1)],
    ["😀" * MAX_TEXT_CHARS, "😀" * MAX_TEXT_CHARS],
    ["a\x1fb"],
    ["a", 5],
    ["a", None],
    [["a"]],
    "sales",
    {"sales": 1},
):
    case(f"queues {str(queues)[:40]}", raw_json("agent.state", queues=queues), True)
for reason in ("lunch", "", "a\x1fb", "x" * 600, 5, None, ["x"]):
    case(
        f"reason {str(reason)[:20]!r}",
        raw_json("agent.state", state="not_ready", reason=reason),
        True,
    )
case("reason with other states", raw_json("agent.state", reason="r"), True)
case("team absent is default", without("agent.state", "team"), True)
case("hold absent is 0.0", without("call.wrapup", "hold_seconds"), True)
for talk, hold, acw in (
    (0.1, 0.2, 0.3),
    (0.3, 0.2, 0.1),
    (1, 2, 3),
    (2**53 + 1, 1, 0.0),
    (2**53, 0.5, 1),
    (2**63 - 1, 2**63 - 1, 2**63 - 1),
    (1.7976931348623157e308, 1.7976931348623157e308, 0),
    (-0.0, 0, -0.0),
):
    wrapup = raw_json("call.wrapup", talk_seconds=talk, hold_seconds=hold, acw_seconds=acw)
    case(f"wrapup sum {talk!r} + {hold!r} + {acw!r}", wrapup, True)
for wait in (0, -0.0, 3, 12.5, 2**53 + 1, 2**63 - 1, -1, -1e-300):
    case(f"answered wait {wait!r}", raw_json("call.answered", wait_seconds=wait), True)
# Valid, but beyond the integers wire takes: the orjson path decodes them.
for wait in (2**63, 2**64 - 1, 2**64, 10**30):
    case(f"answered wait {wait!r}", raw_json("call.answered", wait_seconds=wait))
for document in (
    b"",
    b" ",
    b"[]",
    b"[1]",
    b'"call.offered"',
    b"1",
    b"1e400",
    b"null",
    b"true",
    b"{}",
    b'{"type": null}',
    b'{"type": 5}',
    b'{"type": "call.unknown", "event_id": "e1"}',
    b'{"type": "CALL.OFFERED", "event_id": "e1", "ts": 1, "call_id": "c", "queue": "q"}',
    b'{"type": ["call.offered"]}',
    b'{"type": "call.offered"}',
    b'{"type": "agent.state"}',
    b"{",
    b"\xff",
    "",
    "{}",
    "[]",
    "\ud800",
):
    case(f"document {document!r}", document)


@pytest.mark.parametrize(
    ("raw", "fast_if_valid"),
    [(raw, fast_if_valid) for _, raw, fast_if_valid in CASES],
    ids=[name for name, _, _ in CASES],
)
def test_case(raw: Any, fast_if_valid: bool) -> None:
    expected, fast = check(raw)
    if fast_if_valid and not isinstance(expected, Rejection):
        assert fast is not None  # valid, and meant for the fast path: it must not fall back


# --- ISO times: `_iso_ts` and the midnight it keeps between messages ----------------------------

# Each is decoded right after the one before it, so a midnight kept from an earlier date (or an
# offset, a fraction or a form read wrongly) gives another time than the orjson path's.
ISO_SEQUENCE = (
    "2026-11-23T09:00:12.5Z",
    "2026-11-23T09:00:12.5+00:00",
    "2026-11-23T09:00:12.5-00:00",
    "2026-11-23T09:00:12.5+02:00",
    "2026-11-23T09:00:12.5-05:30",
    "2026-11-23T23:59:59.999999-23:59",
    "2026-11-23T00:00:00+23:59",
    "2026-11-24T09:00:12.5Z",
    "2026-11-23T09:00:12.5+02:00",
    "2026-12-23T09:00:12.5+02:00",
    "2027-11-23T09:00:12.5+02:00",
    "2126-11-23T09:00:12.5+02:00",
    "2026-02-28T12:00:00Z",
    "2026-02-29T12:00:00Z",
    "2026-02-28T12:00:00Z",
    "2028-02-29T12:00:00Z",
    "2026-11-23T09:00:12.1Z",
    "2026-11-23T09:00:12.12Z",
    "2026-11-23T09:00:12.123Z",
    "2026-11-23T09:00:12.1234Z",
    "2026-11-23T09:00:12.12345Z",
    "2026-11-23T09:00:12.123456Z",
    "2026-11-23T09:00:12.1234567Z",
    "2026-11-23T09:00:12." + "9" * 40 + "Z",  # more digits than an i64 holds
    "2026-11-23T09:00:12." + "9" * 40 + "+02:00",
    "2026-11-23T09:00:12.5/Z",  # the characters either side of the digits
    "2026-11-23T09:00:12.5:Z",
    "2026-11-23T0/:00:12Z",
    "2026-11-23T09:0::12Z",
    "2026-11-23T09:00:12+0/:00",
    "2026-11-23T09:00:12-02::0",
    "2026-11-23T0\u0669:00:12Z",  # digits that are not ASCII
    "2026-11-23T09:00:12.\u0665Z",
    "2026-11-23T09:00:12+0\u0662:00",
    "2026-11-23T09:00:12.000001+01:00",
    "2026-11-23T09:00:12.Z",
    "2026-11-23T09:00:12,5Z",
    "2026-11-23T24:00:00Z",
    "2026-11-23T09:60:00Z",
    "2026-11-23T09:00:60Z",
    "2026-11-23T9:00:12Z",
    "2026-11-23T09:00:12+24:00",
    "2026-11-23T09:00:12+05:75",
    "2026-11-23T09:00:12+0200",
    "2026-11-23T09:00:12+02",
    "2026-11-23T09:00:12+02:00:30",
    "2026-11-23T09:00:12*02:00",
    "2026-11-23T09:00:12z",
    "2026-11-23t09:00:12Z",
    "2026-11-23 09:00:12Z",
    "2026-11-23T09:00:12",
    "2026-11-23T09:00:12Z ",
    "2026-W48-1T09:00:12Z",
    "20261123T090012Z",
    "\u0662026-11-23T09:00:12Z",
    "2026-11-23T09:00:12.5Z",
    "1970-01-01T00:00:00Z",
    "1970-01-01T00:30:00+01:00",
    "1969-12-31T23:30:00-01:00",
    "1970-01-01T00:00:00.000001Z",
    "2255-06-05T23:47:34.740991Z",
    "2255-06-05T23:47:34.740992Z",
    "2999-12-31T23:59:59.999999Z",
    "3000-01-01T00:00:00+01:00",
    "3000-01-01T00:00:00Z",
)


def test_iso_times_in_a_row_are_the_orjson_path() -> None:
    for kind in EVENT_TYPES:
        for text in ISO_SEQUENCE:
            check(raw_json(kind, ts=text))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            # A few dates, so that most times find the last one's midnight and some do not.
            st.datetimes(datetime(2026, 11, 22, 20), datetime(2026, 11, 24, 4)),
            st.sampled_from((UTC, timezone(timedelta(hours=2)), timezone(-timedelta(hours=5)))),
            st.sampled_from(("seconds", "milliseconds", "microseconds", "auto")),
            st.booleans(),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_iso_times_of_a_few_dates_are_the_orjson_path(
    times: list[tuple[datetime, timezone, str, bool]],
) -> None:
    for moment, zone, timespec, zulu in times:
        text = moment.replace(tzinfo=zone).isoformat(timespec=timespec)
        if zulu:
            text = text.replace("+00:00", "Z")
        expected, fast = check(raw_json("call.offered", ts=text))
        assert fast is not None and not isinstance(expected, Rejection)


def test_the_usual_iso_times_are_read_without_fromisoformat() -> None:
    # The cost, not the result (the tests above pin that): these must not fall back.
    for text in (
        "2026-11-23T09:00:12Z",
        "2026-11-23T09:00:12.5Z",
        "2026-11-23T09:00:12.123+01:00",
        "2026-11-23T09:00:12.123456-05:30",
        "2026-11-23T09:00:12+00:00",
    ):
        assert decode._iso_ts(text) == decode.parse_ts(text)
