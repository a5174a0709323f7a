"""How the dashboard draws a frame state: a glyph that tells it without colour, and a colour
taken from the running Textual theme.

Colour alone fails readers who cannot tell red from green, monochrome terminals and light
themes, so every state has its own glyph: lower case for the quiet states, capitals for the
ones a learner watches (dirty, under writeback, locked). The colours come from the theme's
named colours (error for dirty, warning for writeback, ...), then are blended towards the
theme's foreground until they stand out from its background by at least ``MIN_CONTRAST``
(the WCAG ratio asked of graphical objects), so a light theme keeps every state legible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from rich.style import Style
from rich.text import Span, Text
from textual.color import Color

from kernelmodel.view.vl_view import FRAME_STATE_NAMES, NR_FRAME_STATES

#: One glyph per frame state (index = state byte): free, kernel, anon, file, dirty,
#: writeback, swapcache, locked.
FRAME_GLYPHS: Final = ("·", "k", "a", "f", "D", "W", "s", "L")
#: Legend names for narrow maps.
SHORT_STATE_NAMES: Final = ("free", "kern", "anon", "file", "dirty", "wb", "swpc", "lock")
#: What each state means, for the help screen.
STATE_MEANINGS: Final = (
    "free: on the buddy allocator's free lists",
    "kernel: reserved, page tables, or other kernel memory",
    "anon: process memory with no file behind it (heap, stack, COW copies)",
    "file: clean page cache, the same as on disk",
    "dirty: PG_dirty, newer than the disk; writeback will write it",
    "writeback: PG_writeback, its write I/O is in flight",
    "swapcache: an anonymous page with a slot in swap (PG_swapcache)",
    "locked: PG_locked, I/O or reclaim or truncate owns the page right now",
)
#: The theme colour each state starts from (a Textual theme variable).
_THEME_SOURCE: Final = ("foreground", "foreground", "primary", "success", "error", "warning",
                        "secondary", "accent")
#: How far each state's colour sits from the background towards its source (1 = the source).
#: Free frames are the quiet majority: drawn faint, on purpose.
_STRENGTH: Final = (0.4, 0.7, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
#: States drawn bold: the ones a learner watches.
_BOLD: Final = (False, False, False, False, True, True, False, True)
#: The least contrast ratio against the background of every non-free state's colour.
MIN_CONTRAST: Final = 3.0

assert len(FRAME_GLYPHS) == len(SHORT_STATE_NAMES) == len(STATE_MEANINGS) == NR_FRAME_STATES
assert len(FRAME_STATE_NAMES) == NR_FRAME_STATES


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: Color) -> float:
    """Relative luminance (WCAG 2) of an opaque colour."""
    r, g, b = colour.rgb
    return 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)


def contrast_ratio(a: Color, b: Color) -> float:
    """WCAG contrast ratio of two opaque colours: 1 (same) to 21 (black on white)."""
    la, lb = luminance(a), luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def readable(colour: Color, background: Color, foreground: Color,
             minimum: float = MIN_CONTRAST) -> Color:
    """``colour``, blended towards ``foreground`` just enough to reach ``minimum`` contrast
    against ``background`` (or the foreground itself if even that falls short)."""
    step = 0
    out = colour
    while contrast_ratio(out, background) < minimum and step < 10:
        step += 1
        out = colour.blend(foreground, step / 10)
    return out


@dataclass(frozen=True)
class FramePalette:
    """The colours of the frame map for one theme.

    Attributes:
        colours: the colour of each frame state, as ``#rrggbb``.
        background: the theme's background.
        foreground: the theme's foreground.
        muted: a faint foreground for gutters and dim text.
    """

    colours: tuple[str, ...]
    background: str
    foreground: str
    muted: str

    def style(self, state: int) -> Style:
        """How a cell of ``state`` is drawn."""
        return Style(color=self.colours[state], bold=_BOLD[state])

    def cursor_style(self, state: int) -> Style:
        """How the cell under the cursor is drawn: reversed, so any state stands out."""
        return Style(color=self.colours[state] if state else self.foreground, reverse=True,
                     bold=True)


def _parse(variables: Mapping[str, str], name: str, default: str) -> Color:
    try:
        colour = Color.parse(variables.get(name, default))
    except Exception:
        colour = Color.parse(default)
    return colour


#: Colours for the ANSI themes, which leave colours to the terminal's own palette.
_ANSI_COLOURS: Final = ("bright_black", "default", "blue", "green", "red", "yellow", "cyan",
                        "magenta")


def palette_for(variables: Mapping[str, str]) -> FramePalette:
    """The frame palette for a theme's CSS variables (``App.theme_variables``)."""
    if variables.get("background", "").startswith("ansi_"):
        return FramePalette(_ANSI_COLOURS, "default", "default", "bright_black")
    bg = _parse(variables, "background", "#121212")
    fg = _parse(variables, "foreground", "#e0e0e0")
    bg = bg if bg.a == 1 else Color(0, 0, 0).blend(bg, bg.a, 1.0)
    fg = bg.blend(fg.with_alpha(1.0), fg.a, 1.0) if fg.a < 1 else fg
    colours = []
    for state in range(NR_FRAME_STATES):
        source = _parse(variables, _THEME_SOURCE[state], fg.hex)
        source = bg.blend(source.with_alpha(1.0), source.a, 1.0) if source.a < 1 else source
        colour = bg.blend(source, _STRENGTH[state], 1.0)
        if state:
            colour = readable(colour, bg, fg)
        colours.append(colour.hex6)
    muted = readable(bg.blend(fg, 0.5, 1.0), bg, fg, 2.5)
    return FramePalette(tuple(colours), bg.hex6, fg.hex6, muted.hex6)


#: Palettes already computed, by the theme variables they were computed from.
_CACHE: dict[tuple[str, ...], FramePalette] = {}
_KEY_VARIABLES: Final = ("background", "foreground", *_THEME_SOURCE[2:])


def app_palette(app: object) -> FramePalette:
    """The frame palette of ``app``'s current theme (computed once per set of colours)."""
    variables: Mapping[str, str] = getattr(app, "theme_variables", {})
    key = tuple(variables.get(name, "") for name in _KEY_VARIABLES)
    palette = _CACHE.get(key)
    if palette is None:
        palette = palette_for(variables)
        _CACHE[key] = palette
    return palette


#: Styles already made readable, by (style, background, foreground).
_STYLE_CACHE: dict[tuple[str, str, str], Style] = {}


def readable_style(style: Style | str, palette: FramePalette) -> Style:
    """``style`` with its foreground colour made readable on the palette's background.

    The dashboard's other views name fixed colours (a yellow checkpoint, a red write); on a light
    theme some would vanish. This keeps their hue and blends them towards the theme's
    foreground just enough (``readable``). Styles without a truecolour foreground, and every
    style under an ANSI theme, are returned unchanged.
    """
    parsed = Style.parse(style) if isinstance(style, str) else style
    if palette.background == "default":
        return parsed
    key = (str(parsed), palette.background, palette.foreground)
    out = _STYLE_CACHE.get(key)
    if out is None:
        out = parsed
        colour = parsed.color
        if colour is not None and colour.triplet is not None:
            bg = Color.parse(palette.background)
            fg = Color.parse(palette.foreground)
            fixed = readable(Color(*colour.triplet), bg, fg)
            out = parsed + Style(color=fixed.hex6)
        _STYLE_CACHE[key] = out
    return out


def readable_text(text: Text, palette: FramePalette, on: Style | None = None) -> Text:
    """A copy of ``text`` whose every span is made readable (``readable_style``).

    Args:
        text: the text.
        palette: the theme's palette.
        on: the style of the widget the text is drawn in, when its background is not the
            theme's (a bar in the primary colour): its colours replace the palette's.
    """
    if palette.background == "default":
        return text
    if on is not None and on.bgcolor is not None and on.bgcolor.triplet is not None \
            and on.color is not None and on.color.triplet is not None:
        palette = FramePalette(palette.colours, on.bgcolor.triplet.hex,
                               on.color.triplet.hex, palette.muted)
    out = text.copy()
    out.spans = [Span(sp.start, sp.end, readable_style(sp.style, palette)) for sp in text.spans]
    if text.style:
        out.style = readable_style(text.style, palette)
    return out
