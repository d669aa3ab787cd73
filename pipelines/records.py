"""Plain records that flow between the stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

Kind = Literal[
    "pdf",
    "text",
    "html",
    "docx",
    "pptx",
    "xlsx",
    "odt",
    "ods",
    "odp",
    "epub",
    "email",
    "image",
    "audio",
    "video",
]
"""What a source is, told from its content (``pipelines.sources``)."""
KINDS: tuple[Kind, ...] = get_args(Kind)
MEDIA_KINDS: frozenset[str] = frozenset({"audio", "video"})
"""Kinds whose words come from speech: transcribed, cited by seconds rather than pages."""

JobStatus = Literal["queued", "running", "completed", "partially_failed", "failed", "cancelled"]
"""Where a job stands; the last four are final."""
FINISHED_STATUSES: frozenset[str] = frozenset({"completed", "partially_failed", "failed", "cancelled"})
"""Job statuses after which nothing more happens to the job."""
FINISHED_SOURCE_STATUSES: frozenset[str] = frozenset({"ingested", "unchanged", "failed", "cancelled"})
"""Statuses of a job's source once the job is done with it (``retrying``, ``running`` are not)."""


def is_media(kind: str | None) -> bool:
    """Whether a source of this kind is a recording (transcribed, cited by seconds)."""
    return kind in MEDIA_KINDS


def extract_stage(kind: str) -> Literal["transcribe", "extract"]:
    """The stage that gets a source's words: ``transcribe`` for recordings, else ``extract``."""
    return "transcribe" if is_media(kind) else "extract"


@dataclass
class Source:
    """One input file, identified by the hash of its bytes."""

    path: str
    source_id: str
    kind: Kind
    size: int
    file: str
    """File name shown in citations."""
    pages: int | None = None
    duration_s: float | None = None
    encoding: str | None = None
    container: str | None = None
    title: str | None = None
    """The document's own title (an HTML page's ``<title>``), when it has one."""
    width: int | None = None
    """A video's picture width in pixels."""
    height: int | None = None
    """A video's picture height in pixels."""
    video_codec: str | None = None
    """A video's picture codec (FFmpeg's name: ``h264``, ``vp9``, ...)."""
    fps: float | None = None
    """A video's average frame rate."""
    audio_codec: str | None = None
    """A video's sound codec (FFmpeg's name: ``aac``, ``opus``, ...); ``None`` without a sound track."""


@dataclass
class Segment:
    """Text with its location: a PDF page, or the start and end second of speech."""

    text: str
    page: int | None = None
    start: float | None = None
    end: float | None = None
    ocr_confidence: float | None = None
    """Set when the text was read by OCR: Tesseract's mean word confidence, 0-100."""
    language: str | None = None
    """Set on speech: the language (ISO 639-1) this stretch was told to be in and transcribed as."""
    fields: bool = False
    """Set on a passage of a document's fields rather than its content (an e-mail's sender,
    recipients, date and attachment names): searchable, but not what the source is about, so the
    analyse stage leaves it out of keywords and summaries."""


@dataclass
class Extraction:
    """What a source yielded: its segments plus facts found on the way."""

    source: Source
    segments: list[Segment]
    language: str | None = None
    """The source's language: of its text, or of most of its speech (each segment of speech
    carries its own)."""
    seconds: float = 0.0
    """Wall time the extraction took."""
    cached: bool = False
    warnings: list[str] = field(default_factory=list)
    peak_mb: float | None = None
    """Peak resident memory (MB) of the process that extracted it: the bounded child's during
    this parse, or the worker's high-water mark when it was read in the worker; ``None`` when it
    came from the cache."""
    described: bool = False
    """The text is inlet's own description of the file (a video with nothing spoken), not words
    found in it: it is searchable, but its keywords come from the file's name and it has no
    summary."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Extraction:
        return cls(
            source=Source(**data["source"]),
            segments=[Segment(**s) for s in data["segments"]],
            language=data.get("language"),
            seconds=data.get("seconds", 0.0),
            cached=data.get("cached", False),
            warnings=list(data.get("warnings", [])),
            peak_mb=data.get("peak_mb"),
            described=bool(data.get("described", False)),
        )


@dataclass
class Chunk:
    """A window of tokens over one source's segments, with the span it covers."""

    chunk_id: str
    source_id: str
    index: int
    text: str
    n_tokens: int
    page_start: int | None = None
    page_end: int | None = None
    time_start: float | None = None
    time_end: float | None = None
    ocr_confidence: float | None = None
    """The lowest OCR confidence (0-100) of the segments it covers that were read by OCR;
    ``None`` when none was."""
    language: str | None = None
    """The language of the segments it covers, when they carry one (speech); a chunk never
    spans two languages."""
    tokens: tuple[Any, Any] | None = field(default=None, repr=False, compare=False)
    """Its token ids and their character spans in ``text`` (int32 arrays, ``(n,)`` and
    ``(n, 2)``), without special tokens, as the chunker counted them: the embedder runs these
    instead of tokenising the text again. Not stored; dropped once the chunk is embedded."""
