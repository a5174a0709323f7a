"""The page cache: files with their page counts, and one file's radix tree with its tag bits.

Each node of the tree is drawn as a line (its height, index range and slot count) and a strip
with one character per slot: ``o`` a page, ``+`` a child node, ``D``/``W``/``B`` the DIRTY,
WRITEBACK or both tag bits of that slot. In an interior node a tag bit means "some page below
carries the tag", so a page dirtied deep in the tree lights a path of ``D`` up to the root,
and writeback clears them again as it sweeps.
"""

from __future__ import annotations

from typing import Final

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from kernelmodel.kernel.kernel import Kernel
from kernelmodel.lib.radix_tree import RadixTreeRoot
from tui.frame_style import app_palette, readable_text
from tui.messages import FileSelected
from tui.view_io import FileRow, NodeRow, file_mapping, file_rows, radix_nodes
from tui.widgets.text_update import update_text

#: (key, label, width): fixed widths, so the table looks the same however it was filled.
_COLUMNS: Final = (("ino", "ino", 4), ("path", "file", 14), ("size", "size", 6),
                   ("pages", "pages", 6), ("dirty", "dirty", 6), ("wb", "wb", 5),
                   ("height", "height", 6), ("nodes", "nodes", 6), ("vmas", "vmas", 4))

SLOT_STYLES: Final = {".": "#4a4a5a", "o": "#3fcf5f", "+": "#9e9eb8", "D": "bold #ff4f4f",
                      "W": "bold #ffa500", "B": "bold #ff4fff"}


def _size_text(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f}M"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.0f}K"
    return str(n)


def _cells(r: FileRow) -> tuple[object, ...]:
    return (r.ino, r.path, _size_text(r.size), r.nrpages, r.dirty, r.writeback, r.height,
            r.nodes, r.mapped_by)


def slot_text(slots: str) -> Text:
    """The slot strip with each character coloured."""
    text = Text()
    for ch in slots:
        text.append(ch, SLOT_STYLES.get(ch, ""))
    return text


def tree_text(title: str, root: RadixTreeRoot, nodes: list[NodeRow], skipped: int,
              width: int) -> Text:
    """The whole tree view: a title, a legend and every node."""
    text = Text()
    text.append(title + "\n", "bold")
    text.append(f"height {int(root.height)}, {int(root.nr_nodes)} nodes, "
                f"{int(root.vl_map_size)} slots per node   ", "dim")
    for ch, what in (("o", "page"), ("+", "child"), ("D", "DIRTY"), ("W", "WRITEBACK"),
                     ("B", "both")):
        text.append(ch, SLOT_STYLES[ch])
        text.append(f" {what}  ", "dim")
    text.append("\n")
    if not nodes:
        text.append("(empty tree)", "dim")
    for n in nodes:
        indent = "  " * n.depth
        text.append(f"{indent}h{n.level} ", "cyan")
        text.append(f"[{n.first}..{n.last}] count {n.count}", "")
        if n.dirty or n.writeback:
            text.append(f"  D:{n.dirty} W:{n.writeback}", "yellow")
        text.append("\n")
        avail = max(width - len(indent) - 2, 8)
        chunk = 64
        while chunk > 8 and chunk > avail:
            chunk //= 2
        for i in range(0, len(n.slots), chunk):
            text.append(f"{indent}  ")
            text.append_text(slot_text(n.slots[i:i + chunk]))
            text.append("\n")
    if skipped:
        text.append(f"... {skipped} more nodes not drawn\n", "dim")
    return text


class PageCachePanel(Vertical):
    """File table on top, the selected file's radix tree below."""

    DEFAULT_CSS = """
    PageCachePanel { height: 1fr; }
    PageCachePanel #file-table { height: auto; max-height: 40%; min-height: 4; }
    PageCachePanel #tree-scroll { height: 1fr; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.selected_ino = -1
        self._inos: list[int] = []
        self._rows: dict[int, tuple[object, ...]] = {}
        self._kernel: Kernel | None = None
        self._tree_key: tuple[object, ...] = ()

    def compose(self) -> ComposeResult:
        table: DataTable[object] = DataTable(id="file-table", cursor_type="row",
                                             zebra_stripes=True)
        yield table
        with VerticalScroll(id="tree-scroll"):
            yield Static("", id="radix-tree")

    def on_resize(self) -> None:
        self._show_tree()

    def on_mount(self) -> None:
        table = self.query_one("#file-table", DataTable)
        for key, label, width in _COLUMNS:
            table.add_column(label, width=width, key=key)

    def refresh_model(self, k: Kernel) -> None:
        """Bring the file table and the tree up to date."""
        self._kernel = k
        table: DataTable[object] = self.query_one("#file-table", DataTable)
        rows = file_rows(k)
        inos = [r.ino for r in rows]
        if inos != self._inos:
            table.clear()
            self._rows = {}
            for r in rows:
                table.add_row(*_cells(r), key=str(r.ino))
                self._rows[r.ino] = _cells(r)
            self._inos = inos
            if self.selected_ino in inos:
                table.move_cursor(row=inos.index(self.selected_ino), animate=False)
        else:
            for r in rows:
                cells = _cells(r)
                old = self._rows.get(r.ino, cells)
                for (key, _label, _w), value, before in zip(_COLUMNS, cells, old, strict=True):
                    if value != before:
                        table.update_cell(str(r.ino), key, value)
                self._rows[r.ino] = cells
        if self.selected_ino not in inos and rows:
            self.selected_ino = max(rows, key=lambda r: (r.nrpages, -r.ino)).ino
            table.move_cursor(row=inos.index(self.selected_ino), animate=False)
        self._show_tree()

    @on(DataTable.RowHighlighted, "#file-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        ino = int(event.row_key.value)
        if ino != self.selected_ino:
            self.selected_ino = ino
            self._show_tree()
            self.post_message(FileSelected(ino))

    def _show_tree(self) -> None:
        k = self._kernel
        if k is None:
            return
        mapping = file_mapping(k, self.selected_ino)
        static = self.query_one("#radix-tree", Static)
        if mapping is None:
            update_text(static, Text("no file selected", "dim"))
            return
        width = self.query_one("#tree-scroll").size.width
        if width == 0:
            return
        nodes, skipped = radix_nodes(mapping.page_tree)
        palette = app_palette(self.app)
        key = (self.selected_ino, width, tuple(nodes), skipped, palette)
        if key == self._tree_key:
            return
        self._tree_key = key
        inode = k.sb.s_inodes[self.selected_ino]
        title = f"{inode.vl_path} (inode {inode.i_ino}): {mapping.nrpages} pages cached"
        update_text(static, readable_text(tree_text(title, mapping.page_tree, nodes, skipped,
                                                    width), palette))
