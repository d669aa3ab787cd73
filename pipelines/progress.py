"""Stage-weighted progress and ETA of a job (DESIGN section 5).

Each source moves through stages; each stage has a weight by kind of source (transcription
dominates audio, embedding dominates text). A source's progress is the sum of the weights of
its finished stages, 1.0 once it reached an end (indexed, unchanged, failed or cancelled); a
job's progress is the mean over its sources, and its ETA extrapolates the time spent so far.

The same rules serve the running flow (for the Prefect progress artifact) and the analytics
reader (for ``inlet jobs`` and the dashboard), which see the same stage events:

- ``stage``: ``validate``, ``extract`` (PDF, text) or ``transcribe`` (audio, video),
  ``chunk``, ``embed``, ``analyse`` (keywords, summary, category), ``index`` (the write to
  LanceDB);
- ``event``: ``start``, ``end``, ``retry``, ``fail``, ``skip`` (unchanged source),
  ``cancel``.
"""

from __future__ import annotations

from collections.abc import Iterable

STAGES = ("validate", "extract", "transcribe", "chunk", "embed", "analyse", "index")
TERMINAL_EVENTS = frozenset({"fail", "skip", "cancel"})
"""Events after which a source is finished, whatever stage it was in."""
LAST_STAGE = "index"

WEIGHTS: dict[str, dict[str, float]] = {
    "pdf": {"validate": 0.02, "extract": 0.30, "chunk": 0.03, "embed": 0.53, "analyse": 0.02, "index": 0.10},
    "text": {"validate": 0.02, "extract": 0.05, "chunk": 0.05, "embed": 0.72, "analyse": 0.03, "index": 0.13},
    "html": {"validate": 0.02, "extract": 0.10, "chunk": 0.05, "embed": 0.67, "analyse": 0.03, "index": 0.13},
    "docx": {"validate": 0.02, "extract": 0.10, "chunk": 0.05, "embed": 0.67, "analyse": 0.03, "index": 0.13},
    "pptx": {"validate": 0.02, "extract": 0.15, "chunk": 0.05, "embed": 0.62, "analyse": 0.03, "index": 0.13},
    "odt": {"validate": 0.02, "extract": 0.10, "chunk": 0.05, "embed": 0.67, "analyse": 0.03, "index": 0.13},
    "ods": {"validate": 0.02, "extract": 0.15, "chunk": 0.05, "embed": 0.62, "analyse": 0.03, "index": 0.13},
    "odp": {"validate": 0.02, "extract": 0.15, "chunk": 0.05, "embed": 0.62, "analyse": 0.03, "index": 0.13},
    "xlsx": {"validate": 0.02, "extract": 0.15, "chunk": 0.05, "embed": 0.62, "analyse": 0.03, "index": 0.13},
    "email": {
        "validate": 0.02,
        "extract": 0.05,
        "chunk": 0.05,
        "embed": 0.72,
        "analyse": 0.03,
        "index": 0.13,
    },
    "epub": {"validate": 0.02, "extract": 0.15, "chunk": 0.05, "embed": 0.62, "analyse": 0.03, "index": 0.13},
    "image": {
        "validate": 0.02,
        "extract": 0.85,
        "chunk": 0.01,
        "embed": 0.07,
        "analyse": 0.01,
        "index": 0.04,
    },
    "audio": {
        "validate": 0.02,
        "transcribe": 0.85,
        "chunk": 0.01,
        "embed": 0.07,
        "analyse": 0.01,
        "index": 0.04,
    },
}
"""Share of a source's work per stage, by kind; each row sums to 1. With the analyse stage off
(``Settings.analyse``) its share is reached when the source is indexed."""
WEIGHTS["video"] = WEIGHTS["audio"]  # a video's work is its sound track's
_UNKNOWN_KIND = {
    "validate": 0.02,
    "extract": 0.30,
    "chunk": 0.03,
    "embed": 0.53,
    "analyse": 0.02,
    "index": 0.10,
}


def weight(kind: str | None, stage: str) -> float:
    """The share of a ``kind`` source's work that ``stage`` stands for (0 for unknown stages)."""
    return WEIGHTS.get(kind or "", _UNKNOWN_KIND).get(stage, 0.0)


def weight_rows() -> list[tuple[str, str, float]]:
    """``(kind, stage, weight)`` for every kind, and ``("*", stage, weight)`` for an unknown
    kind: the table SQL readers join to compute :func:`source_progress` over many sources."""
    rows = [(kind, stage, w) for kind, stages in WEIGHTS.items() for stage, w in stages.items()]
    return rows + [("*", stage, w) for stage, w in _UNKNOWN_KIND.items()]


def source_progress(kind: str | None, events: Iterable[tuple[str, str]]) -> float:
    """Progress (0..1) of one source from its ``(stage, event)`` pairs."""
    done = 0.0
    finished: set[str] = set()
    for stage, event in events:
        if event in TERMINAL_EVENTS or (event == "end" and stage == LAST_STAGE):
            return 1.0
        if event == "end" and stage not in finished:
            finished.add(stage)
            done += weight(kind, stage)
    return min(done, 1.0)


def job_progress(per_source: Iterable[float], n_sources: int | None = None) -> float:
    """Mean progress over a job's sources; ``n_sources`` counts those not yet seen as 0."""
    values = [float(v) for v in per_source]
    total = max(n_sources or 0, len(values))
    return sum(values) / total if total else 0.0


def eta_seconds(elapsed_s: float, progress: float) -> float | None:
    """Seconds left if the rest goes as fast as what is done; None before anything is done.

    >>> eta_seconds(30.0, 0.25)
    90.0
    >>> eta_seconds(5.0, 0.0) is None
    True
    """
    progress, elapsed_s = float(progress), float(elapsed_s)
    if progress <= 0:
        return None
    if progress >= 1:
        return 0.0
    return round(elapsed_s * (1 - progress) / progress, 1)
