"""How sizes and times are written for people: one rule each (``pipelines/formats.py``), used
by upload messages, the CLI and the dashboard."""

from __future__ import annotations

import pytest

from pipelines import formats


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "00:00.0"), (7.5, "00:07.5"), (15.54, "00:15.5"), (59.96, "01:00.0"), (75, "01:15.0"),
     (3599.9, "59:59.9"), (3725.25, "1:02:05.2"), (None, "?"), (float("nan"), "?"), (float("inf"), "?"),
     (-1, "00:00.0")],
)  # fmt: skip
def test_clock(seconds: float | None, shown: str) -> None:
    assert formats.clock(seconds) == shown


@pytest.mark.parametrize(
    ("size", "shown"),
    [(None, ""), (0, "0 B"), (999, "999 B"), (4997, "5.0 kB"), (498378, "498.4 kB"),
     (1_200_000, "1.2 MB"), (2_500_000_000, "2.5 GB"), (5_000_000_000_000, "5000.0 GB")],
)  # fmt: skip
def test_human_size(size: int | None, shown: str) -> None:
    assert formats.human_size(size) == shown


def test_the_cli_and_the_dashboard_write_times_and_sizes_by_the_same_rule() -> None:
    import dashboard.helpers
    import inlet.cli.library
    import inlet.cli.reports
    import inlet.formats

    assert inlet.formats.clock is formats.clock and inlet.formats.human_size is formats.human_size
    for module in (dashboard.helpers, inlet.cli.library, inlet.cli.reports):
        assert module.clock is formats.clock
    assert dashboard.helpers.human_size is formats.human_size
