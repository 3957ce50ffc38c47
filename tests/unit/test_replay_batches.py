"""`replay_lines` decodes lines a batch at a time but feeds the engine batches of BATCH_LINES
kept events (those before `at`), as when it decoded one line at a time: the engine folds a
batch's changes together, so other batches would change float sums in their last bits."""

from __future__ import annotations

import orjson

from streams.config import settings_from_mapping
from streams.kpi.decode import decode_event
from streams.kpi.engine import Engine
from streams.kpi.events import Rejection
from streams.kpi.state import EngineState
from streams.replay import BATCH_LINES, replay_lines
from streams.synthetic import call_cycle_events


def _state(engine: Engine) -> dict[str, dict]:
    return {name: dict(getattr(engine.state, name)) for name in EngineState.mapping_names()}


def _fed_in_batches(items: list, settings: object) -> Engine:
    engine = Engine(settings)  # type: ignore[arg-type]
    for start in range(0, len(items), BATCH_LINES):
        engine.process_many(items[start : start + BATCH_LINES])
    return engine


def test_events_at_or_after_at_do_not_shift_the_batches() -> None:
    settings = settings_from_mapping({})
    lines = list(call_cycle_events(3 * BATCH_LINES, queues=5, agents=30, calls_per_second=5))
    at = orjson.loads(lines[-1])["ts"] + 1
    # Events after `at` among the others: ignored, so the kept events' batches start at other
    # lines than the lines' batches do.
    mixed = []
    for number, line in enumerate(lines):
        mixed.append(line)
        if number % 7 == 0:
            late = {**orjson.loads(line), "event_id": f"late-{number}", "ts": at + number}
            mixed.append(orjson.dumps(late))
    replayed = replay_lines(mixed, settings, at)
    items = [decode_event(line) for line in mixed]
    kept = [item for item in items if isinstance(item, Rejection) or item.ts < at]
    assert replayed.ignored_after_at == len(items) - len(kept) > 0
    assert replayed.engine is not None
    assert _state(replayed.engine) == _state(_fed_in_batches(kept, settings))
    # The test can tell: batches of lines (the ignored events dropped from each) differ.
    kept_ids = {id(item) for item in kept}
    by_lines = Engine(settings)
    for start in range(0, len(items), BATCH_LINES):
        chunk = items[start : start + BATCH_LINES]
        by_lines.process_many([item for item in chunk if id(item) in kept_ids])
    assert _state(by_lines) != _state(replayed.engine)


def test_without_at_every_line_is_fed_in_batches_of_lines() -> None:
    settings = settings_from_mapping({})
    lines = list(call_cycle_events(2 * BATCH_LINES + 100, queues=5, agents=30, calls_per_second=5))
    replayed = replay_lines([*lines[:10], b"", b"  \n", *lines[10:]], settings)
    assert replayed.engine is not None
    expected = _fed_in_batches([decode_event(line) for line in lines], settings)
    assert _state(replayed.engine) == _state(expected)
    assert replayed.snapshot == expected.snapshot(replayed.as_of)
