"""Video: what the picture is (size, codecs, frame rate), a small still of it at a second, and
the words of a video that has none to hear.

The words of a video come from its sound (:mod:`pipelines.extract.audio`); this module reads its
picture with PyAV. :func:`probe_video` reads the stream headers (milliseconds, nothing
decoded). :func:`frame_at` decodes the one key frame at or before a second (seeking goes to key
frames, so a single frame is decoded: about 0.1 s) and makes it a JPEG at most
``THUMBNAIL_WIDTH`` wide; :func:`poster` picks the video's most detailed key frame that is
not black, the picture that stands for the whole video. :func:`thumbnail` keeps those JPEGs on disk by source id and whole
second, under ``home/cache/thumbnails``, so a search page showing ten hits decodes at most ten
frames once; the frame is decoded in the bounded child of :mod:`pipelines.isolate` (as documents
are parsed, ``extract_memory_mb``), and a picture larger than ``max_video_pixels`` is refused
before it is decoded (files are checked against it when they are identified, too:
:func:`check_pixels`).

A video's sound is transcribed like any recording; a video without a sound track, or whose
sound holds no speech, is indexed instead by one passage that describes it (:func:`without_speech`,
:func:`describe`: its name, length, picture and a note that nothing is spoken), cited from its
first second, so it is found by its name and shown with its still; the extraction keeps a
warning that there is no speech.

    >>> path = thumbnail(source_id, "talk.mp4", 12.5, settings)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.config import Settings
from pipelines.errors import DamagedDocument, NoAudioTrack, NoSpeech, NoVideoTrack, TooLarge
from pipelines.formats import clock, container_name
from pipelines.records import Extraction, Segment, Source

log = logging.getLogger("inlet.extract.video")

THUMBNAIL_WIDTH = 320
"""Width in pixels of a hit's still (its height keeps the picture's proportions)."""
JPEG_QUALITY = 80

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream


@dataclass(frozen=True)
class VideoInfo:
    """The picture of a video: its size, codec and frame rate; and its sound's codec."""

    width: int
    height: int
    codec: str
    fps: float | None
    audio_codec: str | None = None
    """The first sound stream's codec; ``None`` when the video has no sound track."""

    @property
    def pixels(self) -> int:
        return self.width * self.height


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """The first video stream's size, codec and frame rate, and the first sound stream's codec,
    from their headers.

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
            sound = next(iter(container.streams.audio), None)
            return VideoInfo(
                width=int(context.width),
                height=int(context.height),
                codec=str(context.name),
                fps=round(float(rate), 3) if rate else None,
                audio_codec=str(sound.codec_context.name) if sound is not None else None,
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
            stream = _key_frames(container, path, max_pixels)
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
    return _jpeg(image, width)


def _jpeg(image: Any, width: int) -> bytes:
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


POSTER_CANDIDATES = 24
"""Key frames looked at for a video's poster, spread evenly over its length."""
BLACK_LEVEL = 24.0
"""Mean brightness (0-255) under which a frame counts as black (a fade, a title card's ground)."""


def detail(image: Any) -> float:
    """How much there is to see in a picture: the mean strength of its edges, on a small grey
    copy (a flat or black frame scores about 0, a street scene tens)."""
    from PIL import ImageFilter, ImageStat

    grey = image.convert("L")
    grey.thumbnail((160, 160))
    return float(ImageStat.Stat(grey.filter(ImageFilter.FIND_EDGES)).mean[0])


def poster(
    path: str | os.PathLike[str], width: int = THUMBNAIL_WIDTH, max_pixels: int | None = None
) -> bytes:
    """A JPEG of the video's most detailed key frame that is not black (any key frame when all
    are), among :data:`POSTER_CANDIDATES` spread over its length: the picture that stands for
    the whole video, where its first frame is often a fade from black or a title.

    Raises:
        NoVideoTrack, TooLarge, DamagedDocument: as :func:`frame_at`.
    """
    import av
    from PIL import ImageStat

    best: tuple[bool, float, Any] | None = None
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            stream = _key_frames(container, path, max_pixels)
            length = float(container.duration or 0) / 1_000_000 if container.duration else 0.0
            seen: set[int | None] = set()
            for i in range(POSTER_CANDIDATES):
                if length > 0 and stream.time_base:
                    at = length * i / POSTER_CANDIDATES
                    container.seek(int(Fraction(at) / stream.time_base), stream=stream, backward=True)
                elif i:
                    break
                frame = next(container.decode(stream), None)
                if frame is None or frame.pts in seen:
                    continue  # the same key frame as a nearer seek found
                seen.add(frame.pts)
                image = frame.to_image()  # type: ignore[no-untyped-call]  # PyAV leaves it unannotated
                lit = ImageStat.Stat(image.convert("L")).mean[0] >= BLACK_LEVEL
                score = (lit, detail(image), image)
                if best is None or score[:2] > best[:2]:
                    best = score
    except (NoVideoTrack, TooLarge, DamagedDocument):
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV/FFmpeg raise many types
        raise DamagedDocument(
            f"The video's picture could not be decoded: {type(exc).__name__}: {exc}", path=str(path)
        ) from exc
    if best is None:
        raise DamagedDocument("No picture could be decoded from the video", path=str(path))
    return _jpeg(best[2], width)


def check_pixels(info: VideoInfo, path: str | os.PathLike[str], settings: Settings) -> None:
    """Refuse a video whose picture is larger than ``max_video_pixels`` (from its header, before
    anything is decoded).

    Raises:
        TooLarge: with the picture's size and the limit.
    """
    if info.pixels > settings.max_video_pixels:
        raise TooLarge(
            f"The video's picture is {info.width} x {info.height} pixels, over the "
            f"{settings.max_video_pixels:,}-pixel limit",
            path=str(path), hint="Scale the video down, or raise INLET_MAX_VIDEO_PIXELS.",
        )  # fmt: skip


def without_speech(source: Source, reason: NoAudioTrack | NoSpeech, seconds: float = 0.0) -> Extraction:
    """The extraction of a video that has nothing spoken in it (``reason``: no sound track, or no
    speech recognised in its sound): one segment, :func:`describe`'s passage, from its first
    second to its end (so its hit shows the still of its start), and the warning
    ``"<class>: <message>; ..."``."""
    note = f"{reason.code}: {reason.message}; indexed by its name, picture and length only"
    log.warning("%s: %s", source.file, note)
    segment = Segment(text=describe(source, reason), start=0.0, end=source.duration_s or 0.0)
    return Extraction(source=source, segments=[segment], seconds=seconds, warnings=[note], described=True)


def describe(source: Source, reason: NoAudioTrack | NoSpeech | None = None) -> str:
    """One passage that tells what a video is: its title or file name (and that name's words),
    length, picture, container, and, given ``reason``, that nothing in it is spoken.

    >>> describe(Source("/v/harbour-cam_2.mp4", "ab", "video", 10, "harbour-cam_2.mp4",
    ...     duration_s=12.0, container="mov,mp4,m4a,3gp,3g2,mj2", width=640, height=360,
    ...     video_codec="h264", fps=25.0), NoAudioTrack("no sound"))
    'Video harbour-cam_2.mp4 (harbour cam 2): 00:12.0 long, 640 x 360 pixels, h264 at 25 fps, mp4 file, no sound track. No speech: the video has no audio track, so nothing spoken in it is indexed.'
    """
    name = source.title or source.file
    stem = Path(source.file).stem
    words = " ".join(stem.replace("_", " ").replace("-", " ").replace(".", " ").split())
    head = f"Video {name}" + (f" ({words})" if words and words != name else "")
    facts = []
    if source.duration_s:
        facts.append(f"{clock(source.duration_s)} long")
    if source.width and source.height:
        facts.append(f"{source.width} x {source.height} pixels")
    if source.video_codec:
        rate = f" at {source.fps:g} fps" if source.fps else ""
        facts.append(f"{source.video_codec}{rate}")
    if source.container:
        facts.append(f"{container_name(source.container, source.file)} file")
    facts.append(f"{source.audio_codec} sound" if source.audio_codec else "no sound track")
    text = f"{head}: {', '.join(facts)}."
    if isinstance(reason, NoAudioTrack):
        text += " No speech: the video has no audio track, so nothing spoken in it is indexed."
    elif isinstance(reason, NoSpeech):
        text += " No speech: no words were recognised in its sound, so nothing spoken in it is indexed."
    return text


def thumbnail_path(source_id: str, second: float | None, settings: Settings) -> Path:
    """Where the still of ``source_id`` at ``second`` (whole seconds; ``None``: its poster) is kept."""
    name = "poster" if second is None else str(int(max(second, 0)))
    return settings.cache_dir / "thumbnails" / source_id[:2] / f"{source_id}-{name}.jpg"


def thumbnail(source_id: str, path: str | os.PathLike[str], second: float | None, settings: Settings) -> Path:
    """The JPEG file of the video ``path`` (source ``source_id``) at ``second``, made once by
    :func:`frame_at` (at the whole second), or with ``second=None`` its :func:`poster`; then
    read from the cache."""
    target = thumbnail_path(source_id, second, settings)
    if target.exists():
        return target
    make: Any = poster if second is None else frame_at
    at = () if second is None else (float(int(max(second, 0))),)
    args = (str(path), *at, THUMBNAIL_WIDTH, settings.max_video_pixels)
    if settings.extract_memory_mb:  # decoded where a hostile file cannot take this process down
        from pipelines.isolate import run_isolated

        data = run_isolated(
            make, *args, memory_mb=settings.extract_memory_mb, what="video", crashed=DamagedDocument,
            timeout_s=min(settings.timeout_extract_s, 60.0),
        )  # fmt: skip
    else:
        data = make(*args)
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


def _key_frames(
    container: InputContainer, path: str | os.PathLike[str], max_pixels: int | None
) -> VideoStream:
    """The video stream, set to decode key frames only, once its picture is known to be within
    ``max_pixels`` (from the header, before anything is decoded)."""
    stream = _video_stream(container, path)
    pixels = stream.codec_context.width * stream.codec_context.height
    if max_pixels is not None and pixels > max_pixels:
        raise TooLarge(
            f"The video's picture has {pixels:,} pixels, over the {max_pixels:,} limit",
            path=str(path),
            hint="Raise INLET_MAX_VIDEO_PIXELS if the video is genuine.",
        )
    stream.codec_context.skip_frame = "NONKEY"
    return stream


def _video_stream(container: InputContainer, path: str | os.PathLike[str]) -> VideoStream:
    """The first real video stream (not a cover picture attached to an audio file)."""
    import av

    for stream in container.streams.video:
        if not (stream.disposition & av.stream.Disposition.attached_pic):
            return stream
    raise NoVideoTrack("The file holds no video picture", path=str(path))
