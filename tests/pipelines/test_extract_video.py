"""Video pictures: metadata from the header, a key frame's still at a second, kept on disk;
a video without sound described in one passage; a picture over the pixel limit refused.

Videos are made here: sentences spoken by espeak-ng, muxed with PyAV beside a picture whose
colour changes every second (a key frame each second), so a still shows which second it is of;
and a tiny silent MP4 of coloured frames (PyAV alone).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pipelines.config import get_settings
from pipelines.errors import NoAudioTrack, NoVideoTrack, TooLarge
from pipelines.extract import extract
from pipelines.extract.audio import transcribe
from pipelines.extract.video import (
    THUMBNAIL_WIDTH,
    forget_thumbnails,
    frame_at,
    poster,
    probe_video,
    thumbnail,
    thumbnail_path,
)
from pipelines.sources import inspect

WIDTH, HEIGHT, FPS = 640, 360, 5
SPOKEN = "The lighthouse keeper counted forty seven ships before the storm."
CLOSING = "That was the harbour report for this week."
LEAD_S, PAUSE_S = 6.0, 2.0

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def colour(second: int) -> tuple[int, int, int]:
    """The picture's colour during ``second``: far from that of the seconds around it."""
    return ((second * 70) % 256, (255 - second * 50) % 256, (second * 110 + 60) % 256)


def speak(text: str, path: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng: mono int16 samples at 22,050 Hz."""
    subprocess.run(["espeak-ng", "-v", "en", "-w", str(path), text], check=True, capture_output=True)
    with wave.open(str(path)) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def make_talking_video(path: Path, work: Path) -> float:
    """An MP4 (MPEG-4 picture, AAC sound): ``LEAD_S`` seconds of picture without speech, then
    :data:`SPOKEN`, a pause and :data:`CLOSING`; a key frame each second in :func:`colour` of that
    second. Returns the second ``SPOKEN`` starts."""
    import av

    spoken, closing = speak(SPOKEN, work / "spoken.wav"), speak(CLOSING, work / "closing.wav")
    rate = 22050
    lead, pause = np.zeros(int(LEAD_S * rate), dtype="<i2"), np.zeros(int(PAUSE_S * rate), dtype="<i2")
    sound = np.concatenate([lead, spoken, pause, closing, np.zeros(rate, dtype="<i2")])
    starts_at = lead.size / rate
    track = work / "track.wav"
    with wave.open(str(track), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(sound.tobytes())
    seconds = int(np.ceil(sound.size / rate))
    with av.open(str(track)) as src, av.open(str(path), "w") as dst:
        picture = dst.add_stream("mpeg4", rate=FPS)
        picture.width, picture.height, picture.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        picture.codec_context.gop_size = FPS  # a key frame every second
        voice = dst.add_stream("aac", rate=16000)
        for i in range(seconds * FPS):
            rgb = np.full((HEIGHT, WIDTH, 3), colour(i // FPS), np.uint8)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in picture.encode(frame):
                dst.mux(packet)
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in voice.encode(frame):
                dst.mux(packet)
        for stream in (picture, voice):
            for packet in stream.encode(None):
                dst.mux(packet)
    return starts_at


SILENT_SIZE, SILENT_FPS, SILENT_S = (160, 96), 5, 3


def make_silent_video(path: Path, size: tuple[int, int] = SILENT_SIZE, seconds: int = SILENT_S) -> Path:
    """A small MP4 with a picture and no sound track: ``seconds`` seconds at :data:`SILENT_FPS`,
    each second in :func:`colour` of that second (a key frame each second)."""
    width, height = size
    return write_silent(path, [np.full((height, width, 3), colour(s), np.uint8) for s in range(seconds)])


def write_silent(path: Path, seconds: list[np.ndarray]) -> Path:
    """An MP4 with no sound track: one RGB picture per second, shown for :data:`SILENT_FPS`
    frames from a key frame."""
    import av

    height, width = seconds[0].shape[:2]
    with av.open(str(path), "w") as dst:
        picture = dst.add_stream("mpeg4", rate=SILENT_FPS)
        picture.width, picture.height, picture.pix_fmt = width, height, "yuv420p"
        picture.codec_context.gop_size = SILENT_FPS
        for i in range(len(seconds) * SILENT_FPS):
            frame = av.VideoFrame.from_ndarray(seconds[i // SILENT_FPS], format="rgb24")
            frame.pts = i
            for packet in picture.encode(frame):
                dst.mux(packet)
        for packet in picture.encode(None):
            dst.mux(packet)
    return path


def centre_colour(jpeg: bytes) -> tuple[int, ...]:
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    return tuple(int(v) for v in np.asarray(image)[image.height // 2, image.width // 2])


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 24) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def talking_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    work = tmp_path_factory.mktemp("video")
    path = work / "harbour-report.mp4"
    return path, make_talking_video(path, work)


@needs_espeak
def test_a_videos_picture_is_described_when_it_is_identified(talking_video: tuple[Path, float]) -> None:
    path, _ = talking_video
    source = inspect(path, get_settings())
    assert source.kind == "video" and source.container is not None and "mp4" in source.container
    assert (source.width, source.height, source.video_codec, source.fps) == (WIDTH, HEIGHT, "mpeg4", FPS)
    assert probe_video(path).codec == "mpeg4"


@needs_espeak
def test_the_still_at_a_second_is_that_seconds_key_frame_scaled_down(
    talking_video: tuple[Path, float],
) -> None:
    path, starts_at = talking_video
    for second in (0, 3, int(starts_at), int(starts_at) + 1):
        jpeg = frame_at(path, second + 0.6)  # the key frame at or before it: the whole second's
        image = Image.open(io.BytesIO(jpeg))
        assert image.format == "JPEG" and image.size == (THUMBNAIL_WIDTH, THUMBNAIL_WIDTH * HEIGHT // WIDTH)
        assert close(centre_colour(jpeg), colour(second)), (second, centre_colour(jpeg), colour(second))


@needs_espeak
def test_stills_are_kept_by_source_and_second(talking_video: tuple[Path, float]) -> None:
    path, _ = talking_video
    settings = get_settings()
    made = thumbnail("ab" * 32, path, 3.7, settings)
    assert made == thumbnail_path("ab" * 32, 3, settings) and made.is_file()
    stamp = made.stat().st_mtime_ns
    assert thumbnail("ab" * 32, path, 3.2, settings) == made and made.stat().st_mtime_ns == stamp  # reused
    assert close(centre_colour(made.read_bytes()), colour(3))
    thumbnail("ab" * 32, path, 0, settings)
    assert forget_thumbnails("ab" * 32, settings) == 2 and not made.exists()


@needs_espeak
def test_a_picture_over_the_pixel_limit_is_refused_before_decoding(talking_video: tuple[Path, float]) -> None:
    path, _ = talking_video
    with pytest.raises(TooLarge, match="over the 1,000 limit"):
        frame_at(path, 1, max_pixels=1000)


def test_a_file_without_pictures_has_no_still(shared: Path) -> None:
    with pytest.raises(NoVideoTrack):
        frame_at(shared / "audio/fw_jfk.flac", 1)


def test_a_video_without_sound_is_described_with_a_warning_not_failed(tmp_path: Path) -> None:
    path = make_silent_video(tmp_path / "harbour_cam-north.mp4")
    settings = get_settings()
    source = inspect(path, settings)
    assert source.kind == "video" and source.audio_codec is None
    assert (source.width, source.height, source.video_codec, source.fps) == (
        *SILENT_SIZE,
        "mpeg4",
        SILENT_FPS,
    )
    assert source.duration_s == pytest.approx(SILENT_S, abs=0.3)
    with pytest.raises(NoAudioTrack):  # the transcriber alone still refuses it, before any model loads
        transcribe(source, settings)
    extraction = extract(source, settings)
    [segment] = extraction.segments
    text = segment.text
    assert "harbour_cam-north.mp4" in text and "harbour cam north" in text and "Video" in text
    assert "160 x 96 pixels" in text and "mpeg4 at 5 fps" in text and "00:03.0 long" in text
    assert "no audio track" in text and "No speech" in text
    assert (segment.start, segment.end) == (0.0, source.duration_s)
    assert [w.split(":")[0] for w in extraction.warnings] == ["no_audio_track"]
    assert close(centre_colour(frame_at(path, segment.start)), colour(0))  # its hit's still


def test_a_video_picture_over_the_pixel_limit_is_refused_when_identified(tmp_path: Path) -> None:
    path = make_silent_video(tmp_path / "wide.mp4", seconds=1)
    assert inspect(path, get_settings(max_video_pixels=160 * 96)).kind == "video"  # at the limit: kept
    with pytest.raises(TooLarge) as info:
        inspect(path, get_settings(max_video_pixels=160 * 96 - 1))
    assert "160 x 96 pixels" in info.value.message and "INLET_MAX_VIDEO_PIXELS" in (info.value.hint or "")
    assert not info.value.retryable


def make_fade_in_video(path: Path) -> Path:
    """Five seconds, a key frame each: black, dark grey (under the black level), a flat mid grey,
    then a scene (a checkerboard of 8-pixel squares), then black again."""
    width, height = 160, 96
    squares = ((np.indices((height, width)) // 8).sum(axis=0) % 2 * 255).astype(np.uint8)
    grey = [np.zeros((height, width), np.uint8), np.full((height, width), 12, np.uint8),
            np.full((height, width), 128, np.uint8), squares, np.zeros((height, width), np.uint8)]  # fmt: skip
    return write_silent(path, [np.repeat(g[:, :, None], 3, axis=2) for g in grey])


def test_a_videos_poster_is_its_most_detailed_key_frame_that_is_not_black(tmp_path: Path) -> None:
    video = make_fade_in_video(tmp_path / "fade-in.mp4")
    first = np.asarray(Image.open(io.BytesIO(frame_at(video, 0))).convert("L"), dtype=float)
    assert first.mean() < 10  # what a still of its first second shows: black
    chosen = np.asarray(Image.open(io.BytesIO(poster(video))).convert("L"), dtype=float)
    assert 80 < chosen.mean() < 180 and chosen.std() > 80  # the checkerboard, not a flat or black frame

    source = inspect(video, get_settings(home=tmp_path / "home"))
    settings = get_settings(home=tmp_path / "home", extract_memory_mb=0)
    kept = thumbnail(source.source_id, video, None, settings)
    assert kept == thumbnail_path(source.source_id, None, settings) and kept.name.endswith("-poster.jpg")
    assert kept.read_bytes() == poster(video)
    assert forget_thumbnails(source.source_id, settings) == 1


def test_a_video_of_flat_colours_still_has_a_poster(tmp_path: Path) -> None:
    video = make_silent_video(tmp_path / "night.mp4")
    assert Image.open(io.BytesIO(poster(video))).size[0] == 160
