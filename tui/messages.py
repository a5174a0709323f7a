"""Messages widgets send each other through the DOM (plain data only)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class FrameSelected(Message):
    """The frame cursor moved to ``pfn`` (by key or mouse)."""

    pfn: int


@dataclass
class FrameOpened(Message):
    """The user asked for the full page detail of ``pfn`` (enter on the map)."""

    pfn: int


@dataclass
class TaskSelected(Message):
    """A task row was highlighted."""

    pid: int


@dataclass
class FileSelected(Message):
    """A file row was highlighted (its radix tree is drawn)."""

    ino: int


@dataclass
class ShowFrame(Message):
    """Some view names a frame (a walk's result, an rmap line): move the map cursor there."""

    pfn: int


@dataclass
class FrameClicked(Message):
    """The user clicked the frame ``pfn`` on the map: its page should be shown."""

    pfn: int


@dataclass
class MapZoomed(Message):
    """The map now shows ``zoom`` frames per cell (the legend's caption says so)."""

    zoom: int
