"""The analytics row of a search is written off the search's path: the search returns before
the file exists, a reader in the same process still sees the row at once, and a normal exit
writes every row still pending (a burst of searches shares files)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import inlet
from pipelines import analytics
from pipelines.analytics import files
from pipelines.config import get_settings


def _search_files(home: Path) -> list[Path]:
    return sorted((home / "analytics" / "searches").rglob("*.parquet"))


def test_a_search_does_not_wait_for_its_row_and_a_reader_sees_it(
    inlet_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "DEFER_S", 30.0)  # the writer thread would wait long: only a read flushes
    hits = inlet.search("white matter", mode="text", collection="sci")
    assert hits.height == 0
    assert _search_files(inlet_home) == []  # returned before its row was written
    rows = analytics.query(get_settings(), "SELECT query, mode, collection, results FROM searches").to_dicts()
    assert rows == [{"query": "white matter", "mode": "text", "collection": "sci", "results": 0}]
    assert len(_search_files(inlet_home)) == 1


def test_rows_pending_at_a_normal_exit_are_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = textwrap.dedent(
        """
        import inlet
        from pipelines.analytics import files
        from pipelines.config import get_settings
        files.DEFER_S = 30.0  # nothing is written before the exit
        for i in range(25):
            inlet.search(f"query number {i}", mode="text")
        print(len(list(files.table_dir(get_settings(), "searches").rglob("*.parquet"))))
        """
    )
    env = {**os.environ, "INLET_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0"]  # none written while the searches ran
    rows = analytics.query(get_settings(home=home), "SELECT query FROM searches ORDER BY query")
    assert sorted(rows["query"].to_list()) == sorted(f"query number {i}" for i in range(25))
    assert len(_search_files(home)) == 1  # the burst shares one file
