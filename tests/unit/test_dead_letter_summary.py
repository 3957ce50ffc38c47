"""`ccpulse dead-letters` without Kafka: parsing records back, the summary, --since."""

from __future__ import annotations

import asyncio
import io

import pytest

from streams.adapters.dead_letter_reader import DeadLetter, parse_dead_letter
from streams.cli.deadletters import Summary, _write_originals, parse_since, render_summary
from streams.errors import UserError
from streams.live.deadletter import SourcePosition, dead_letter_value

T0 = 1_795_000_000.0  # 2026-11-18T11:06:40Z


def letter(reason: str, original: bytes, at: float, topic: str = "cc.call.offered") -> DeadLetter:
    value = dead_letter_value(original, reason, f"why {reason}", SourcePosition(topic, 2, 41), at)
    parsed = parse_dead_letter(value, b"sales", 0, 7)
    assert parsed is not None
    return parsed


def test_a_dead_letter_reads_back_as_written():
    original = b'{"type":"call.offered","ts":"yesterday"}'
    value = dead_letter_value(
        original, "invalid_field", "field 'ts' ...", SourcePosition("cc.call.offered", 3, 99), T0
    )
    parsed = parse_dead_letter(value, b"sales", 1, 5)
    assert parsed == DeadLetter(
        reason="invalid_field",
        detail="field 'ts' ...",
        source_topic="cc.call.offered",
        source_partition=3,
        source_offset=99,
        rejected_at=T0,
        original=original,
        original_size=len(original),
        original_truncated=False,
        key=b"sales",
        partition=1,
        offset=5,
    )
    assert parsed.as_json()["original"] == original.decode()
    assert parsed.as_json()["source"] == {"topic": "cc.call.offered", "partition": 3, "offset": 99}


@pytest.mark.parametrize(
    "value",
    [None, b"", b"not json", b"[]", b'{"reason": "late"}', b'{"reason": "late", "source": 3}'],
)
def test_records_that_are_not_dead_letters_are_recognised(value):
    assert parse_dead_letter(value, None, 0, 0) is None


def test_summary_counts_by_reason_and_source_and_lists_the_latest():
    summary = Summary(latest=2)
    for index, (reason, topic) in enumerate(
        [
            ("late", "cc.call.offered"),
            ("invalid_json", "cc.call.answered"),
            ("late", "cc.agent.state"),
            ("invalid_field", "cc.call.offered"),
        ]
    ):
        summary.add(letter(reason, b'{"n": %d}\x00' % index, T0 + index, topic))
    text = render_summary(summary, "cc.dead-letter", T0 - 60)
    assert text.splitlines() == [
        "cc.dead-letter: 4 dead letter(s) since 2026-11-18T11:05:40Z, rejected "
        "2026-11-18T11:06:40Z to 2026-11-18T11:06:43Z",
        "  by reason: late 2, invalid_field 1, invalid_json 1",
        "  by source: cc.call.offered 2, cc.agent.state 1, cc.call.answered 1",
        "latest 2:",
        "  2026-11-18T11:06:42Z  late  cc.agent.state[2]@41: why late",
        '      {"n": 2}\\x00',
        "  2026-11-18T11:06:43Z  invalid_field  cc.call.offered[2]@41: why invalid_field",
        '      {"n": 3}\\x00',
    ]


def test_summary_of_nothing_says_so():
    assert (
        render_summary(Summary(10), "cc.dead-letter", None) == "cc.dead-letter: no dead letters\n"
    )


def test_a_long_original_is_cut_in_the_summary():
    summary = Summary(1)
    summary.add(letter("unknown_type", b"x" * 1000, T0))
    excerpt = render_summary(summary, "cc.dead-letter", None).splitlines()[-1].strip()
    assert excerpt == "x" * 160 + "..."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", T0 - 5400),
        ("2h", T0 - 7200),
        ("30s", T0 - 30),
        ("2026-11-18T11:06:40Z", T0),
        ("20261118T110640Z", T0),  # ISO-8601 basic format
    ],
)
def test_since_is_a_duration_back_from_now_or_a_time(text, expected):
    assert parse_since(text, now=lambda: T0) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2d", "not a duration like 90s, 30m or 2h"),
        ("yesterday", "is not an ISO-8601 time"),
        ("2026-11-18T09:46:40", "has no UTC offset"),
    ],
)
def test_a_bad_since_names_the_problem(text, message):
    with pytest.raises(UserError, match=message):
        parse_since(text, now=lambda: T0)


def test_the_latest_are_the_newest_whatever_order_partitions_are_read_in():
    summary = Summary(latest=2)
    for offset in [3, 0, 4, 1, 2]:
        summary.add(letter("late", b"%d" % offset, T0 + offset))
    assert [item.original for item in summary.latest] == [b"3", b"4"]
    assert (summary.first_at, summary.last_at) == (T0, T0 + 4)


def test_originals_that_cannot_be_one_line_are_counted_not_printed():
    letters = [
        letter("late", b'{"n": 1}', T0),
        letter("invalid_json", b"", T0),  # a message without a value
        letter("invalid_json", b"two\nlines", T0),
    ]

    async def stream():
        for item in letters:
            yield item

    out = io.BytesIO()
    skipped = asyncio.run(_write_originals(stream(), out))
    assert out.getvalue() == b'{"n": 1}\n'
    assert skipped == {"empty message (no value)": 1, "contains a line break (see --jsonl)": 1}
