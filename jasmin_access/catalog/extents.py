"""Spatial and temporal extents as STAC wants them.

The extents themselves come from :mod:`jasmin_access.coverage` (longitudes in
either convention and on 2-D curvilinear grids, the box the smallest one on
the circle: ``west > east`` across the dateline, as GeoJSON and STAC allow).

Times stay in the data's own calendar (``"1990-02-30T00:00:00"`` in a 360_day
calendar) for the datacube extent and for search; STAC's ``datetime`` fields
need real dates, so those get the nearest valid proleptic Gregorian date.
"""

from __future__ import annotations

import calendar as pycalendar
import re
from datetime import UTC, datetime

from ..coverage import lon_lat_bbox, native_time

__all__ = ["lon_lat_bbox", "native_time", "stac_datetime"]

BBox = tuple[float, float, float, float]


_ISO = re.compile(r"^(-?\d{1,4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?")


def stac_datetime(text: str | None) -> datetime | None:
    """A real UTC datetime for STAC from native-calendar ISO text.

    Days that do not exist in the Gregorian calendar (30 February in a
    360_day calendar) become the last day of that month.
    """
    match = _ISO.match(text or "")
    if not match:
        return None
    year, month, day = (int(match.group(i)) for i in (1, 2, 3))
    year = min(max(year, 1), 9999)
    day = min(day, pycalendar.monthrange(year, month)[1])
    hour, minute, second = (int(match.group(i) or 0) for i in (4, 5, 6))
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
