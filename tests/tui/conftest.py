"""Helpers for the dashboard's Pilot tests."""

from __future__ import annotations

from textual.pilot import Pilot

from tui.app import VmlabApp


async def settle(pilot: Pilot[None], rounds: int = 3) -> None:
    """Let queued messages and refreshes run."""
    for _ in range(rounds):
        await pilot.pause()


async def wait_paused(pilot: Pilot[None], app: VmlabApp, limit_s: float = 30.0) -> None:
    """Wait (in simulated frames) until the driver pauses by itself; fails after ``limit_s``."""
    waited = 0.0
    while app.driver.mode != "paused":
        assert waited < limit_s, f"still {app.driver.mode} after {limit_s}s"
        await pilot.pause(0.05)
        waited += 0.05
    await settle(pilot)


def screen_text(app: VmlabApp) -> str:
    """All text on the screen now (from an SVG export)."""
    import html
    import re

    svg = app.export_screenshot()
    parts = re.findall(r">([^<]*)</text>", svg)
    return html.unescape("".join(parts)).replace("\xa0", " ")
