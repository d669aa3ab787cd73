import os
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import DamagedDocument, EmptyInput, NoAudioTrack, TooLarge, TooLong, UnsupportedFormat
from pipelines.sources import check_sound, discover, hash_file, inspect

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


def test_video_without_audio_track_is_a_video_without_sound(shared: Path) -> None:
    source = inspect(shared / "audio/video/moviepy_example.mp4", get_settings())
    assert source.kind == "video" and source.audio_codec is None
    assert (source.width, source.height, source.video_codec) == (640, 480, "h264")
    with pytest.raises(NoAudioTrack) as info:  # nothing to transcribe: said before decoding
        check_sound(source.path)
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


WIDE_TEXT = "Tides rise twice a day.\n\nThe moon pulls the oceans; café crème, naïve façade.\n" * 20


@pytest.mark.parametrize(
    ("encoding", "bom", "found"),
    [
        ("utf-16-le", b"", "utf-16-le"),
        ("utf-16-be", b"", "utf-16-be"),
        ("utf-32-le", b"\xff\xfe\x00\x00", "utf-32"),
        ("utf-32-be", b"\x00\x00\xfe\xff", "utf-32"),
        ("utf-16-le", b"\xff\xfe", "utf-16"),
    ],
)
def test_utf16_without_a_mark_and_utf32_are_read_as_text(
    tmp_path: Path, encoding: str, bom: bytes, found: str
) -> None:
    from pipelines.extract import extract

    path = tmp_path / "notes.txt"
    path.write_bytes(bom + WIDE_TEXT.encode(encoding))
    settings = get_settings()
    source = inspect(path, settings)
    assert (source.kind, source.encoding) == ("text", found)
    extraction = extract(source, settings)
    assert extraction.segments[0].text == "Tides rise twice a day."
    assert extraction.segments[1].text.startswith("The moon pulls the oceans; café crème, naïve façade.")
    assert "\x00" not in "".join(s.text for s in extraction.segments)


def test_a_utf16_web_page_without_a_mark_is_a_web_page(tmp_path: Path) -> None:
    page = tmp_path / "page"
    page.write_bytes("<!DOCTYPE html><html><title>Tides</title><body><p>The moon pulls.</p></body></html>"
                     .encode("utf-16-le"))  # fmt: skip
    assert inspect(page, get_settings()).kind == "html"


def test_binary_with_nul_bytes_is_not_taken_for_utf16(tmp_path: Path, shared: Path) -> None:
    noise = tmp_path / "noise.txt"
    noise.write_bytes(bytes((i * 7919) % 256 for i in range(8192)))
    with pytest.raises(UnsupportedFormat):
        inspect(noise, get_settings())
    assert inspect(shared / "audio/lhotse_LJ002-0020.wav", get_settings()).kind == "audio"


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
    files, refused = discover([tmp_path, tmp_path / "two.md", tmp_path / "absent.pdf"])
    assert sorted(p.name for p in files) == ["one.txt", "two.md"]
    assert [(Path(e.path).name, e.code) for e in refused] == [("absent.pdf", "not_found")]


# --- links and special files: nothing is read from outside the folder, nothing blocks --------
@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    return secret


def test_a_link_out_of_the_folder_is_refused_not_followed(tmp_path: Path, outside: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "real.txt").write_text("inside")
    (folder / "passwd").symlink_to("/etc/passwd")
    (folder / "secret.txt").symlink_to(outside)
    (folder / "up").symlink_to(outside.parent, target_is_directory=True)
    (folder / "relative").symlink_to("../elsewhere/secret.txt")
    files, refused = discover([folder])
    assert files == [folder / "real.txt"]
    assert sorted((Path(e.path).name, e.code) for e in refused) == [
        ("passwd", "link_outside"), ("relative", "link_outside"), ("secret.txt", "link_outside"), ("up", "link_outside"),
    ]  # fmt: skip
    error = refused[0]
    assert error.stage == "validate" and not error.retryable and "not followed" in error.hint.lower()
    assert "root:x" not in str(error) and str(outside) not in error.message


def test_links_inside_the_folder_are_followed_once_without_looping(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    (folder / "alias.txt").symlink_to("b.txt")  # the same file under a second name
    (folder / "sub" / "loop").symlink_to("..", target_is_directory=True)  # an ancestor
    (folder / "again").symlink_to(folder / "sub", target_is_directory=True)
    (folder / "self").symlink_to("self")  # a link to itself
    files, refused = discover([folder])
    assert sorted(files) == [folder / "b.txt", folder / "sub" / "a.txt"]
    assert [(Path(e.path).name, e.code) for e in refused] == [("self", "not_found")]


def test_a_link_to_a_hidden_file_inside_is_followed(tmp_path: Path) -> None:
    (tmp_path / ".drafts").mkdir()
    (tmp_path / ".drafts" / "plan.md").write_text("plan")
    (tmp_path / "plan.md").symlink_to(".drafts/plan.md")
    assert discover([tmp_path]) == ([tmp_path / ".drafts" / "plan.md"], [])


def test_a_link_given_explicitly_is_followed_unless_fenced(tmp_path: Path, outside: Path) -> None:
    named = tmp_path / "inbox" / "named.txt"
    named.parent.mkdir()
    named.symlink_to(outside)
    assert discover([named]) == ([outside], [])
    files, refused = discover([named], within=named.parent)
    assert files == [] and [(e.path, e.code) for e in refused] == [(str(named), "link_outside")]
    assert discover([named.parent / "absent"], within=named.parent)[1][0].code == "not_found"


def test_a_folder_given_through_a_link_is_walked_at_its_real_place(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.txt").write_text("a")
    (real / "b.txt").symlink_to(real / "a.txt")  # absolute, through the real path
    (tmp_path / "via").symlink_to(real, target_is_directory=True)
    assert discover([tmp_path / "via"]) == ([real / "a.txt"], [])


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    import socket

    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "zero.bin").symlink_to("/dev/null")  # outside, refused before looking at it
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "s.sock"))
    (tmp_path / "ok.txt").write_text("ok")
    try:
        files, refused = discover([tmp_path, tmp_path / "pipe.txt", "/dev/zero"])
    finally:
        sock.close()
    assert files == [tmp_path / "ok.txt"]
    found = [(Path(e.path).name, e.code, e.message) for e in refused]
    assert found == [
        ("pipe.txt", "special_file", "Skipped without opening it: a named pipe (FIFO)"),
        ("s.sock", "special_file", "Skipped without opening it: a socket"),
        ("zero.bin", "link_outside", found[2][2]),
        ("pipe.txt", "special_file", "Skipped without opening it: a named pipe (FIFO)"),
        ("zero", "special_file", "Skipped without opening it: a character device"),
    ]
    assert all(e.hint for e in refused)


def test_odd_names_are_found_as_they_are(tmp_path: Path) -> None:
    names = ["new\nline.txt", "bell\x07\x1b[31m.txt", "\u202etxt.exe", "x" * 251 + ".txt", "caf\udce9.txt"]
    for name in names:
        (tmp_path / name).write_text("text")
    files, refused = discover([tmp_path])
    assert sorted(p.name for p in files) == sorted(names) and refused == []


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
