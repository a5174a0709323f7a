"""The whole-column checks and packing of the snapshot encoding refuse and keep what the
item-by-item code did: a counter column with a bool, a float or a value beyond 64 bits is
refused; rows of plain values pass in one step, rows holding anything else are refused; the
narrowest int width is chosen at every boundary."""

from __future__ import annotations

import pytest
from test_snapshot_support import tiny_scenario

from scenarios.series import CounterSeries, SeriesError
from scenarios.session import Session
from scenarios.state_codec import MAX_DEPTH, _check_tree, _pack_ints


def _good_section() -> dict[str, object]:
    s = Session(tiny_scenario(), series_interval_ns=2_000_000)
    s.run(until_events=40)
    return s.series.to_section()


@pytest.mark.parametrize("bad", [True, 1.5, 1 << 63, -(1 << 63) - 1, "7", None])
def test_a_counter_column_with_a_non_i64_value_is_refused(bad: object) -> None:
    good = _good_section()
    columns = good["columns"]
    assert isinstance(columns, list) and columns and isinstance(columns[0], list)
    first = [*columns[0]]
    first[len(first) // 2] = bad
    with pytest.raises(SeriesError, match="64-bit integers"):
        CounterSeries.from_section({**good, "columns": [first, *columns[1:]]}, 10**12)


def test_a_counter_column_at_the_i64_bounds_loads() -> None:
    good = _good_section()
    columns = good["columns"]
    assert isinstance(columns, list) and isinstance(columns[0], list)
    first = [*columns[0]]
    first[0], first[-1] = -(1 << 63), (1 << 63) - 1
    series = CounterSeries.from_section({**good, "columns": [first, *columns[1:]]}, 10**12)
    assert list(series.columns[0]) == first


def test_rows_of_plain_values_pass_and_rows_of_anything_else_are_refused() -> None:
    _check_tree({"rows": [[1, 2], [3, None], [b"x", "y"], [True, 0]] * 100})
    for bad in (1.5, (1,)):
        with pytest.raises(ValueError, match="unexpected value"):
            _check_tree({"rows": [[1, 2]] * 50 + [[3, bad]]})
    # rows nested down to the depth limit: the rows' own level counts
    deep: object = [[1, 2], [3, 4]]
    for _ in range(MAX_DEPTH - 2):
        deep = [deep]
    _check_tree(deep)
    with pytest.raises(ValueError, match="nested deeper"):
        _check_tree([deep])


@pytest.mark.parametrize("edge", [127, 128, -128, -129, 32767, 32768, -32768, -32769,
                                  (1 << 31) - 1, 1 << 31, -(1 << 31), -(1 << 31) - 1,
                                  (1 << 63) - 1, -(1 << 63)])
def test_int_columns_take_the_narrowest_width(edge: int) -> None:
    packed = _pack_ints([0, 1, -1, edge])
    assert packed is not None
    width = packed[0]
    bound = 1 << (8 * width - 1)
    assert -bound <= edge < bound
    if width > 1:
        narrower = 1 << (4 * width - 1)
        assert not -narrower <= edge < narrower
    assert int.from_bytes(packed[1 + 3 * width:], "little", signed=True) == edge


def test_int_columns_beyond_i64_are_not_columnar() -> None:
    assert _pack_ints([0, 1 << 63]) is None
    assert _pack_ints([-(1 << 63) - 1, 0]) is None
