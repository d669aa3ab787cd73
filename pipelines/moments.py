"""How inlet reads a moment a person gives it (``--since 7d``, ``until="2024-05-01"``): one rule for
every filter, report and retry.

- A datetime or ISO date-time without a time zone is in **local time**, as a person at this
  machine means it; one with a zone is taken as given.
- A date (or an ISO date) is a whole **local** day: as a lower bound it starts at local midnight,
  as an upper bound it includes that day.
- ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` (and a :class:`~datetime.timedelta`) count back from now.

Every moment comes back as an aware UTC datetime, the zone the stores keep.
"""

from __future__ import annotations

import datetime as dt
import re

Moment = dt.datetime | dt.date | dt.timedelta | str
"""What a person may give: a datetime, a date, a timedelta back from now, ``"7d"``, or ISO text."""

_AGO = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _utc(value: dt.datetime) -> dt.datetime:
    return (value if value.tzinfo else value.astimezone()).astimezone(dt.UTC)


def _read(value: Moment) -> dt.datetime | dt.date | dt.timedelta:
    if not isinstance(value, str):
        return value
    text = value.strip()
    ago = _AGO.fullmatch(text)
    if ago:
        return dt.timedelta(**{_UNITS[ago[2]]: float(ago[1])})
    try:
        return dt.date.fromisoformat(text) if len(text) <= 10 else dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"cannot read {value!r} as a moment: use 30m, 24h, 7d, an ISO date (2024-05-01) "
            "or an ISO date-time (2024-05-01T09:30)"
        ) from None


def bound(value: Moment, *, end: bool = False) -> tuple[dt.datetime, bool]:
    """A filter bound as a UTC instant, and whether the bound is inclusive.

    A date as the ``end`` bound includes its whole day (the instant is the next local midnight,
    exclusive); every other bound is inclusive.

    >>> bound("2024-05-01", end=True)  # doctest: +SKIP
    (datetime.datetime(2024, 5, 1, 22, 0, tzinfo=datetime.timezone.utc), False)  # in Paris
    """
    read = _read(value)
    if isinstance(read, dt.timedelta):
        return dt.datetime.now(dt.UTC) - read, True
    if isinstance(read, dt.datetime):
        return _utc(read), True
    if isinstance(read, dt.date):
        day = read + dt.timedelta(days=1) if end else read
        return _utc(dt.datetime.combine(day, dt.time())), not end
    raise TypeError(f"a moment must be a date, datetime, timedelta or text, not {type(read).__name__}")


def since(value: Moment | None) -> dt.datetime | None:
    """The start of a ``since`` window as a UTC instant (``None`` stays ``None``)."""
    return None if value is None else bound(value)[0]
