"""The error taxonomy and the table that classifies foreign exceptions, on real library errors."""

from __future__ import annotations

import errno
import importlib
import inspect
import mmap
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines import errors
from pipelines.errors import InletError, classify


def _raised(action: Callable[[], object]) -> BaseException:
    """The exception ``action`` really raises (the test fails if it raises none)."""
    with pytest.raises(BaseException) as caught:  # noqa: PT011 - whatever the library raises
        action()
    return caught.value


# --- the classes --------------------------------------------------------------------------
def _tree_in_docstring() -> list[tuple[str, str | None]]:
    """(class, parent) pairs as drawn in the module docstring, in drawing order."""
    drawn: list[tuple[str, str | None]] = []
    parents: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^ {4}((?:[│ ] {3})*)(?:[├└]── )?([A-Z]\w+)\s", line + " ")
        if not found or (not found.group(1) and "──" not in line and found.group(2) != "InletError"):
            continue
        depth = len(found.group(1)) // 4 + (1 if "──" in line else 0)
        parents[depth:] = [found.group(2)]
        drawn.append((found.group(2), parents[depth - 1] if depth else None))
    return drawn


def _defined_classes() -> list[type[InletError]]:
    return [
        c
        for _, c in inspect.getmembers(errors, inspect.isclass)
        if issubclass(c, InletError) and c.__module__ == errors.__name__
    ]


def test_the_tree_in_the_docstring_is_the_class_tree() -> None:
    drawn = _tree_in_docstring()
    actual = {
        c.__name__: (c.__bases__[0].__name__ if c is not InletError else None) for c in _defined_classes()
    }
    assert dict(drawn) == actual
    assert [name for name, _ in drawn if not getattr(errors, name).abstract] == [
        c.__name__ for c in errors.ALL_CLASSES
    ]


def test_all_classes_holds_every_raisable_class_once_with_its_own_code() -> None:
    concrete = {c for c in _defined_classes() if not c.abstract}
    assert set(errors.ALL_CLASSES) == concrete and len(errors.ALL_CLASSES) == len(concrete) >= 20
    codes = [c.code for c in errors.ALL_CLASSES]
    assert len(set(codes)) == len(codes)
    for cls in errors.ALL_CLASSES:
        assert cls.hint and cls.__doc__, cls
        assert re.fullmatch(r"[a-z_]+", cls.code)
    assert not any(c.abstract for c in errors.ALL_CLASSES)
    assert {errors.InputError, errors.ResourceError, errors.ModelError, errors.StorageError}.isdisjoint(
        errors.ALL_CLASSES
    )


def test_a_second_class_with_a_taken_code_is_refused() -> None:
    with pytest.raises(TypeError, match="reuses the code 'not_found' of NotFound"):

        class AlsoNotFound(errors.InputError):
            code = "not_found"

    assert [c.code for c in errors.ALL_CLASSES].count("not_found") == 1


# --- the table: every row on a real exception --------------------------------------------
def test_every_named_row_is_a_real_exception_type_of_its_library() -> None:
    named = [row for row in errors.FOREIGN if isinstance(row.kind, str)]
    assert {row.kind.split(".")[0] for row in named} == {"torch", "onnxruntime", "pypdf", "av", "polars"}
    for row in named:
        importlib.import_module(row.kind.rpartition(".")[0])
        kind = row.resolve()
        assert kind is not None and issubclass(kind, BaseException), row.kind


def test_classifying_imports_no_library() -> None:
    """A library that is not loaded cannot have raised anything, so its rows are skipped
    without importing it (the heavy ones take seconds and hundreds of MB)."""
    code = textwrap.dedent("""
        import sys
        from pipelines.errors import classify
        codes = [classify(KeyError("x")).code, classify(OSError(28, "full")).code]
        heavy = ("torch", "onnxruntime", "lancedb", "av", "pypdf", "ctranslate2")
        print(codes, sorted(m for m in heavy if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['internal', 'disk_full'] []"


def _write_to_dev_full() -> None:
    with open("/dev/full", "w") as fh:
        fh.write("x")
        fh.flush()


def _refused_connection() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    socket.create_connection(("127.0.0.1", port), timeout=5)


def _numpy_too_big() -> None:
    import numpy as np

    np.empty(2**50, dtype=np.uint8)


def _torch_cpu_too_big() -> None:
    import torch

    torch.empty(2**50, dtype=torch.uint8)


def _torch_device_out_of_memory() -> None:
    import torch

    # What torch raises when a CUDA/MPS allocation fails; there is no such device here.
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def _onnx_model(path: Path) -> Callable[[], object]:
    def load() -> object:
        import onnxruntime

        return onnxruntime.InferenceSession(str(path))

    return load


CASES = [
    # (what raises, stage, class it must become)
    pytest.param(_numpy_too_big, "embed", errors.OutOfMemory, id="MemoryError"),
    pytest.param(lambda: mmap.mmap(-1, 2**50), "embed", errors.OutOfMemory, id="errno ENOMEM"),
    pytest.param(_torch_cpu_too_big, "embed", errors.OutOfMemory, id="torch CPU allocator"),
    pytest.param(_torch_device_out_of_memory, "embed", errors.OutOfMemory, id="torch.OutOfMemoryError"),
    pytest.param(_write_to_dev_full, "index", errors.DiskFull, id="errno ENOSPC"),
    pytest.param(
        lambda: _raise(OSError(errno.EDQUOT, "Disk quota exceeded")),
        "index",
        errors.DiskFull,
        id="errno EDQUOT",
    ),  # fmt: skip
    pytest.param(lambda: _raise(TimeoutError()), "extract", errors.StageTimeout, id="TimeoutError"),
    pytest.param(
        lambda: open("/nonexistent/a.pdf", "rb"), "validate", errors.NotFound, id="FileNotFoundError"
    ),
    pytest.param(
        lambda: open("/nonexistent/a.pdf", "rb"),
        "index",
        errors.InternalError,
        id="FileNotFoundError outside input stages",
    ),  # fmt: skip
    pytest.param(
        lambda: _raise(PermissionError(13, "denied", "/x.pdf")),
        "validate",
        errors.NotFound,
        id="PermissionError on input",
    ),  # fmt: skip
    pytest.param(
        lambda: _raise(PermissionError(13, "denied")),
        "index",
        errors.StoreUnavailable,
        id="PermissionError on the store",
    ),  # fmt: skip
    pytest.param(_refused_connection, "index", errors.StoreUnavailable, id="ConnectionRefusedError"),
    pytest.param(
        lambda: b"\xff\xfe\xfa".decode("utf-8"), "extract", errors.UnsupportedFormat, id="UnicodeDecodeError"
    ),  # fmt: skip
    pytest.param(lambda: _raise(KeyError("chunk_id")), "chunk", errors.InternalError, id="unknown"),
]


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize(("action", "stage", "expected"), CASES)
def test_each_row_maps_a_real_exception(
    action: Callable[[], object], stage: str, expected: type[InletError]
) -> None:
    error = classify(_raised(action), path="a.pdf", stage=stage)
    assert type(error) is expected, error
    assert (error.path, error.stage) == ("a.pdf", stage)


def test_pypdf_errors_map_to_encrypted_or_damaged(shared: Path) -> None:
    from pypdf import PdfReader

    pdfs = shared / "pdfs"
    encrypted = pdfs / "pypdf/encryption/r4-user-password.pdf"
    not_decrypted = _raised(lambda: PdfReader(encrypted).pages[0].extract_text())
    wrong_password = _raised(lambda: PdfReader(encrypted, password="wrong"))
    no_startxref = _raised(lambda: PdfReader(pdfs / "pdfminer/issue-1113-evil-xobjects.pdf").pages[0])
    empty = _raised(lambda: PdfReader(pdfs / "pdfplumber/empty.pdf"))
    assert [type(e).__name__ for e in (not_decrypted, wrong_password, no_startxref, empty)] == [
        "FileNotDecryptedError", "WrongPasswordError", "PdfReadError", "EmptyFileError",
    ]  # fmt: skip
    assert type(classify(not_decrypted, stage="extract")) is errors.EncryptedPdf
    assert type(classify(wrong_password, stage="extract")) is errors.EncryptedPdf
    damaged = classify(no_startxref, stage="extract")
    assert type(damaged) is errors.DamagedPdf and "startxref not found" in damaged.message
    assert type(classify(empty, stage="extract")) is errors.DamagedPdf


def test_pyav_errors_map_to_undecodable_or_missing(tmp_path: Path) -> None:
    import av

    noise = tmp_path / "noise.mp3"
    noise.write_bytes(b"\x00\x01garbage" * 100)
    invalid = _raised(lambda: av.open(str(noise)))
    assert type(invalid).__module__ == "av.error"
    assert type(classify(invalid, stage="transcribe")) is errors.UndecodableAudio
    # PyAV's missing file is both an FFmpegError and a FileNotFoundError: the file's absence wins.
    missing = _raised(lambda: av.open(str(tmp_path / "gone.mp4")))
    assert isinstance(missing, av.FFmpegError) and isinstance(missing, FileNotFoundError)
    assert type(classify(missing, stage="validate")) is errors.NotFound


def test_onnxruntime_failures_are_model_failures_only_where_a_model_runs(tmp_path: Path) -> None:
    not_a_model = tmp_path / "model.onnx"
    not_a_model.write_text("not a protobuf")
    for exc in (_raised(_onnx_model(not_a_model)), _raised(_onnx_model(tmp_path / "missing.onnx"))):
        assert type(exc).__module__ == "onnxruntime.capi.onnxruntime_pybind11_state"
        assert type(classify(exc, stage="embed")) is errors.ModelLoadFailed
        assert type(classify(exc, stage="chunk")) is errors.InternalError


def test_a_video_without_sound_is_classified_by_the_stage_not_guessed(shared: Path) -> None:
    """faster-whisper's decoder fails with a bare IndexError on a video without an audio
    stream; ``check_sound`` runs first and raises ``NoAudioTrack``, so nothing guesses."""
    from faster_whisper.audio import decode_audio

    from pipelines.sources import check_sound

    video = shared / "audio/video/moviepy_example.mp4"
    bare = _raised(lambda: decode_audio(str(video)))
    assert type(bare) is IndexError
    assert type(classify(bare, stage="transcribe")) is errors.InternalError
    with pytest.raises(errors.NoAudioTrack):
        check_sound(video)


# --- the text rows: each on the real library error ----------------------------------------
def test_two_lancedb_writers_in_conflict_become_a_retryable_write_conflict(tmp_path: Path) -> None:
    import lancedb
    import pyarrow as pa

    uri = str(tmp_path / "lancedb")
    lancedb.connect(uri).create_table("chunks", pa.table({"chunk_id": ["a", "b"], "n": [1, 2]}))
    first = lancedb.connect(uri).open_table("chunks")
    second = lancedb.connect(uri).open_table("chunks")
    assert first.count_rows() == second.count_rows() == 2  # both at the same version
    second.add(pa.table({"chunk_id": ["c"], "n": [3]}), mode="overwrite")
    conflict = _raised(
        lambda: (
            first.merge_insert("chunk_id")
            .when_matched_update_all()
            .when_not_matched_insert_all()
            .execute(pa.table({"chunk_id": ["a"], "n": [9]}))
        )
    )
    assert type(conflict) is RuntimeError  # nothing but the text tells it apart
    error = classify(conflict, stage="index")
    assert type(error) is errors.WriteConflict and error.retryable
    assert error.detail is not None and error.detail.startswith(
        "RuntimeError: lance error: Incompatible transaction"
    )


def test_lancedb_conflict_texts_are_lancedb_s_own_messages() -> None:
    """The conflict rows name the messages of Lance's other commit errors (retries run out,
    too much contention), which cannot be provoked on demand: they must be in the library."""
    import lancedb

    binary = next(Path(lancedb.__file__).parent.glob("_lancedb*.so"))
    with open(binary, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        for message in (b"Commit conflict for version", b"Retryable commit conflict for version",
                        b"Too many concurrent writ", b"Incompatible transaction"):  # fmt: skip
            assert data.find(message) >= 0, message
            assert type(classify(RuntimeError(message.decode()), stage="index")) is errors.WriteConflict


@pytest.mark.skipif(sys.platform != "linux", reason="limits the address space with RLIMIT_AS")
def test_onnxruntime_out_of_memory_becomes_out_of_memory_not_a_model_failure() -> None:
    """onnxruntime reports a failed allocation with its generic FAIL status: provoked in a
    child process whose address space is capped just above what it already uses."""
    code = textwrap.dedent("""
        import os, resource
        import numpy as np, onnxruntime
        import faster_whisper
        from pipelines.errors import classify
        vad = os.path.join(os.path.dirname(faster_whisper.__file__), "assets", "silero_vad_v6.onnx")
        session = onnxruntime.InferenceSession(vad)
        frames = np.zeros((50_000, 576), dtype=np.float32)
        state = np.zeros((1, 1, 128), dtype=np.float32)
        used = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        resource.setrlimit(resource.RLIMIT_AS, (used + 64 * 2**20, resource.RLIM_INFINITY))
        try:
            session.run(None, {"input": frames, "h": state, "c": state})
        except Exception as exc:
            print(type(exc).__name__, classify(exc, stage="transcribe").code)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "Failed to allocate memory" in run.stderr, run.stderr[-2000:]
    assert run.stdout.strip() == "Fail out_of_memory", run.stderr[-2000:]


# --- detail and traceback -----------------------------------------------------------------
def _deep_failure() -> None:
    raise RuntimeError("first line of the cause\nsecond line\nthird line")


def test_detail_is_one_line_and_traceback_the_whole_story() -> None:
    internal = classify(_raised(_deep_failure), stage="chunk")
    assert type(internal) is errors.InternalError and internal.code == "internal"
    assert internal.detail == "RuntimeError: first line of the cause"
    assert internal.message == "Unexpected error: RuntimeError: first line of the cause"
    assert internal.traceback is not None
    assert internal.traceback.startswith("Traceback (most recent call last)")
    assert "in _deep_failure" in internal.traceback and "third line" in internal.traceback
    as_data = internal.to_dict()
    assert (as_data["detail"], as_data["traceback"]) == (internal.detail, internal.traceback)

    mapped = classify(_raised(_write_to_dev_full), stage="index")
    assert type(mapped) is errors.DiskFull
    assert mapped.detail == "OSError: [Errno 28] No space left on device"
    assert mapped.traceback is not None and "in _write_to_dev_full" in mapped.traceback


def test_a_long_message_is_cut_in_detail_but_kept_in_the_traceback() -> None:
    internal = classify(_raised(lambda: _raise(ValueError("x" * 1000))))
    assert internal.detail is not None and len(internal.detail) == 300 and internal.detail.endswith("…")
    assert internal.traceback is not None and "x" * 1000 in internal.traceback


def test_an_inlet_error_keeps_its_class_and_gains_context_detail_and_traceback(shared: Path) -> None:
    from pipelines.config import get_settings
    from pipelines.extract.pdf import extract_pdf
    from pipelines.sources import inspect as inspect_source

    path = shared / "pdfs/pdfminer/issue-1113-evil-xobjects.pdf"
    with pytest.raises(errors.DamagedPdf) as caught:
        extract_pdf(inspect_source(path, get_settings()), get_settings())
    raised = caught.value
    error = classify(raised, source_id="s1", stage="extract", attempt=2)
    assert error is raised and (error.source_id, error.stage, error.attempt) == ("s1", "extract", 2)
    assert error.detail == "PdfReadError: startxref not found"
    assert (
        error.traceback is not None and "PdfReadError" in error.traceback and "DamagedPdf" in error.traceback
    )
    # Never raised, nothing to trace: context only.
    plain = classify(errors.TooLarge("too big"), path="a.pdf")
    assert (plain.path, plain.detail, plain.traceback) == ("a.pdf", None, None)


def test_unknown_errors_are_internal_with_the_traceback_kept() -> None:
    def fail() -> None:
        {}["missing"]  # noqa: B018 - the KeyError is the point

    internal = classify(_raised(fail), path="a.pdf", stage="chunk")
    assert type(internal) is errors.InternalError and not internal.retryable
    assert internal.detail == "KeyError: 'missing'"
    assert internal.traceback is not None and "in fail" in internal.traceback
    assert internal.to_dict()["path"] == "a.pdf"
    memory = classify(_raised(_numpy_too_big))
    assert memory.traceback is not None and "Traceback" in memory.traceback
