from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import DamagedDocument, EmptyInput, NoAudioTrack, TooLarge, TooLong, UnsupportedFormat
from pipelines.sources import discover, hash_file, inspect

AUDIO = ["fw_jfk.flac", "pywhispercpp_jfk.wav", "fw_hotwords.mp3", "lhotse_common_voice_en_651325.mp3"]
VIDEO = [
    "video/lhotse_big_buck_bunny_small.mp4",
    "video/moviepy_big_buck_bunny_0_30.webm",
    "video/moviepy_no_duration.webm",
]


@pytest.mark.parametrize("name", AUDIO)
def test_audio_is_recognised_by_content(shared: Path, name: str, tmp_path: Path) -> None:
    # Renamed to .txt: the kind must come from the bytes, not the extension.
    copy = tmp_path / (Path(name).stem + ".txt")
    copy.write_bytes((shared / "audio" / name).read_bytes())
    source = inspect(copy, get_settings())
    assert source.kind == "audio"
    assert source.duration_s and source.duration_s > 1


@pytest.mark.parametrize("name", VIDEO)
def test_video_with_sound_is_video(shared: Path, name: str) -> None:
    assert inspect(shared / "audio" / name, get_settings()).kind == "video"


def test_m4a_audio_only_mp4_is_audio(shared: Path, tmp_path: Path) -> None:
    import av

    out = tmp_path / "speech.m4a"
    with (
        av.open(str(shared / "audio" / "pywhispercpp_jfk.wav")) as src,
        av.open(str(out), "w", format="mp4") as dst,
    ):
        stream = dst.add_stream("aac", rate=16000)
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    source = inspect(out, get_settings())
    assert source.kind == "audio"
    assert source.duration_s == pytest.approx(11.0, abs=0.5)


def test_video_without_audio_track_is_a_clear_error(shared: Path) -> None:
    with pytest.raises(NoAudioTrack) as info:
        inspect(shared / "audio/video/moviepy_example.mp4", get_settings())
    assert "no audio track" in str(info.value)
    assert not info.value.retryable


def test_pdf_and_text(shared: Path) -> None:
    settings = get_settings()
    assert inspect(shared / "pdfs/pypdf/crazyones.pdf", settings).kind == "pdf"
    assert inspect(shared / "pdfs/pypdf/crazyones.txt", settings).kind == "text"


def test_latin1_text_is_text(tmp_path: Path) -> None:
    path = tmp_path / "notes"
    path.write_bytes("Café crème, naïve façade, résumé déjà vu.\n".encode("latin-1") * 20)
    assert inspect(path, get_settings()).kind == "text"


def test_binary_formats_are_unsupported(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "report.pdf"  # a zip named .pdf
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "hello")
    with pytest.raises(UnsupportedFormat) as info:
        inspect(archive, get_settings())
    assert info.value.message.startswith("Unsupported file type (")
    assert "PDF, text" in info.value.hint
    png = tmp_path / "image.png"  # images are read now (by OCR): a PNG signature over nothing is damaged
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    with pytest.raises(DamagedDocument):
        inspect(png, get_settings())


def test_empty_file(shared: Path) -> None:
    with pytest.raises(EmptyInput):
        inspect(shared / "pdfs/pdfplumber/empty.pdf", get_settings())


def test_size_and_duration_limits(shared: Path) -> None:
    with pytest.raises(TooLarge) as info:
        inspect(shared / "pdfs/pypdf/crazyones.pdf", get_settings(max_bytes_pdf=1000))
    assert "limit" in info.value.message
    with pytest.raises(TooLong):
        inspect(shared / "audio/fw_jfk.flac", get_settings(max_audio_seconds=5))


def test_discover_walks_folders_skips_hidden_and_reports_missing(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").write_text("one")
    (tmp_path / "a" / ".hidden.txt").write_text("no")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.txt").write_text("no")
    (tmp_path / "two.md").write_text("two")
    files, missing = discover([tmp_path, tmp_path / "two.md", tmp_path / "absent.pdf"])
    assert sorted(p.name for p in files) == ["one.txt", "two.md"]
    assert [p.name for p in missing] == ["absent.pdf"]


def test_source_id_is_the_hash_of_the_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.md"
    a.write_text("same bytes")
    b.write_text("same bytes")
    settings = get_settings()
    assert inspect(a, settings).source_id == inspect(b, settings).source_id == hash_file(a)


@pytest.mark.parametrize(
    "text",
    [
        "Candidate genes for asthma were studied in 2,000 children.",  # "idat" at byte 4: QuickTime
        "The widespread use of antibiotics in farming.",  # "wide" at byte 4: QuickTime
        "From the first trial onwards, the effect held.",  # "From " at byte 0: a mailbox
    ],
)
def test_prose_that_looks_like_a_signature_is_text(tmp_path: Path, text: str) -> None:
    path = tmp_path / "abstract.txt"
    path.write_text(text + "\n\n" + "More ordinary prose follows here. " * 20)
    assert inspect(path, get_settings()).kind == "text"
