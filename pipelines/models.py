"""Where a configured model is found, and what a failure to load it means.

A model setting (``INLET_EMBED_MODEL``, ``INLET_WHISPER_MODEL``) names an existing folder, the
model an installed package ships, or a model already in the local Hugging Face cache; nothing is
fetched. The embedder and the transcriber both read their setting by this one rule.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from pathlib import Path

from pipelines.errors import ModelError, ModelLoadFailed, ModelMissing


def offline() -> None:
    """Keep the Hugging Face libraries off the network and their tokenizers single-threaded (the
    stages batch across sources themselves). Call it before they are imported: they read these
    variables once, at import. A value the user set is kept."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def locate(name: str, *, packaged: Collection[str], package_path: Callable[[], Path], what: str) -> str:
    """A local folder for the model setting ``name``: the folder it names, the packaged model's
    folder when ``name`` is one of ``packaged`` (lower case; any case matches), or ``name`` itself
    for a model in the local Hugging Face cache.

    Args:
        package_path: returns the packaged model's folder; raises ImportError when its package
            is not installed.
        what: the model's role in messages (``embedding``, ``transcription``).

    Raises:
        ModelMissing: ``name`` is the packaged model and its package is not installed.
    """
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if name.lower() in packaged:
        try:
            return str(package_path())
        except ImportError as exc:
            raise ModelMissing(f"The default {what} model {name} is not installed") from exc
    return name


def load_failure(exc: Exception, *, name: str, where: str, what: str) -> ModelError:
    """The error to raise when the model ``name``, located at ``where``, failed to load with
    ``exc``: missing when ``where`` is no path on disk (a name the local cache did not have),
    broken otherwise."""
    if not Path(where).exists():
        return ModelMissing(
            f"{what.capitalize()} model {name!r} is neither a folder nor in the local model cache",
            detail=f"{type(exc).__name__}: {exc}",
        )
    return ModelLoadFailed(f"{what.capitalize()} model at {where} failed to load: {exc}", detail=repr(exc))
