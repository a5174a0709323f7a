"""The two lines at the top: what is running (scenario, kernel) and how far it has got."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.widgets import Static

from tui.driver import MODE_PAUSED
from tui.frame_style import app_palette, readable_text
from tui.view_io import fmt_time
from tui.widgets.text_update import update_text

if TYPE_CHECKING:
    from tui.app import VmlabApp

#: App reactives the status line shows.
WATCHED = ("mode", "events", "sim_time_ns", "speed", "last_checkpoint", "ended", "free_pages",
           "dirty_pages", "writeback_pages", "expect_counts")


class TopBar(Static):
    """Scenario name, kernel profile (always visible) and the model's flavour."""

    DEFAULT_CSS = """
    TopBar { height: 1; width: 100%; background: $primary-background; color: $text;
             padding: 0 1; }
    """

    _shown: tuple[str, str, int, str] | None = None

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: object) -> None:
        if self._shown is not None:
            self.show(*self._shown)

    def show(self, scenario: str, kernel: str, seed: int, flavour: str) -> None:
        self._shown = (scenario, kernel, seed, flavour)
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("vmlab ", "bold")
        text.append(scenario, "bold #ffff5f")
        text.append("  ")
        text.append(kernel, "bold #8be9fd")
        text.append(f"  seed {seed}  {flavour}", "dim")
        update_text(self, readable_text(text, app_palette(self.app), self.rich_style),
                    fixed=True)


class StatusBar(Static):
    """Run state, simulated time, events, speed and a few gauges; follows the app's reactives."""

    DEFAULT_CSS = """
    StatusBar { height: 1; width: 100%; padding: 0 1; background: $boost; }
    """

    def on_mount(self) -> None:
        for name in WATCHED:
            self.watch(self.app, name, self._changed, init=False)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_status())
        self._render_status()

    def _changed(self) -> None:
        self._render_status()

    def _render_status(self) -> None:
        app = cast("VmlabApp", self.app)
        text = Text(no_wrap=True, overflow="ellipsis")
        if app.ended:
            text.append("■ ended", "bold #ff79c6")
        elif app.mode == MODE_PAUSED:
            text.append("⏸ paused", "bold #ffa500")
        else:
            text.append(f"▶ {app.mode}", "bold #3fcf5f")
        text.append(f"  t={fmt_time(app.sim_time_ns)}", "bold")
        text.append(f"  events {app.events:,}")
        text.append(f"  free {app.free_pages:,}  dirty {app.dirty_pages:,}"
                    f"  wb {app.writeback_pages:,}")
        passed, failed, pending = app.expect_counts
        if passed + failed + pending:
            # glyphs as well as colours: pass, FAIL, still pending (the Story tab has each)
            text.append("  expect ")
            text.append(f"✓{passed}", "bold #3fcf5f" if passed else "dim")
            text.append(f" ✗{failed}", "bold #ff4f4f" if failed else "dim")
            text.append(f" …{pending}", "dim")
        text.append(f"  speed {app.speed:,}/frame", "dim")
        if app.last_checkpoint:
            text.append(f"  checkpoint: {app.last_checkpoint}", "#ffff5f")
        update_text(self, readable_text(text, app_palette(app)), fixed=True)
