"""The dashboard reads without colour, on any theme and at 80x24 (glyphs, theme colours, the
footer's help and quit keys, escape and digits in inputs, a click opens a page, per-tab help)."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.widgets import DataTable, Input, Static

from kernelmodel.inspect.frame_state import (
    FRAME_STATE_NAMES,
    FS_ANON,
    FS_DIRTY,
    FS_FILE,
    FS_FREE,
    NR_FRAME_STATES,
    vl_frame_states,
)
from tests.tui.conftest import screen_text, settle
from tests.tui.snapshot_app import make_app
from tui.frame_style import (
    FRAME_GLYPHS,
    MIN_CONTRAST,
    SHORT_STATE_NAMES,
    app_palette,
    contrast_ratio,
    palette_for,
)
from tui.screens.dashboard import TABS
from tui.screens.help import HelpScreen
from tui.tab_help import TAB_HELP
from tui.widgets.event_log import EventLog
from tui.widgets.page_inspector import PageInspector
from tui.widgets.physmem_map import MapLegend, PhysMemMap

SIZE = (120, 40)


def _row_text(fmap: PhysMemMap, y: int) -> str:
    return "".join(seg.text for seg in fmap.render_line(y))


def _row_colours(fmap: PhysMemMap, y: int) -> dict[str, Style]:
    """The style of each glyph drawn on row ``y`` (gutter excluded)."""
    out: dict[str, Style] = {}
    for seg in list(fmap.render_line(y))[1:]:
        if seg.style is not None and seg.text.strip():
            out[seg.text[0]] = seg.style
    return out


def _legend(app: object) -> Text:
    content = app.dashboard.query_one("#legend", MapLegend).content  # type: ignore[attr-defined]
    assert isinstance(content, Text)
    return content


def test_every_state_has_its_own_glyph() -> None:
    assert len(set(FRAME_GLYPHS)) == NR_FRAME_STATES
    assert all(len(g) == 1 and g != " " for g in FRAME_GLYPHS)


#: Themes the dashboard is checked on (every theme's palette: the test above).
THEMES = ("textual-dark", "textual-light", "solarized-light")


def test_every_builtin_theme_gets_readable_state_colours() -> None:
    from textual.app import App

    for name, theme in App().available_themes.items():
        if name.startswith("ansi"):
            continue  # the terminal's own 16 colours: nothing to blend
        palette = palette_for(theme.to_color_system().generate())
        bg = Color.parse(palette.background)
        for state in range(1, NR_FRAME_STATES):
            assert contrast_ratio(Color.parse(palette.colours[state]), bg) >= MIN_CONTRAST, \
                (name, FRAME_STATE_NAMES[state])


async def test_map_and_legend_colours_follow_the_theme() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fmap = app.dashboard.query_one("#map", PhysMemMap)
        row = vl_frame_states(app.session.kernel).find(bytes([FS_ANON])) // fmap.cols
        seen: dict[str, dict[str, Style]] = {}
        for theme in THEMES:
            app.theme = theme
            await settle(pilot)
            palette = app_palette(app)
            assert palette == palette_for(app.theme_variables)
            bg = Color.parse(palette.background)
            assert bg == Color.parse(app.theme_variables["background"]).with_alpha(1.0)
            # the map draws with this palette: each glyph in its state's colour
            styles = _row_colours(fmap, row)
            assert len(styles) >= 2
            for glyph, style in styles.items():
                assert style.color is not None and style.color.triplet is not None
                state = FRAME_GLYPHS.index(glyph)
                assert style.color.triplet.hex.lower() == palette.colours[state].lower()
            # and so does the legend, redrawn at once
            dirty = FRAME_GLYPHS[FS_DIRTY]
            legend = _legend(app)
            at = legend.plain.index(f"{dirty} ")
            spans = [sp for sp in legend.spans if sp.start <= at < sp.end]
            assert any(palette.colours[FS_DIRTY].lower() in str(sp.style).lower()
                       for sp in spans), theme
            seen[theme] = styles
        assert seen["textual-dark"] != seen["textual-light"]
        # the other views' fixed colours are made readable on the light theme too
        app.theme = "textual-light"
        await pilot.press("6")
        await settle(pilot)
        bg = Color.parse(app_palette(app).background)
        log = app.dashboard.query_one("#log-tab", EventLog)
        styles = [seg.style for y in range(log.size.height) for seg in log.render_line(y)]
        status = app.dashboard.query_one("#status", Static).content
        assert isinstance(status, Text)
        styles += [sp.style for sp in status.spans if isinstance(sp.style, Style)]
        coloured = [st for st in styles if st is not None and st.color is not None
                    and st.color.triplet is not None]
        assert len(coloured) >= 5
        for st in coloured:
            assert st.color is not None and st.color.triplet is not None
            fg = Color(*st.color.triplet)
            assert contrast_ratio(fg, bg) >= MIN_CONTRAST, st


async def test_glyphs_a_lone_dirty_frame_and_a_click_that_opens_the_page() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        fmap = app.dashboard.query_one("#map", PhysMemMap)
        states = vl_frame_states(app.session.kernel)
        anon = states.find(bytes([FS_ANON]))
        row, col = divmod(anon, fmap.cols)
        assert _row_text(fmap, row)[fmap.label_width + col] == FRAME_GLYPHS[FS_ANON]
        legend = _legend(app).plain
        names = SHORT_STATE_NAMES if "kern " in legend else FRAME_STATE_NAMES
        for state in range(NR_FRAME_STATES):
            assert f"{FRAME_GLYPHS[state]} {names[state]} " in legend
        # a click from another tab shows the frame's page in the inspector
        await pilot.press("4")
        await settle(pilot)
        assert app.dashboard.active_tab == "disk"
        await pilot.click(fmap, offset=(fmap.label_width + col, row))
        await settle(pilot)
        assert app.dashboard.active_tab == "page" and fmap.has_focus
        info = app.dashboard.query_one("#inspector", PageInspector)._info
        assert info is not None and info.pfn == anon
        # one dirty frame among 63 clean ones still shows when zoomed out to 64 a cell
        fake = bytearray([FS_FILE] * 256 + [FS_FREE] * 768)
        fake[77] = FS_DIRTY
        fmap.update_states(bytes(fake))
        for _ in range(6):
            await pilot.press("left_square_bracket")
        await settle(pilot)
        assert fmap.zoom == 64
        cells = _row_text(fmap, 0)[fmap.label_width:]
        assert cells[:5] == "fDff" + FRAME_GLYPHS[FS_FREE]


async def test_resizes_keep_the_caption_and_80x24_keeps_help_quit_and_the_log() -> None:
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        fmap = app.dashboard.query_one("#map", PhysMemMap)
        for size in ((100, 30), (70, 20), (80, 24)):
            await pilot.resize_terminal(*size)
            await settle(pilot, 5)
            legend = _legend(app).plain
            unit = "frame" if fmap.zoom == 1 else "frames"
            assert f"1 cell = {fmap.zoom} {unit} " in legend, (size, legend)
            footer = screen_text(app).splitlines()[-1]
            assert "Help" in footer and "Quit" in footer, (size, footer)
        # 80x24: no docked log, but the Events tab is on screen and key 6 shows the log
        assert not app.dashboard.wide
        assert any("Events" in line for line in screen_text(app).splitlines()[:6])
        # ... and so are the labels of every tab, the last ones (Story, /proc) included
        tab_line = next(line for line in screen_text(app).splitlines()[:8] if "Events" in line)
        assert tab_line.replace(" ", "").endswith("EventsStory/proc"), tab_line
        await pilot.press("6")
        await settle(pilot)
        log = app.dashboard.query_one("#log-tab")
        assert app.dashboard.active_tab == "events" and log.size.height >= 5


async def test_escape_leaves_inputs_and_digits_typed_there_stay_text() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        field = app.dashboard.query_one("#walk-address", Input)
        field.focus()
        await settle(pilot)
        await pilot.press(*"0x40001000")
        await settle(pilot)
        assert field.value == "0x40001000" and app.dashboard.active_tab == "tasks"
        await pilot.press("escape")
        await settle(pilot)
        assert app.focused is app.dashboard.query_one("#task-table", DataTable)
        await pilot.press("3")  # outside an input a digit switches tabs again
        await settle(pilot)
        assert app.dashboard.active_tab == "cache"
        await pilot.press("slash", *"frame:0x123")
        await settle(pilot)
        flt = app.dashboard.query_one("#filter", Input)
        assert flt.value == "frame:0x123" and app.dashboard.active_tab == "events"
        await pilot.press("escape")
        await settle(pilot)
        assert not flt.has_focus and not flt.display


async def test_help_starts_with_the_shown_tabs_own_help() -> None:
    app = make_app()
    async with app.run_test(size=(100, 50)) as pilot:
        await settle(pilot)
        for tab in ("cache", "disk"):  # the others' texts: test_tab_help_explains_...
            app.dashboard.show_tab(tab)
            await settle(pilot)
            await pilot.press("question_mark")
            await settle(pilot)
            assert isinstance(app.screen, HelpScreen)
            about = str(app.screen.query_one("#help-tab", Static).content)
            title, paragraphs = TAB_HELP[tab]
            assert about.startswith(title)
            for para in paragraphs:
                assert para in about
            await pilot.press("escape")
            await settle(pilot)


def test_tab_help_explains_the_words_the_tabs_use() -> None:
    text = {tab: " ".join(paras) for tab, (_t, paras) in TAB_HELP.items()}
    assert set(text) == {t for t, _label in TABS}
    assert "tag" in text["cache"] and "DIRTY" in text["cache"]
    assert "pdflush" in text["disk"] and "kupdate" in text["disk"]
    assert "swap cache" in text["page"]
    for glyph, name in zip(FRAME_GLYPHS, FRAME_STATE_NAMES, strict=True):
        assert f"{glyph} {name}: " in text["page"]
