"""The results file of a sweep: CSV, or Parquet when its name ends in ``.parquet``.

A sweep writes each row as soon as its run ends, so an interrupted sweep keeps every
finished run, and a sweep started again with the same ``--out`` reads the file first and runs
only what is missing (rows are matched on ``Columns.key``). CSV rows are appended to the file
itself; Parquet cannot be appended to, so its rows go to a CSV journal beside it
(``FILE.partial.csv``) that is folded into the Parquet file when the sweep ends, and read
back (with the Parquet file) when an interrupted sweep resumes. When the sweep ends, the file
is rewritten in the plan's order, so the same sweep gives the same file whichever backend ran
it and in whatever order the runs finished.

Parquet needs pyarrow (``pip install 'vmlab[ray]'``); CSV needs nothing.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from scenarios.sweep.params import SweepError
from scenarios.sweep.rows import INT, Columns

PARQUET_SUFFIX: Final = ".parquet"
JOURNAL_SUFFIX: Final = ".partial.csv"
#: The fixed columns before the --set parameters (``Columns.key``).
_HEAD: Final = ("scenario", "scenario_sha")


def is_parquet(path: str | os.PathLike[str]) -> bool:
    return str(path).endswith(PARQUET_SUFFIX)


def columns_of(header: Sequence[str], where: str) -> Columns:
    """The layout of a results file from its column names.

    Raises:
        SweepError: the names are not those of a vmlab sweep.
    """
    names = list(header)
    if names[: len(_HEAD)] == list(_HEAD) and "seed" in names:
        cols = Columns(tuple(names[len(_HEAD): names.index("seed")]))
        if cols.names() == names:
            return cols
    raise SweepError(f"{where} is not the results of a vmlab sweep of this vmlab version "
                     f"(its columns differ); write to another file")


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def _typed(cols: Columns, name: str, cell: str, where: str) -> object:
    if cols.kind(name) != INT:
        return cell
    if cell == "":
        return None
    try:
        return int(cell)
    except ValueError:
        raise SweepError(f'{where}: column {name}: "{cell}" is not a whole number') from None


def read_csv(path: Path, cols: Columns | None = None) -> tuple[Columns, list[dict[str, object]]]:
    """Read a CSV results file (its layout is checked against ``cols`` when given).

    A last line cut short (the sweep was killed while writing it) is dropped: that run did
    not finish as far as the file knows.

    Raises:
        SweepError: unreadable, or not a sweep's results.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SweepError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return (cols or Columns(())), []
    found = columns_of(lines[0], str(path))
    if cols is not None and found != cols:
        raise SweepError(f"{path} holds a sweep with other parameters "
                         f"({', '.join(found.params) or 'none'}; this sweep sets "
                         f"{', '.join(cols.params) or 'none'}); write to another file")
    names = found.names()
    rows: list[dict[str, object]] = []
    for number, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(names):
            if number == len(lines) and not text.endswith("\n"):
                break
            raise SweepError(f"{path} line {number}: {len(cells)} fields, expected "
                             f"{len(names)}")
        where = f"{path} line {number}"
        rows.append({n: _typed(found, n, c, where) for n, c in zip(names, cells, strict=True)})
    return found, rows


def write_csv(out: TextIO, cols: Columns, rows: Iterable[dict[str, object]],
              header: bool = True) -> None:
    writer = csv.writer(out, lineterminator="\n")
    names = cols.names()
    if header:
        writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(n)) for n in names])


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise SweepError("Parquet files need pyarrow: pip install 'vmlab[ray]' (or pip install "
                         "pyarrow), or write a .csv file") from None
    return pa, pq


def read_parquet(path: Path,
                 cols: Columns | None = None) -> tuple[Columns, list[dict[str, object]]]:
    """Read a Parquet results file (checked against ``cols`` when given).

    Raises:
        SweepError: pyarrow is missing, the file is unreadable or not a sweep's results.
    """
    _, pq = _pyarrow()
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own error types for every kind of bad file
        raise SweepError(f"cannot read {path}: {' '.join(str(exc).split())}") from None
    found = columns_of(table.column_names, str(path))
    if cols is not None and found != cols:
        raise SweepError(f"{path} holds a sweep with other parameters "
                         f"({', '.join(found.params) or 'none'}); write to another file")
    return found, list(table.to_pylist())


def write_parquet(path: Path, cols: Columns, rows: Sequence[dict[str, object]]) -> None:
    pa, pq = _pyarrow()
    arrays = {}
    for name in cols.names():
        kind = pa.int64() if cols.kind(name) == INT else pa.string()
        arrays[name] = pa.array([row.get(name) for row in rows], type=kind)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(pa.table(arrays), tmp)
    os.replace(tmp, path)


def read_results(path: str | os.PathLike[str]) -> tuple[Columns, list[dict[str, object]]]:
    """Every row of a results file (a Parquet file's unfinished journal included).

    Raises:
        SweepError: the file is missing, unreadable or not a sweep's results.
    """
    p = Path(path)
    if not p.exists() and not (is_parquet(p) and _journal(p).exists()):
        raise SweepError(f"{p}: no such file")
    return ResultStore(p, None).existing()


def _journal(path: Path) -> Path:
    return path.with_name(path.name + JOURNAL_SUFFIX)


class ResultStore:
    """The --out file of one sweep: read what is there, append rows, rewrite in order."""

    def __init__(self, path: str | os.PathLike[str], cols: Columns | None) -> None:
        self.path = Path(path)
        self.cols = cols
        self.parquet = is_parquet(self.path)
        self.journal = _journal(self.path) if self.parquet else self.path
        self._out: TextIO | None = None

    def existing(self) -> tuple[Columns, list[dict[str, object]]]:
        """The rows already there (none for a new file) and the file's layout."""
        cols = self.cols
        rows: list[dict[str, object]] = []
        if self.parquet and self.path.exists():
            cols, rows = read_parquet(self.path, cols)
        if self.journal.exists():
            cols, more = read_csv(self.journal, cols)
            rows.extend(more)
        if cols is None:
            raise SweepError(f"{self.path}: no rows")
        return cols, rows

    def start(self, rows: Sequence[dict[str, object]]) -> None:
        """Begin appending after ``rows`` (those read back; rewritten cleanly first)."""
        assert self.cols is not None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rewrite_journal(rows)
            # stays open across appends; finish() or close() closes it
            self._out = open(self.journal, "a", encoding="utf-8", newline="")  # noqa: SIM115
        except OSError as exc:
            raise SweepError(f"--out: cannot write {self.journal}: "
                             f"{exc.strerror or exc}") from None

    def _rewrite_journal(self, rows: Sequence[dict[str, object]]) -> None:
        assert self.cols is not None
        tmp = self.journal.with_name(self.journal.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            write_csv(out, self.cols, rows if not self.parquet else [])
        os.replace(tmp, self.journal)
        if self.parquet and rows:
            write_parquet(self.path, self.cols, rows)

    def append(self, row: dict[str, object]) -> None:
        """Write one finished run's row now (flushed: a killed sweep keeps it)."""
        assert self._out is not None and self.cols is not None
        write_csv(self._out, self.cols, [row], header=False)
        self._out.flush()

    def finish(self, rows: Sequence[dict[str, object]]) -> None:
        """Replace the file with ``rows`` (every row, in their final order)."""
        assert self.cols is not None
        if self._out is not None:
            self._out.close()
            self._out = None
        if self.parquet:
            write_parquet(self.path, self.cols, rows)
            self.journal.unlink(missing_ok=True)
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            write_csv(out, self.cols, rows)
        os.replace(tmp, self.path)

    def close(self) -> None:
        """Stop appending, leaving the file as it is (an interrupted sweep)."""
        if self._out is not None:
            self._out.close()
            self._out = None
