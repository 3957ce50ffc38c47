"""`ccpulse top`: a terminal wallboard over the live snapshots (Textual).

Every `refresh` seconds it reads every queue's snapshot and redraws one row per queue for the
chosen window. If the source fails, the board keeps the last data, says on screen what is wrong
and retries on the next tick: it never exits on its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Static

from streams.config import Settings
from streams.wallboard.source import UNREADABLE, SnapshotSource, SourceError
from streams.wallboard.view import (
    AMBER,
    COLUMNS,
    GREEN,
    RED,
    STALE,
    as_of_moment,
    board_rows,
    stale_after_seconds,
    window_names,
)

STYLES = {GREEN: "bold green", AMBER: "bold #ffaf00", RED: "bold red", STALE: "dim"}


class Wallboard(App):
    TITLE = "ccpulse top"
    CSS = """
    #title { height: 1; padding: 0 1; background: $primary; color: $text; text-style: bold; }
    #status { height: 1; padding: 0 1; }
    #status.problem { background: $error; color: $text; text-style: bold; }
    DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar = [
        Binding("w", "next_window", "next window"),
        Binding("W", "previous_window", "previous window", show=False),
        Binding("q", "quit", "quit"),
        *(Binding(str(number), f"window({number - 1})", show=False) for number in range(1, 10)),
    ]

    def __init__(
        self,
        settings: Settings,
        source: SnapshotSource,
        source_name: str,
        window: str | None = None,
        refresh_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.settings = settings
        self.source = source
        self.source_name = source_name
        self.windows = window_names(settings)
        self.window = window if window in self.windows else self._default_window()
        self.refresh_seconds = refresh_seconds
        self.snapshots: dict[str, Any] = {}
        self.stale: list[str] = []
        self.error: str | None = None
        self.updated: float | None = None
        self.polls = 0
        self._polling = False

    def _default_window(self) -> str:
        return "15m" if "15m" in self.windows else self.windows[0]

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield DataTable(id="queues", zebra_stripes=True, cursor_type="none")
        yield Static(id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.render_board()
        self.set_interval(self.refresh_seconds, self.poll)
        await self.poll()

    async def on_unmount(self) -> None:
        await self.source.close()

    async def poll(self) -> None:
        if self._polling:  # a slow source: skip a tick rather than pile up requests
            return
        self._polling = True
        try:
            self.snapshots = await self.source.fetch()
            self.error = None
            self.updated = time.time()
        except SourceError as error:
            self.error = f"{self.source_name} unreachable: {error}"
        except Exception as error:  # the board must stay up whatever happens
            self.error = f"reading {self.source_name} failed: {error!r}"
        finally:
            self._polling = False
            self.polls += 1
        self.render_board()

    # ---------------------------------------------------------------------------- actions
    def action_next_window(self) -> None:
        self._select(self.windows.index(self.window) + 1)

    def action_previous_window(self) -> None:
        self._select(self.windows.index(self.window) - 1)

    def action_window(self, index: int) -> None:
        if index < len(self.windows):
            self._select(index)

    def _select(self, index: int) -> None:
        self.window = self.windows[index % len(self.windows)]
        self.render_board()

    # ---------------------------------------------------------------------------- drawing
    def render_board(self) -> None:
        try:
            table = self.query_one(DataTable)
        except NoMatches:  # a tick that lands while the app is shutting down: nothing to draw
            return
        table.clear()
        readable = {name: s for name, s in self.snapshots.items() if s is not UNREADABLE}
        rows = board_rows(self.snapshots, self.window, self.settings, self.clock())
        self.stale = [row.queue for row in rows if row.problem == STALE]
        for row in rows:
            cells = [Text(cell.text, style=STYLES.get(cell.colour, "")) for cell in row.cells]
            if self.snapshots[row.queue] is UNREADABLE:
                cells[1] = Text("unreadable", style="bold red")
            table.add_row(*cells, key=row.queue)
        choices = " ".join(f"[{name}]" if name == self.window else name for name in self.windows)
        moments = [as_of_moment(s) for s in readable.values()]
        as_of = max((moment for moment in moments if moment is not None), default=None)
        shown = "-" if as_of is None else f"{_clock(as_of)} ({as_of.date().isoformat()})"
        self.query_one("#title", Static).update(
            Text(f"ccpulse top   window: {choices}   as of {shown}   (w: next window)")
        )
        self.query_one("#status", Static).update(Text(self._status_text()))
        problem = self.error is not None or bool(self.stale)
        self.query_one("#status", Static).set_class(problem, "problem")

    def _status_text(self) -> str:
        if self.error is not None:
            last = f"; showing data from {_clock(self.updated)}" if self.updated is not None else ""
            return f"{self.error} - retrying every {self.refresh_seconds:g} s{last}"
        if self.updated is None:
            return f"connecting to {self.source_name} ..."
        unreadable = sorted(name for name, s in self.snapshots.items() if s is UNREADABLE)
        if unreadable:
            return f"unreadable snapshot for queue(s): {', '.join(unreadable)}"
        if not self.snapshots:
            return f"{self.source_name}: no queues yet (is the worker publishing?)"
        if self.stale:
            return (
                f"{len(self.stale)} queue(s) not updated for over "
                f"{stale_after_seconds(self.settings):g} s: {', '.join(self.stale)} - is the "
                "worker that owns them running? (its log, /healthz)"
            )
        return f"{self.source_name}: {len(self.snapshots)} queue(s), updated {_clock(self.updated)}"


def _clock(moment: float | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime("%H:%M:%SZ")
