"""Small dialogs: a one-line question, and the scenario picker."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


class InputPrompt(ModalScreen[str | None]):
    """Ask one question; enter answers, escape cancels (the result is None)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, hint: str = "", value: str = "") -> None:
        super().__init__(classes="prompt")
        self.title_text = title
        self.hint = hint
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt-box"):
            yield Label(self.title_text, classes="prompt-title")
            yield Input(value=self.value, id="prompt-input")
            if self.hint:
                yield Label(self.hint, classes="prompt-hint")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    @on(Input.Submitted, "#prompt-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ScenarioPicker(ModalScreen[str | None]):
    """Choose a built-in scenario from a list, or type a scenario file's path."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, builtins: list[tuple[str, str]], current: str) -> None:
        super().__init__(classes="prompt")
        self.builtins = builtins
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="prompt-box picker-box"):
            yield Label("open a built-in scenario (enter boots it, escape cancels)",
                        classes="prompt-title")
            options = [Option(f"{name:<24} {desc}", id=name) for name, desc in self.builtins]
            yield OptionList(*options, id="picker-list")
            yield Label("or a scenario file:", classes="prompt-hint")
            yield Input(placeholder="path/to/scenario.toml", id="picker-path")

    def on_mount(self) -> None:
        names = [name for name, _ in self.builtins]
        olist = self.query_one("#picker-list", OptionList)
        if self.current in names:
            olist.highlighted = names.index(self.current)
        olist.focus()

    @on(OptionList.OptionSelected, "#picker-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    @on(Input.Submitted, "#picker-path")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
