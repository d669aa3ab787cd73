"""What a job asks for: its paths, collection, priority and the submitter's settings.

A job runs as a Prefect flow run on the work queue named after its priority (``flows.submit``);
this module owns the priorities and the request's shape, nothing else.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRIORITIES = {"high": 0, "normal": 1, "low": 2}
"""Priority names and their rank: a lower rank runs first."""


def new_job_id() -> str:
    return uuid.uuid4().hex[:12]


def check_priority(priority: str) -> str:
    """``priority`` if it is one of ``high``, ``normal``, ``low``; a clear ValueError otherwise."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}, not {priority!r}")
    return priority


def local_path(path: str | os.PathLike[str]) -> str:
    """A local file or folder as a job names it: ``~`` expanded, absolute, links resolved (a
    worker's working folder is not the submitter's)."""
    return str(Path(path).expanduser().resolve())


@dataclass
class JobRequest:
    """One submitted job: what to ingest, where, how urgently, with which settings."""

    paths: list[str]
    collection: str
    priority: str = "normal"
    job_id: str = field(default_factory=new_job_id)
    submitted_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    settings: dict[str, Any] = field(default_factory=dict)
    """The submitter's settings (JSON form), so that the worker runs the job as it was asked."""
    retry_of: str | None = None

    @classmethod
    def from_json(cls, text: str) -> JobRequest:
        return cls(**json.loads(text))
