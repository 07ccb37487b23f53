"""The choice of the time coordinate and NaN-aware equality."""

from __future__ import annotations

import numpy as np
import pytest

from jasmin_access.errors import InvalidInput
from jasmin_access.timecoord import choose_time, same_value, time_candidates, values_equal

SECONDS = {"units": "seconds since 1900-01-01", "calendar": "360_day"}
XIOS = {
    "time_counter": (("time_counter",), {"axis": "T", "standard_name": "time"}),
    "time_centered": (("time_counter",), {"standard_name": "time", **SECONDS}),
    "time_instant": (("time_counter",), {"standard_name": "time", **SECONDS}),
    "time_centered_bounds": (("time_counter", "axis_nbounds"), {}),
    "nav_lat": (("y", "x"), {"units": "degrees_north"}),
    "deptht": (("deptht",), {"units": "m"}),
}


def test_record_coordinate_without_units_gives_way_to_time_centered() -> None:
    assert time_candidates(XIOS, "time_counter") == ["time_centered", "time_instant"]
    with_units = dict(XIOS, time_counter=(("time_counter",), SECONDS))
    assert time_candidates(with_units, "time_counter")[0] == "time_counter"
    assert time_candidates(XIOS, "y") == []  # a projection axis is not a time


def test_constant_record_coordinate_is_passed_over() -> None:
    values = {"time_counter": np.zeros(3), "time_centered": np.array([1.0, 2.0, 3.0])}
    assert choose_time(["time_counter", "time_centered"], values.__getitem__) == "time_centered"
    # every candidate constant (the same step in every file): the first, so overlaps are caught
    same = {"time_counter": np.zeros(3), "time_centered": np.ones(3)}
    assert choose_time(["time_counter", "time_centered"], same.__getitem__) == "time_counter"
    assert choose_time([], same.__getitem__) is None


def test_override_must_lie_along_the_record_dimension() -> None:
    assert time_candidates(XIOS, "time_counter", "time_counter") == ["time_counter"]
    with pytest.raises(InvalidInput, match="'nav_lat' is not a variable along") as caught:
        time_candidates(XIOS, "time_counter", "nav_lat")
    assert "time_counter, time_centered, time_instant" in str(caught.value)


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (np.float32("nan"), np.float32("nan"), True),
        (np.float32("nan"), np.float64("nan"), True),
        (float("nan"), 1.0, False),
        ([1.0, float("nan")], np.array([1.0, np.nan], dtype="f4"), True),
        ([1.0, float("nan")], [1.0, 2.0], False),
        ("degC", "degC", True),
        ("1", 1, False),
        (b"b", b"b", True),
        (None, None, True),
        (None, 0, False),
    ],
)
def test_same_value_treats_nan_as_equal(a: object, b: object, equal: bool) -> None:
    assert same_value(a, b) is equal


def test_values_equal_on_arrays() -> None:
    lat = np.array([[1.0, np.nan], [3.0, 4.0]], dtype="f4")
    assert values_equal(lat, lat.copy())
    assert not values_equal(lat, lat[:, ::-1])
    assert values_equal(np.array(["a", "b"], dtype=object), np.array(["a", "b"]))
