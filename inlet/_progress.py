"""A job's progress as the person who waits for it sees it: a tqdm bar in a terminal or a
notebook, plain lines in a log; with the standard library alone until a bar is shown, so the
``inlet`` command can follow a job without loading inlet's settings."""

from __future__ import annotations

import sys
import time
from typing import Any


def shown(event: dict[str, Any], bar: Any) -> dict[str, Any] | None:
    """Show a progress event on ``bar``; the job's summary when the event is the last one."""
    if "result" in event:
        return dict(event["result"])
    now = event.get("progress")
    if bar is not None and now:
        bar.n = now["percent"]
        eta = now.get("eta_s")
        bar.set_postfix_str(f"{now['status']}" + (f", ~{eta:.0f} s left" if eta else ""))
    return None


def progress_bar(job_id: str) -> Any:
    """A tqdm bar in a notebook or a terminal; plain lines when stderr is a file or a pipe."""
    if not _in_notebook() and not sys.stderr.isatty():
        return _LineBar(f"job {job_id}")
    from tqdm.auto import tqdm

    return tqdm(total=100, desc=f"job {job_id}", unit="%", file=sys.stderr,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}")  # fmt: skip


def close_bar(bar: Any, result: dict[str, Any] | None) -> None:
    """Close ``bar`` (if any), at 100 % with the job's status when it got the job's summary."""
    if bar is None:
        return
    if result is not None:
        bar.n = 100
        bar.set_postfix_str(result.get("status", ""))
    bar.close()


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and "IPKernelApp" in getattr(shell, "config", {})


class _LineBar:
    """The part of tqdm's interface :func:`inlet.wait` uses, printing a line to stderr when the
    status changes, the progress moves by 10 points, or a minute passes (logs and CI output
    stay readable)."""

    def __init__(self, desc: str) -> None:
        self.desc, self.n, self.postfix = desc, 0.0, ""
        self._shown: tuple[str, float] | None = None
        self._shown_at = 0.0

    def set_postfix_str(self, postfix: str) -> None:
        self.postfix = postfix
        status = postfix.split(",")[0]
        last_status, last_n = self._shown or ("", -100.0)
        if status != last_status or self.n - last_n >= 10 or time.monotonic() - self._shown_at >= 60:
            self._print()

    def _print(self) -> None:
        self._shown, self._shown_at = (self.postfix.split(",")[0], self.n), time.monotonic()
        print(f"{self.desc}: {self.n:3.0f}% {self.postfix}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._shown is None or self._shown != (self.postfix.split(",")[0], self.n):
            self._print()
