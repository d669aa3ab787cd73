"""Sources: find files, tell their kind from their content, check limits, hash the bytes.

Kind comes from magic bytes (``puremagic``) and, for media, a probe of the container with PyAV;
the extension is never trusted. Limits are checked here, before any heavy work.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import puremagic
from charset_normalizer import from_bytes

from pipelines.config import Settings
from pipelines.errors import (
    DamagedDocument,
    EmptyInput,
    InputError,
    LinkOutside,
    NoAudioTrack,
    NotFound,
    SpecialFile,
    TooLarge,
    TooLong,
    UndecodableAudio,
    UnsupportedFormat,
)
from pipelines.extract.mail import looks_like_email
from pipelines.extract.text import wide_encoding
from pipelines.records import Kind, Source

_SNIFF_BYTES = 64 * 1024
_MEDIA_MIMES = ("audio/", "video/")
_MEDIA_EXTRA = {"application/ogg", "application/x-matroska", "application/mp4"}
_TEXT_VIDEO_CODECS = {"ansi"}  # FFmpeg reads any text file as an ANSI-art "video"
# A page starts (after an XML declaration, comments and a doctype) with one of its own tags;
# HTML quoted inside Markdown or prose does not.
_HTML_START = re.compile(
    r"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])",
    re.IGNORECASE | re.DOTALL,
)


def discover(
    paths: Iterable[str | os.PathLike[str]],
    *,
    within: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
) -> tuple[list[Path], list[InputError]]:
    """Every regular file under ``paths`` (files taken as given, folders walked), by its real
    path and without duplicates; and what was refused, each as a classified error.

    Hidden files and folders (names starting with ``.``) inside a walked folder are skipped. A
    symbolic link met inside a walked folder is followed only when its target lies inside that
    folder (and then only once: its target is found by its real path, and a folder is walked
    once, so a link to an ancestor cannot loop); a link that leads out of it is refused as
    ``LinkOutside``. A path given explicitly is followed if it is a link: the caller named it.
    ``within`` fences explicit paths too: one whose real path is outside it is refused (the inbox
    passes its folder, so a file swapped for a link after listing is not followed). FIFOs,
    devices and sockets are refused as ``SpecialFile`` without being opened (opening a FIFO
    blocks). A missing path, or a link that leads nowhere, is ``NotFound``.

    A staged input (``s3://…/inputs/<source_id>#<name>``, :mod:`pipelines.staging`) is fetched
    into the cache of ``settings`` (default: this process's settings) and found there.
    """
    found: dict[Path, None] = {}
    refused: list[InputError] = []
    fence = Path(os.path.realpath(Path(within).expanduser())) if within is not None else None
    for raw in paths:
        if str(raw).startswith("s3://"):
            from pipelines.config import get_settings
            from pipelines.objstore import fetch_input

            try:  # a store that cannot be read is no fault of the file: that error goes up
                found[fetch_input(str(raw), settings or get_settings())] = None
            except InputError as exc:
                refused.append(exc)
            continue
        path = Path(raw).expanduser()
        try:
            mode = path.stat().st_mode  # follows links; never opens the file
        except OSError:  # missing, a link to nothing, a link loop
            what = "The link leads to nothing" if path.is_symlink() else "No such file or folder"
            refused.append(NotFound(f"{what}: {path}", path=str(path), stage="validate"))
            continue
        real = Path(os.path.realpath(path))
        if fence is not None and not real.is_relative_to(fence):
            refused.append(_outside(path, fence))
            continue
        if stat.S_ISDIR(mode):
            _walk(real, found, refused)
        elif stat.S_ISREG(mode):
            found[real] = None
        else:
            refused.append(_special(path, mode))
    return list(found), refused


def _walk(root: Path, found: dict[Path, None], refused: list[InputError]) -> None:
    """Add the regular files under the real folder ``root`` to ``found``, depth first in name
    order (a folder's files, then its subfolders); links stay inside ``root``."""
    seen: set[Path] = {root}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
        except OSError as exc:
            refused.append(
                NotFound(f"The folder cannot be read: {exc.strerror}", path=str(folder), stage="validate")
            )
            continue
        subfolders: list[Path] = []
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    target = Path(os.path.realpath(path))
                    if not target.is_relative_to(root):
                        refused.append(_outside(path, root))
                        continue
                    if not target.exists():
                        refused.append(
                            NotFound(f"The link leads to nothing: {path}", path=str(path), stage="validate")
                        )
                        continue
                    mode = target.stat().st_mode
                else:
                    target = path  # below a real folder, a name that is not a link is real
                    mode = entry.stat(follow_symlinks=False).st_mode
            except OSError as exc:  # vanished while walking, or a link loop
                refused.append(
                    NotFound(f"The file cannot be read: {exc.strerror}", path=str(path), stage="validate")
                )
                continue
            if stat.S_ISDIR(mode):
                if target not in seen:
                    seen.add(target)
                    subfolders.append(target)
            elif stat.S_ISREG(mode):
                found[target] = None
            else:
                refused.append(_special(path, mode))
        stack.extend(reversed(subfolders))


def _outside(path: Path, root: Path) -> LinkOutside:
    return LinkOutside(
        f"Not followed: a symbolic link that leads outside {root}", path=str(path), stage="validate"
    )


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _special(path: Path, mode: int) -> SpecialFile:
    what = next((name for test, name in _SPECIAL_KINDS if test(mode)), "not a regular file")
    return SpecialFile(f"Skipped without opening it: {what}", path=str(path), stage="validate")


def hash_file(path: Path, block: int = 1 << 20) -> str:
    """``source_id``: the SHA-256 of the file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


Family = Literal["pdf", "media", "text", "html", "email", "zip", "image"]
"""What the first bytes tell: a ``media`` file's kind (audio or video) needs a probe, and a
``zip`` archive's (a Word document or an EPUB) a look at its members."""


def sniff(head: bytes) -> tuple[Family | None, str]:
    """Guess a kind from the first bytes: (a :data:`Family` or ``None``, a description).

    Text that starts like a web page (a doctype, ``<html>``, ``<head>`` or ``<body>``, maybe
    after an XML declaration) is ``html``, and text that starts with an e-mail's header block
    (:func:`pipelines.extract.mail.looks_like_email`) is ``email``, whatever the file is called."""
    if b"%PDF-" in head[:1024]:
        return "pdf", "application/pdf"
    if head.startswith(_ZIP_MAGIC):
        return "zip", "a ZIP archive"
    image = image_format(head)
    if image is not None:
        return "image", f"image/{image.lower()}"
    # Text first: a file without NUL bytes that decodes is text, unless a media signature sits
    # at its very start. (Weak matches further in, such as a QuickTime atom name at byte 4 of
    # an English sentence, or "From " read as a mailbox, do not turn prose into media.)
    plain = b"\x00" not in head
    if plain and not head.startswith(_media_prefixes()):  # no need to ask puremagic
        text = _text_family(head)
        if text is not None:
            return text
    try:
        candidates = puremagic.magic_string(head)
    except puremagic.PureError:
        candidates = []
    media = [m for m in candidates if _is_media_mime(m.mime_type)]
    signed = any(getattr(m, "offset", 0) == 0 for m in media)
    if plain and not signed:
        text = _text_family(head)
        if text is not None:
            return text
    wide = None if signed else wide_encoding(head)  # UTF-16 and UTF-32 text holds NUL bytes
    if wide is not None:
        return ("html", "text/html") if looks_like_html(head, wide) else ("text", "text/plain")
    if media:
        return "media", (media[0].mime_type or "").lower()
    label = next((m.mime_type or m.extension for m in candidates if m.mime_type or m.extension), "")
    return None, label or "binary data"


def _text_family(head: bytes) -> tuple[Family, str] | None:
    """The family of bytes that decode as text (a web page, an e-mail or plain text), or ``None``."""
    encoding = _decode_guess(head)
    if encoding is None:
        return None
    if looks_like_html(head, encoding):
        return "html", "text/html"
    if looks_like_email(head):
        return "email", "message/rfc822"
    return "text", "text/plain"


@functools.cache
def _media_prefixes() -> tuple[bytes, ...]:
    """Every byte string that puremagic takes, at a file's very start, for a media signature.

    A head that starts with none of them holds no media signature at byte 0, so text is told
    without running puremagic's whole table (pure Python: a quarter of a millisecond a file).
    Its table is read from the module; should a later puremagic keep it elsewhere, ``(b"",)``
    (which every head starts with) sends every file through puremagic as before."""
    try:
        rows = list(puremagic.main.magic_header_array)
        rows += [row for options in puremagic.main.multi_part_dict.values() for row in options]
        return tuple({row.byte_match for row in rows if row.offset == 0 and _is_media_mime(row.mime_type)})
    except AttributeError:
        return (b"",)


def looks_like_html(head: bytes, encoding: str = "utf-8") -> bool:
    """Whether text bytes start like an HTML or XHTML page.

    >>> looks_like_html(b"<!DOCTYPE html><title>x</title>"), looks_like_html(b"# Notes <b>bold</b>")
    (True, False)
    """
    start = head[:4096].decode(encoding, errors="ignore").lstrip("\ufeff")
    return _HTML_START.match(start) is not None


def image_format(head: bytes) -> str | None:
    """The image format a file starts with (``PNG``, ``JPEG``, ``TIFF``, ``WEBP``, ``GIF``,
    ``BMP``), or ``None``. Signatures are checked at byte 0 only, so text never matches.

    >>> image_format(b"GIF89a...."), image_format(b"BMW cars are fast")
    ('GIF', None)
    """
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM") and len(head) >= 26 and head[6:10] == b"\x00\x00\x00\x00":
        return "BMP"  # the four reserved bytes of a BMP header are zero
    return None


_ZIP_MAGIC = b"PK\x03\x04"
_OFFICE_MAINS: tuple[tuple[bytes, Literal["docx", "pptx", "xlsx"]], ...] = (
    (b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", "docx"),
    (b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml", "pptx"),
    (b"application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml", "pptx"),
    (b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "xlsx"),
    (b"application/vnd.ms-excel.sheet.macroEnabled.main+xml", "xlsx"),
)
"""The main part an Office document declares in its ``[Content_Types].xml``, and its kind (the
macro-enabled PPTM and XLSM are read as PPTX and XLSX: macros are never run)."""
_ODF_TYPES: tuple[tuple[bytes, Literal["odt", "ods", "odp"]], ...] = (
    (b"application/vnd.oasis.opendocument.text", "odt"),
    (b"application/vnd.oasis.opendocument.spreadsheet", "ods"),
    (b"application/vnd.oasis.opendocument.presentation", "odp"),
)
"""The type an OpenDocument file names in its ``mimetype`` member (a template's type, such as
``...text-template``, starts the same), and its kind."""
ZipKind = Literal["docx", "pptx", "xlsx", "odt", "ods", "odp", "epub"]
_EPUB_MIME = b"application/epub+zip"


def probe_zip(path: Path, settings: Settings) -> ZipKind:
    """Tell Office documents (Word, PowerPoint, Excel), OpenDocument files and EPUBs apart by the
    archive's members, and check what it would unpack to before anything is unpacked.

    An Office document declares its main part in ``[Content_Types].xml``
    (:data:`_OFFICE_MAINS`); an OpenDocument file (:data:`_ODF_TYPES`) and an EPUB name their
    type in the ``mimetype`` member (an EPUB may only have ``META-INF/container.xml``). Any other
    archive is unsupported.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            unpacked = sum(i.file_size for i in infos)
            if unpacked > settings.max_unpacked_bytes:
                raise TooLarge(
                    f"The archive would unpack to {unpacked / 1e6:.1f} MB, over the "
                    f"{settings.max_unpacked_bytes / 1e6:.1f} MB limit",
                    path=str(path), hint="Raise INLET_MAX_UNPACKED_BYTES if the document is genuine.",
                )  # fmt: skip
            kind: ZipKind | None = None
            if "[Content_Types].xml" in names:
                with archive.open("[Content_Types].xml") as fh:
                    types = fh.read(1 << 20)
                kind = next((k for main, k in _OFFICE_MAINS if main in types), None)
            if kind is None and "mimetype" in names:
                with archive.open("mimetype") as fh:
                    declared = fh.read(128).strip()
                if declared == _EPUB_MIME:
                    kind = "epub"
                else:
                    kind = next(
                        (k for t, k in _ODF_TYPES if declared.startswith(t) and "content.xml" in names), None
                    )
            if kind is None and "META-INF/container.xml" in names:
                kind = "epub"
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise DamagedDocument(f"The ZIP archive cannot be read: {exc}", path=str(path)) from exc
    if kind is None:
        raise UnsupportedFormat(
            "Unsupported file type (a ZIP archive that is not an Office or OpenDocument file nor an EPUB)",
            path=str(path),
        )
    return kind


def _is_media_mime(mime: str | None) -> bool:
    mime = (mime or "").lower()
    return mime.startswith(_MEDIA_MIMES) or mime in _MEDIA_EXTRA


def _decode_guess(data: bytes) -> str | None:
    """The encoding that decodes ``data`` as text, or ``None`` if it is not text."""
    wide = wide_encoding(data)
    if wide is not None:
        return wide
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A sniffed head may end inside a multi-byte character.
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"
    best = from_bytes(data).best()
    return best.encoding if best is not None else None


def probe_media(path: Path) -> tuple[Literal["audio", "video"], float | None, str]:
    """Open a media file with PyAV: (``audio`` or ``video``, duration in seconds or ``None``,
    container name). Raises ``UndecodableAudio`` if it will not open and ``UnsupportedFormat``
    when it holds neither sound nor picture. A video without sound is a video (indexed by its
    picture, :func:`pipelines.extract.video.without_speech`)."""
    import av

    try:
        with av.open(str(path)) as container:
            streams = list(container.streams)
            audio = [s for s in streams if s.type == "audio"]
            video = [
                s
                for s in streams
                if s.type == "video"
                and not (s.disposition & av.stream.Disposition.attached_pic)
                and s.codec_context.name not in _TEXT_VIDEO_CODECS
            ]
            duration = container.duration / 1_000_000 if container.duration else None
            timed = audio or video
            if duration is None and timed and timed[0].duration and timed[0].time_base:
                duration = float(timed[0].duration * timed[0].time_base)
            name = container.format.name
    except Exception as exc:  # PyAV raises many FFmpeg error types
        raise UndecodableAudio(
            f"Could not open the media container: {type(exc).__name__}: {exc}", path=str(path)
        ) from exc
    kind: Literal["audio", "video"] = "video" if video else "audio"
    if not audio and not video:
        raise UnsupportedFormat(f"The file holds no audio or video ({name})", path=str(path))
    return kind, duration, name


def check_sound(path: str | os.PathLike[str]) -> None:
    """Raise ``NoAudioTrack`` when a media file has no sound stream (a file PyAV cannot open
    passes: its decoder says what is wrong with it)."""
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if container.streams.audio:
                return
    except Exception:  # noqa: BLE001 - PyAV raises many FFmpeg error types; the decoder classifies them
        return
    raise NoAudioTrack("The file has no audio track to transcribe", path=str(path))


def inspect(path: str | os.PathLike[str], settings: Settings) -> Source:
    """Identify one file and check its limits; raise a classified ``InputError`` if it fails.

    Cheap checks come first (size, magic bytes); a PDF's page count is read by the extractor,
    which fails before extracting text when the limit is passed.
    """
    p = Path(path)
    size = p.stat().st_size
    if size == 0:
        raise EmptyInput("The file is empty (0 bytes)", path=str(p))
    with open(p, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    family, label = sniff(head)
    if family is None:
        raise UnsupportedFormat(f"Unsupported file type ({label})", path=str(p))

    kind: Kind
    duration: float | None = None
    container: str | None = None
    encoding: str | None = None
    pages: int | None = None
    if family == "media":
        kind, duration, container = probe_media(p)
    elif family == "zip":
        kind = probe_zip(p, settings)
    elif family == "image":
        from pipelines.extract.ocr import probe_image

        kind = "image"
        container, pages = probe_image(str(p), settings)
    else:
        kind = family
        if kind in ("text", "html"):
            encoding = _decode_guess(head)

    limit = settings.max_bytes(kind)
    if size > limit:
        raise TooLarge(
            f"The {kind} file is {size / 1e6:.1f} MB, over the {limit / 1e6:.1f} MB limit",
            path=str(p),
        )
    if duration is not None and duration > settings.max_audio_seconds:
        raise TooLong(
            f"The recording lasts {duration:.0f} s, over the {settings.max_audio_seconds:.0f} s limit",
            path=str(p),
        )
    source = Source(
        path=str(p),
        source_id=hash_file(p),
        kind=kind,
        size=size,
        file=p.name,
        pages=pages,
        duration_s=duration,
        encoding=encoding,
        container=container,
    )
    if kind == "video":
        _describe_video(source, settings)
    return source


def _describe_video(source: Source, settings: Settings) -> None:
    """Record a video's picture (size, codec, frame rate) and sound codec on ``source``, and
    refuse a picture over ``max_video_pixels`` (``TooLarge``); a header that cannot be read
    leaves them unknown (the sound is what is indexed)."""
    from pipelines.errors import InletError
    from pipelines.extract.video import check_pixels, probe_video

    try:
        info = probe_video(source.path)
    except InletError:
        return
    check_pixels(info, source.path, settings)
    source.width, source.height, source.video_codec, source.fps = (
        info.width,
        info.height,
        info.codec,
        info.fps,
    )
    source.audio_codec = info.audio_codec
