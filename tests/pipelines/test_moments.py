"""A moment a person gives (``--since 7d``, ``until="2024-05-01"``) is read by one rule,
``pipelines/moments.py``: without a time zone it is local time, a date is a whole local day."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines import analytics, moments
from pipelines.config import get_settings

UTC = dt.UTC
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def plus_five(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's clock in a zone five hours east of UTC (local midnight = 19:00 UTC)."""
    monkeypatch.setenv("TZ", "Etc/GMT-5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_dates_and_naive_times_are_local(plus_five: None) -> None:
    assert moments.since("2024-05-01") == dt.datetime(2024, 4, 30, 19, tzinfo=UTC)
    assert moments.since(dt.date(2024, 5, 1)) == dt.datetime(2024, 4, 30, 19, tzinfo=UTC)
    assert moments.since("2024-05-01T09:30") == dt.datetime(2024, 5, 1, 4, 30, tzinfo=UTC)
    assert moments.since(dt.datetime(2024, 5, 1, 9, 30)) == dt.datetime(2024, 5, 1, 4, 30, tzinfo=UTC)
    # a zone given is kept
    assert moments.since("2024-05-01T09:30+00:00") == dt.datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    # an upper date bound includes its whole local day: up to the next local midnight, exclusive
    assert moments.bound("2024-05-01", end=True) == (dt.datetime(2024, 5, 1, 19, tzinfo=UTC), False)
    assert moments.bound("2024-05-01") == (dt.datetime(2024, 4, 30, 19, tzinfo=UTC), True)
    assert moments.since(None) is None


@pytest.mark.parametrize(("text", "back"), [("30m", dt.timedelta(minutes=30)), ("24h", dt.timedelta(hours=24)),
                                            ("7d", dt.timedelta(days=7)), (" 2w ", dt.timedelta(weeks=2)),
                                            ("1.5h", dt.timedelta(minutes=90))])  # fmt: skip
def test_durations_count_back_from_now(text: str, back: dt.timedelta) -> None:
    before = dt.datetime.now(UTC)
    got = moments.since(text)
    assert got is not None and before - back - dt.timedelta(seconds=5) <= got <= dt.datetime.now(UTC) - back


@pytest.mark.parametrize("bad", ["yesterday", "2024-13-01", "7 days ago", ""])
def test_unreadable_moments_say_what_is_accepted(bad: str) -> None:
    with pytest.raises(ValueError, match=r"cannot read .* as a moment: use 30m, 24h, 7d, an ISO date"):
        moments.since(bad)


def test_error_reports_read_since_as_local_time(plus_five: None) -> None:
    """``inlet.errors(since=date)`` starts at local midnight: an error at 20:00 UTC the evening
    before (01:00 local) is in, one at 18:00 UTC (23:00 local, the day before) is out."""
    import inlet

    settings = get_settings()
    rows = [
        {"job_id": "j", "source_id": name, "file": f"{name}.pdf", "collection": "c",
         "stage": "extract", "class": "damaged_pdf", "message": "m", "hint": "h", "at": at}
        for name, at in (("before", dt.datetime(2024, 4, 30, 18, tzinfo=UTC)),
                         ("after", dt.datetime(2024, 4, 30, 20, tzinfo=UTC)))
    ]  # fmt: skip
    analytics.record(settings, "errors", rows)
    assert inlet.errors(since="2024-05-01", settings=settings)["source_id"].to_list() == ["after"]
    assert sorted(inlet.errors(since="2024-04-30", settings=settings)["source_id"]) == ["after", "before"]


def test_no_other_module_reads_dates_from_people() -> None:
    """ISO parsing and local-time defaults of user input live in ``pipelines/moments.py`` only."""
    offenders = []
    for package in ("pipelines", "flows", "inlet", "dashboard"):
        for path in (REPO / package).rglob("*.py"):
            if path.name == "moments.py":
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"\bdate\.fromisoformat|strptime|_instant\(", line):
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "parse people's dates with pipelines.moments:\n" + "\n".join(offenders)
