"""Video: what the picture is (size, codec, frame rate) and a small still of it at a second.

The words of a video come from its sound (:mod:`pipelines.extract.audio`); this module reads its
picture with PyAV. :func:`probe_video` reads the video stream's header (milliseconds, nothing
decoded). :func:`frame_at` decodes the one key frame at or before a second (seeking goes to key
frames, so a single frame is decoded: about 0.1 s) and makes it a JPEG at most
``THUMBNAIL_WIDTH`` wide. :func:`thumbnail` keeps those JPEGs on disk by source id and whole
second, under ``home/cache/thumbnails``, so a search page showing ten hits decodes at most ten
frames once; the frame is decoded in the bounded child of :mod:`pipelines.isolate` (as documents
are parsed, ``extract_memory_mb``), and a picture larger than ``max_image_pixels`` is refused
before it is decoded.

    >>> path = thumbnail(source_id, "talk.mp4", 12.5, settings)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import Settings
from pipelines.errors import DamagedDocument, NoVideoTrack, TooLarge

THUMBNAIL_WIDTH = 320
"""Width in pixels of a hit's still (its height keeps the picture's proportions)."""
JPEG_QUALITY = 80

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream


@dataclass(frozen=True)
class VideoInfo:
    """The picture of a video: its size, codec and frame rate."""

    width: int
    height: int
    codec: str
    fps: float | None


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """The first video stream's size, codec and frame rate, from its header.

    Raises:
        NoVideoTrack: the file holds no video stream (or only a cover picture).
        DamagedDocument: the container cannot be opened.
    """
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _video_stream(container, path)
            context = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate
            return VideoInfo(
                width=int(context.width),
                height=int(context.height),
                codec=str(context.name),
                fps=round(float(rate), 3) if rate else None,
            )
    except NoVideoTrack:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV/FFmpeg raise many types
        raise DamagedDocument(
            f"The video could not be opened: {type(exc).__name__}: {exc}", path=str(path)
        ) from exc


def frame_at(
    path: str | os.PathLike[str],
    second: float,
    width: int = THUMBNAIL_WIDTH,
    max_pixels: int | None = None,
) -> bytes:
    """A JPEG of the key frame at or before ``second`` (the first frame when there is none
    before it), scaled down to ``width`` pixels wide.

    Raises:
        NoVideoTrack: no video stream.
        TooLarge: the picture has more than ``max_pixels`` pixels (checked before decoding).
        DamagedDocument: no frame could be decoded.
    """
    import av

    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _video_stream(container, path)
            pixels = stream.codec_context.width * stream.codec_context.height
            if max_pixels is not None and pixels > max_pixels:
                raise TooLarge(
                    f"The video's picture has {pixels:,} pixels, over the {max_pixels:,} limit",
                    path=str(path),
                    hint="Raise INLET_MAX_IMAGE_PIXELS if the video is genuine.",
                )
            stream.codec_context.skip_frame = "NONKEY"  # only key frames are decoded
            if second > 0 and stream.time_base:
                container.seek(int(Fraction(second) / stream.time_base), stream=stream, backward=True)
            frame = next(container.decode(stream), None)
            if frame is None:
                raise DamagedDocument("No picture could be decoded from the video", path=str(path))
            image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
    except (NoVideoTrack, TooLarge, DamagedDocument):
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV/FFmpeg raise many types
        raise DamagedDocument(
            f"The video's picture could not be decoded: {type(exc).__name__}: {exc}", path=str(path)
        ) from exc
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def thumbnail_path(source_id: str, second: float, settings: Settings) -> Path:
    """Where the still of ``source_id`` at ``second`` (whole seconds) is kept."""
    return settings.cache_dir / "thumbnails" / source_id[:2] / f"{source_id}-{int(max(second, 0))}.jpg"


def thumbnail(source_id: str, path: str | os.PathLike[str], second: float, settings: Settings) -> Path:
    """The JPEG file of the video ``path`` (source ``source_id``) at ``second``: made once by
    :func:`frame_at` (at the whole second), then read from the cache."""
    target = thumbnail_path(source_id, second, settings)
    if target.exists():
        return target
    args = (str(path), float(int(max(second, 0))), THUMBNAIL_WIDTH, settings.max_image_pixels)
    if settings.extract_memory_mb:  # decoded where a hostile file cannot take this process down
        from pipelines.isolate import run_isolated

        data = run_isolated(
            frame_at, *args, memory_mb=settings.extract_memory_mb, what="video", crashed=DamagedDocument,
            timeout_s=min(settings.timeout_extract_s, 60.0),
        )  # fmt: skip
    else:
        data = frame_at(*args)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)
    return target


def forget_thumbnails(source_id: str, settings: Settings) -> int:
    """Drop every still kept of ``source_id``; how many there were."""
    stills = list((settings.cache_dir / "thumbnails" / source_id[:2]).glob(f"{source_id}-*.jpg"))
    for path in stills:
        path.unlink(missing_ok=True)
    return len(stills)


def _video_stream(container: InputContainer, path: str | os.PathLike[str]) -> VideoStream:
    """The first real video stream (not a cover picture attached to an audio file)."""
    import av

    for stream in container.streams.video:
        if not (stream.disposition & av.stream.Disposition.attached_pic):
            return stream
    raise NoVideoTrack("The file holds no video picture", path=str(path))
