"""Writing report frames to files: Parquet, CSV or Markdown."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl

FORMATS = ("parquet", "csv", "markdown")


def to_markdown(frame: pl.DataFrame) -> str:
    """A GitHub-style Markdown table of ``frame`` (nulls empty, times in ISO form).

    >>> print(to_markdown(pl.DataFrame({"a": [1], "b": ["x|y"]})))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """

    def cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            value = value.isoformat(timespec="seconds")
        elif isinstance(value, float):
            value = f"{value:.4g}"
        return " ".join(str(value).split()).replace("|", "\\|")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * frame.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()]
    return "\n".join(lines)


def write(frame: pl.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``frame`` to ``path`` (its suffix is set from ``fmt``); nested columns become JSON in CSV.

    >>> import tempfile
    >>> out = write(pl.DataFrame({"job": ["a"], "workers": [["w1", "w2"]]}), Path(tempfile.mkdtemp()) / "j", "csv")
    >>> out.read_text().splitlines()[1]
    'a,"[""w1"", ""w2""]"'
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = path.with_suffix({"parquet": ".parquet", "csv": ".csv", "markdown": ".md"}[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.write_parquet(path)
    elif fmt == "csv":
        nested = [c for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct)]
        flat = frame.with_columns(
            pl.Series(
                c, [None if v is None else json.dumps(v, default=str) for v in frame[c].to_list()], pl.Utf8
            )
            for c in nested
        )
        flat.write_csv(path)
    else:
        path.write_text(f"# {path.stem}\n\n{to_markdown(frame)}\n")
    return path
