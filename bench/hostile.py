"""Hostile files: a generator of the files a team meets in the wild, and a campaign that ingests them.

``write(folder)`` makes every kind in ``KINDS`` (104: lying or bombed PDFs, empty and
one-byte files of every kind, cut or lying media, odd text encodings, HTML bombs, image bombs,
odd names, links out of the folder, FIFOs, sockets and devices) into ``folder``; nothing is
checked in. Some kinds are cut from the real files in ``../shared/data`` beside the checkout.
A kind marked ``cheap`` is quick to make and to ingest: the test suite runs those
(``tests/bench/test_hostile.py``); the others (bombs of a gigabyte, a 50 MB line) run here.

``campaign()`` then ingests the folder, plus a few good files, into a throwaway home through the
real path (``inlet.submit`` to the local worker, as a user would) and prints, per file, its
verdict: ``ingested`` (or ``unchanged``: the same bytes as another file), or the error class and
its hint. It also prints the wall time, the worker's peak memory (``VmHWM``) and whether it is
still alive, and checks that the good files are searchable. A verdict is **bad** when a file has
no outcome, an ``internal`` (unclassified) error, an error without a hint, or a verdict its kind
does not allow (``expect``).

Run from the project folder:

    .venv/bin/python bench/hostile.py                # every kind; a few minutes on 2 cores
    .venv/bin/python bench/hostile.py --cheap        # the subset the tests use
    .venv/bin/python bench/hostile.py --keep DIR     # write the files into DIR and keep them
    .venv/bin/python bench/hostile.py --json         # last line: one JSON object
    .venv/bin/python bench/hostile.py --cost         # what bounded parsing costs per file

``--cost`` times ``pipelines.extract.extract`` on a one-page PDF and a small text file, with
the PDF parsed in its bounded child process (``INLET_EXTRACT_MEMORY_MB``) and in the worker
itself (``0``); medians of ``--repeat`` runs after one warm-up (which starts the forkserver).

Exit status 1 when any verdict is bad, a good file is not searchable or the worker died.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import shutil
import socket
import stat
import struct
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
OUTSIDE_WORDS = "Quetzalcoatl mortgage vouchers forty seven"
"""Words only the files outside the ingested folder hold: never searchable afterwards."""

Make = Callable[[Path, "Context"], None]


@dataclass(frozen=True)
class Context:
    shared: Path
    outside: Path
    """A folder beside the ingested one, holding a file with ``OUTSIDE_WORDS``."""


@dataclass(frozen=True)
class Hostile:
    """One kind of hostile file: how to make it and which verdicts are right for it."""

    name: str
    """File name in the folder (may hold newlines, control characters, undecodable bytes)."""
    make: Make
    cheap: bool = True
    expect: frozenset[str] | None = None
    """Verdicts that are right (``ingested``, ``unchanged``, or error classes); ``None``: any
    verdict with a class and a hint."""
    entry: bool = True
    """False for a link that stays inside the folder: it has no outcome of its own (its target
    is ingested once)."""


def _expect(*verdicts: str) -> frozenset[str]:
    return frozenset(verdicts)


# --- PDF builders ------------------------------------------------------------------------------
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _stream(data: bytes, extra: bytes = b"", *, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data, 9)
        extra += b" /Filter /FlateDecode"
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _pdf(objects: list[bytes], *, trailer_extra: bytes = b"", xref: bool = True) -> bytes:
    """A PDF of ``objects`` (object 1 is the catalog) with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    if not xref:
        return bytes(out)
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer_extra,
        start,
    )
    return bytes(out)


def _text_page(words: str = "Hostile files test page") -> list[bytes]:
    content = b"BT /F1 18 Tf 72 720 Td (%s) Tj ET" % words.encode("latin-1")
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        _stream(content),
        _FONT,
    ]


def _write_pdf(objects: list[bytes], **kw: Any) -> Make:
    return lambda path, ctx: path.write_bytes(_pdf(objects, **kw))


def _replace(objects: list[bytes], index: int, body: bytes) -> list[bytes]:
    changed = list(objects)
    changed[index] = body
    return changed


def _huge_page_count(path: Path, ctx: Context) -> None:
    objects = _replace(_text_page(), 1, b"<< /Type /Pages /Kids [3 0 R] /Count 2000000000 >>")
    path.write_bytes(_pdf(objects))


def _nested(depth: int, open_: bytes, close: bytes) -> bytes:
    return open_ * depth + close * depth


def _nested_arrays(path: Path, ctx: Context) -> None:
    deep = _nested(50_000, b"[", b"]")
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Deep %s /Contents 4 0 R >>" % deep
    path.write_bytes(_pdf(_replace(_text_page(), 2, page)))


def _nested_dicts(path: Path, ctx: Context) -> None:
    deep = _nested(50_000, b"<< /A ", b">> ")
    objects = _text_page()
    objects[2] = objects[2].replace(b"/Resources <<", b"/Resources << /Deep " + deep)
    path.write_bytes(_pdf(objects))


def _cyclic_pages(path: Path, ctx: Context) -> None:
    objects = _replace(_text_page(), 1, b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>")
    path.write_bytes(_pdf(objects))


def _cyclic_xobject(path: Path, ctx: Context) -> None:
    """A form XObject that draws itself: extraction that follows forms must not recurse for ever."""
    objects = _text_page()
    objects[2] = (
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /X 6 0 R >> >> /Contents 4 0 R >>"
    )
    objects[3] = _stream(b"BT /F1 12 Tf 72 700 Td (Outer) Tj ET /X Do")
    objects.append(
        _stream(
            b"BT /F1 12 Tf 72 680 Td (Inner) Tj ET /X Do",
            b" /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /X 6 0 R >> >>",
        )
    )
    path.write_bytes(_pdf(objects))


def _zlib_bomb(size: int) -> Make:
    def make(path: Path, ctx: Context) -> None:
        packer = zlib.compressobj(9)
        block = b"BT /F1 12 Tf 72 700 Td (bomb) Tj ET\n" + b" " * (1 << 20)
        packed = b"".join(packer.compress(block) for _ in range(size >> 20)) + packer.flush()
        objects = _text_page()
        objects[3] = (
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"
        )
        path.write_bytes(_pdf(objects))

    return make


def _broken_xref(path: Path, ctx: Context) -> None:
    data = _pdf(_text_page())
    head, _, tail = data.partition(b"xref\n")
    lines = tail.split(b"\n")
    lines[2:7] = [b"%010d 00000 n " % (123456 + i) for i in range(5)]
    path.write_bytes(head + b"xref\n" + b"\n".join(lines))


def _xref_prev_loop(path: Path, ctx: Context) -> None:
    data = _pdf(_text_page())
    start = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n")[0])
    path.write_bytes(data.replace(b"/Root 1 0 R", b"/Root 1 0 R /Prev %d" % start))


def _many_text_ops(path: Path, ctx: Context) -> None:
    ops = b"BT /F1 1 Tf " + b"(x) Tj " * 400_000 + b"ET"
    objects = _text_page()
    objects[3] = _stream(ops, compress=True)
    path.write_bytes(_pdf(objects))


def _unknown_encryption(path: Path, ctx: Context) -> None:
    objects = [*_text_page(), b"<< /Filter /Bogus /V 9 /R 9 /O (x) /U (y) /P -4 >>"]
    path.write_bytes(_pdf(objects, trailer_extra=b" /Encrypt 6 0 R /ID [(a) (a)]"))


def _garbage_pdf(path: Path, ctx: Context) -> None:
    path.write_bytes(b"%PDF-1.4\n" + random.Random(1).randbytes(64 * 1024))


def _cut(rel: str, fraction: float = 0.0, keep: int = 0) -> Make:
    def make(path: Path, ctx: Context) -> None:
        data = (ctx.shared / rel).read_bytes()
        path.write_bytes(data[: keep or int(len(data) * fraction)])

    return make


def _copy(rel: str) -> Make:
    return lambda path, ctx: shutil.copyfile(ctx.shared / rel, path)


def _bytes(data: bytes) -> Make:
    return lambda path, ctx: path.write_bytes(data)


def _random(n: int, seed: int) -> Make:
    return lambda path, ctx: path.write_bytes(random.Random(seed).randbytes(n))


# --- audio ---------------------------------------------------------------------------------------
def _wav_header(data_bytes: int, rate: int = 16_000, riff_size: int | None = None) -> bytes:
    riff = riff_size if riff_size is not None else min(36 + data_bytes, 0xFFFFFFFF)
    return (
        b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data" + struct.pack("<I", min(data_bytes, 0xFFFFFFFF))
    )  # fmt: skip


def _wav_claims(seconds: float) -> Make:
    """A WAV whose header claims ``seconds`` of sound; it holds one second of quiet noise."""

    def make(path: Path, ctx: Context) -> None:
        noise = bytes(random.Random(2).choice(range(0, 8)) for _ in range(32_000))
        path.write_bytes(_wav_header(int(seconds * 32_000)) + noise)

    return make


def _wav_bad_riff_size(path: Path, ctx: Context) -> None:
    data = (ctx.shared / "audio/pywhispercpp_jfk.wav").read_bytes()
    path.write_bytes(data[:4] + b"\xff\xff\xff\xff" + data[8:])


def _id3_only(path: Path, ctx: Context) -> None:
    # ID3v2 header claiming a 256 MB tag (syncsafe 0x7f7f7f7f), then nothing
    path.write_bytes(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\x00" * 100)


def _ftyp_only(path: Path, ctx: Context) -> None:
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom")


def _mp4_huge_box(path: Path, ctx: Context) -> None:
    # ftyp, then a moov box that claims 4 GB
    path.write_bytes(
        b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\xff\xff\xff\xffmoov" + b"\x00" * 64
    )


# --- text ---------------------------------------------------------------------------------------
_PROSE = (
    "Hostile inputs arrive from shared drives and mail attachments. "
    "The archivist sorted the letters by year and sender.\n\n"
)


def _text(data: str, encoding: str = "utf-8") -> Make:
    return lambda path, ctx: path.write_bytes(data.encode(encoding))


def _mixed_encodings(path: Path, ctx: Context) -> None:
    path.write_bytes(
        "Première partie en UTF-8: café, naïve.\n\n".encode()
        + "Deuxième partie en Latin-1: façade, déjà vu.\n\n".encode("latin-1")
        + "Third part in cp1252 with “smart quotes” and a € sign.\n".encode("cp1252")
    )


def _one_line(size: int, word: str = "lorem ") -> Make:
    def make(path: Path, ctx: Context) -> None:
        with open(path, "wb") as fh:
            block = (word * ((1 << 20) // len(word) + 1)).encode()[: 1 << 20]
            for _ in range(size >> 20):
                fh.write(block)

    return make


def _nul_sprinkled(path: Path, ctx: Context) -> None:
    path.write_bytes(_PROSE.encode().replace(b" ", b"\x00", 5) * 20)


def _escapes(path: Path, ctx: Context) -> None:
    path.write_text("Terminal \x1b[2J\x1b[31mred\x1b[0m text with a bell \x07 and \x1b]0;title\x07.\n\n" * 20)


# --- HTML and XML ---------------------------------------------------------------------------------
def _billion_laughs(path: Path, ctx: Context) -> None:
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    doc = "<?xml version='1.0'?>\n<!DOCTYPE html [\n" + "\n".join(entities) + "\n]>\n"
    path.write_text(doc + "<html><body><p>&lol9;</p></body></html>\n")


def _external_entity(path: Path, ctx: Context) -> None:
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
        f'<!ENTITY out SYSTEM "file://{ctx.outside / "secret.txt"}">]>\n'
        "<html><body><p>&xxe; &out;</p></body></html>\n"
    )


def _nested_tags(path: Path, ctx: Context) -> None:
    path.write_text("<html><body>" + "<div>" * 10_000 + "deep text" + "</div>" * 10_000 + "</body></html>\n")


def _unclosed_tags(path: Path, ctx: Context) -> None:
    path.write_text("<html><body>" + "<b><i><table><tr><td>" * 5_000 + "never closed\n")


# --- images and archives --------------------------------------------------------------------------
def _png(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _png_bomb(side: int) -> Make:
    def make(path: Path, ctx: Context) -> None:
        packer = zlib.compressobj(9)
        row = b"\x00" * (side + 1)  # filter byte + one gray byte per pixel
        rows_per_block = max(1, (1 << 22) // len(row))
        block = row * rows_per_block
        parts = [packer.compress(block) for _ in range(side // rows_per_block)]
        parts.append(packer.compress(row * (side % rows_per_block)))
        path.write_bytes(_png(side, side, b"".join(parts) + packer.flush()))

    return make


def _zip_bomb(inner: str, size: int) -> Make:
    def make(path: Path, ctx: Context) -> None:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
            with z.open(inner, "w", force_zip64=True) as fh:
                block = b"<w:t>a</w:t>" * (1 << 16)
                for _ in range(size // len(block)):
                    fh.write(block)

    return make


def _zip_named(path: Path, ctx: Context) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("a.txt", "not what the name says")


# --- links and special files ----------------------------------------------------------------------
def _link(target: Callable[[Path, Context], str | Path]) -> Make:
    return lambda path, ctx: path.symlink_to(target(path, ctx))


def _ancestor_link(path: Path, ctx: Context) -> None:
    path.mkdir()
    (path / "up").symlink_to("..", target_is_directory=True)


def _fifo(path: Path, ctx: Context) -> None:
    os.mkfifo(path)


def _socket(path: Path, ctx: Context) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))  # the socket file stays after the socket is closed


def _device(path: Path, ctx: Context) -> None:
    os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null; needs root


_PDF = _expect("ingested", "damaged_pdf", "too_long", "no_text_layer", "empty", "encrypted_pdf")
_MEDIA_BAD = _expect(
    "undecodable_audio", "unsupported_format", "empty", "no_audio_track", "no_speech", "too_long"
)


def _office_variant(part: str, edit: Callable[[bytes], bytes]) -> Make:
    """A real workbook (one cell, "hello", saved by openpyxl) with one part rewritten."""

    def make(path: Path, ctx: Context) -> None:
        import io

        import openpyxl

        saved = io.BytesIO()
        book = openpyxl.Workbook()
        book.active["A1"] = "hello"
        book.save(saved)
        with zipfile.ZipFile(saved) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
            for name in src.namelist():
                data = src.read(name)
                out.writestr(name, edit(data) if name == part else data)

    return make


_LAUGHS = (
    '<!DOCTYPE x [<!ENTITY l0 "lol">'
    + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)


def _laughing_sheet(data: bytes) -> bytes:
    """The sheet's cell made an entity that would expand to a billion "lol"s (openpyxl writes
    the sheet without an XML declaration, so the doctype can go first)."""
    return _LAUGHS.encode() + data.replace(b"<t>hello</t>", b"<t>&l9;</t>")


def _odf(kind: str, content: str) -> Make:
    types = {"odt": "text", "ods": "spreadsheet"}

    def make(path: Path, ctx: Context) -> None:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(zipfile.ZipInfo("mimetype"), f"application/vnd.oasis.opendocument.{types[kind]}")
            z.writestr("content.xml", content)

    return make


_ODF_ROOT = (
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body>{}</office:body>'
    "</office:document-content>"
)
_MILLION_EMPTY_ROWS = _ODF_ROOT.format(
    "<office:spreadsheet><table:table table:name='Log'><table:table-row><table:table-cell><text:p>"
    "The tide gauge was read at dawn.</text:p></table:table-cell></table:table-row>"
    "<table:table-row table:number-rows-repeated='1048575'><table:table-cell "
    "table:number-columns-repeated='16384'/></table:table-row></table:table></office:spreadsheet>"
)
_LAUGHING_ODT = _LAUGHS + _ODF_ROOT.format(
    "<office:text><text:p>Tides &l9; and moons.</text:p></office:text>"
)
_OFFICE_BAD = _expect("ingested", "damaged_document", "empty", "unsupported_format")

_NAME = _expect("ingested")
_TEXT_OR_REFUSED = _expect("ingested", "unsupported_format", "empty")


def _named(name: str) -> Hostile:
    return Hostile(name, _text(f"A file called {name!r}. " + _PROSE), expect=_NAME)


KINDS: list[Hostile] = [
    # PDFs that lie or explode
    Hostile("pdf-huge-page-count.pdf", _huge_page_count, expect=_PDF),  # pypdf counts the real tree
    Hostile("pdf-nested-arrays.pdf", _nested_arrays, expect=_PDF),
    Hostile("pdf-nested-dicts.pdf", _nested_dicts, expect=_PDF),
    Hostile("pdf-cyclic-page-tree.pdf", _cyclic_pages, expect=_PDF),
    Hostile("pdf-cyclic-xobject.pdf", _cyclic_xobject, expect=_PDF),
    Hostile("pdf-zlib-bomb-1gb.pdf", _zlib_bomb(1 << 30), cheap=False, expect=_PDF | _expect("out_of_memory")),
    Hostile("pdf-zlib-bomb-16mb.pdf", _zlib_bomb(16 << 20), expect=_PDF),
    Hostile("pdf-broken-xref.pdf", _broken_xref, expect=_PDF),
    Hostile("pdf-xref-prev-loop.pdf", _xref_prev_loop, expect=_PDF),
    Hostile("pdf-no-xref.pdf", _write_pdf(_text_page("No cross reference table"), xref=False), expect=_PDF),
    Hostile("pdf-400k-text-operators.pdf", _many_text_ops, cheap=False, expect=_PDF),
    Hostile("pdf-unknown-encryption.pdf", _unknown_encryption, expect=_PDF),
    Hostile("pdf-header-only.pdf", _bytes(b"%PDF-1.7\n"), expect=_PDF),
    Hostile("pdf-header-then-garbage.pdf", _garbage_pdf, expect=_PDF),
    Hostile("pdf-truncated-half.pdf", _cut("pdfs/pypdf/crazyones.pdf", 0.5), expect=_PDF),
    Hostile("pdf-that-is-a-zip.pdf", _zip_named, expect=_expect("unsupported_format")),
    # nothing, or next to nothing, of every kind
    *(
        Hostile(f"zero-byte.{ext}", _bytes(b""), expect=_expect("empty"))
        for ext in ("pdf", "txt", "md", "html", "mp3", "mp4", "wav", "flac", "png", "docx", "pptx", "xlsx", "odt", "eml")
    ),
    *(
        Hostile(f"one-byte.{ext}", _bytes(byte), expect=_expect("ingested", "unsupported_format", "empty", "damaged_pdf"))
        for ext, byte in (
            ("pdf", b"%"), ("txt", b"a"), ("md", b"#"), ("html", b"<"), ("mp3", b"\xff"),
            ("mp4", b"\x00"), ("wav", b"R"), ("flac", b"f"), ("png", b"\x89"), ("docx", b"P"),
        )
    ),  # fmt: skip
    # media that is cut, lies about itself, or is not media at all
    Hostile("mp3-truncated.mp3", _cut("audio/fw_hotwords.mp3", 0.4), expect=_MEDIA_BAD | _NAME),
    Hostile("mp3-first-200-bytes.mp3", _cut("audio/fw_hotwords.mp3", keep=200), expect=_MEDIA_BAD | _NAME),
    Hostile("mp4-truncated.mp4", _cut("audio/video/lhotse_big_buck_bunny_small.mp4", 0.5), expect=_MEDIA_BAD | _NAME),
    Hostile("flac-truncated.flac", _cut("audio/fw_jfk.flac", 0.3), expect=_MEDIA_BAD | _NAME),
    Hostile("wav-claims-10-hours.wav", _wav_claims(10 * 3600), expect=_MEDIA_BAD),  # FFmpeg trusts the size
    Hostile("wav-claims-3-hours.wav", _wav_claims(3 * 3600), expect=_MEDIA_BAD | _NAME),
    Hostile("wav-riff-size-ffffffff.wav", _wav_bad_riff_size, expect=_MEDIA_BAD | _NAME),
    Hostile("mp3-id3-tag-only.mp3", _id3_only, expect=_MEDIA_BAD),
    Hostile("mp4-ftyp-only.mp4", _ftyp_only, expect=_MEDIA_BAD),
    Hostile("mp4-moov-claims-4gb.mp4", _mp4_huge_box, expect=_MEDIA_BAD),
    Hostile("video-without-sound.mp4", _copy("audio/video/moviepy_example.mp4"), expect=_NAME),  # its picture
    *(
        Hostile(f"random-bytes.{ext}", _random(64 * 1024, seed), expect=_MEDIA_BAD)
        for seed, ext in enumerate(("mp3", "mp4", "wav", "flac", "ogg", "mkv"))
    ),
    # text in odd shapes
    Hostile("utf16le-no-bom.txt", _text(_PROSE * 5, "utf-16-le"), expect=_expect("ingested")),
    Hostile("utf16be-no-bom.txt", _text(_PROSE * 5, "utf-16-be"), expect=_expect("ingested")),
    Hostile("utf32-with-bom.txt", _text(_PROSE * 5, "utf-32"), expect=_expect("ingested")),
    Hostile("mixed-encodings.txt", _mixed_encodings, expect=_expect("ingested")),
    Hostile("bom-only.txt", _bytes(b"\xef\xbb\xbf"), expect=_expect("empty")),
    Hostile("whitespace-only.txt", _bytes(b" \n\t\r\n" * 1000), expect=_expect("empty")),
    Hostile("nul-bytes-in-text.txt", _nul_sprinkled, expect=_TEXT_OR_REFUSED),
    Hostile("terminal-escapes.txt", _escapes, expect=_expect("ingested")),
    Hostile("invalid-utf8.txt", _random(4096, 99), expect=_TEXT_OR_REFUSED),
    Hostile("one-line-2mb-no-spaces.txt", _one_line(2 << 20, "abcdefghij"), cheap=False, expect=_TEXT_OR_REFUSED),
    Hostile("one-line-50mb.txt", _one_line(50 << 20), cheap=False, expect=_expect("too_large")),
    # HTML and XML bombs
    Hostile("billion-laughs.html", _billion_laughs, expect=_TEXT_OR_REFUSED),
    Hostile("external-entity.html", _external_entity, expect=_TEXT_OR_REFUSED),
    Hostile("nested-10000-divs.html", _nested_tags, expect=_TEXT_OR_REFUSED),
    Hostile("unclosed-tags.html", _unclosed_tags, expect=_TEXT_OR_REFUSED),
    Hostile("billion-laughs.svg", _billion_laughs, expect=_TEXT_OR_REFUSED),
    # images and archives
    Hostile("png-claims-100000-pixels-square.png", _bytes(_png(100_000, 100_000, zlib.compress(b"\x00" * 64))),
            expect=_expect("unsupported_format", "damaged_document", "no_text_layer", "too_large")),
    Hostile("png-decompression-bomb.png", _png_bomb(30_000), cheap=False,
            expect=_expect("unsupported_format", "damaged_document", "no_text_layer", "too_large", "out_of_memory")),
    Hostile("jpeg-truncated.jpg", _bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20), expect=_expect("unsupported_format", "damaged_document", "no_text_layer", "empty")),
    Hostile("docx-zip-bomb.docx", _zip_bomb("word/document.xml", 1 << 30), cheap=False),
    # spreadsheets, slides and mail that lie or explode
    Hostile("xlsx-billion-laughs.xlsx", _office_variant("xl/worksheets/sheet1.xml", _laughing_sheet), expect=_OFFICE_BAD),
    Hostile("xlsx-claims-whole-grid.xlsx", _office_variant(
        "xl/worksheets/sheet1.xml", lambda d: d.replace(b'<dimension ref="A1:A1"/>', b'<dimension ref="A1:XFD1048576"/>')
    ), expect=_expect("ingested")),
    Hostile("ods-million-empty-rows.ods", _odf("ods", _MILLION_EMPTY_ROWS), expect=_expect("ingested")),
    Hostile("odt-billion-laughs.odt", _odf("odt", _LAUGHING_ODT), expect=_OFFICE_BAD),
    Hostile("pptx-that-is-an-empty-zip.pptx", _bytes(b"PK\x05\x06" + b"\x00" * 18), expect=_OFFICE_BAD),
    Hostile("eml-headers-only.eml", _bytes(b"From: a@example.org\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\n"),
            expect=_expect("empty")),
    Hostile("zip-bomb-named.txt", _zip_bomb("a.txt", 256 << 20), cheap=False, expect=_expect("unsupported_format")),
    # names that break lines, drive terminals or reorder text
    _named("name with\nnewline.txt"),
    _named("name\x01with\x1b[31mcontrols\x07.txt"),
    _named("name-rtl-\u202etxt.exe"),
    _named("n" * 251 + ".txt"),
    _named("-rf --no-preserve-root.txt"),
    _named("  leading and trailing spaces  .txt"),
    _named("caf\udce9-latin1-byte.txt"),  # a byte that is not UTF-8 (surrogate-escaped)
    # links out of the folder, links that lead nowhere, things that are not files
    Hostile("link-to-etc-passwd", _link(lambda p, c: "/etc/passwd"), expect=_expect("link_outside")),
    Hostile("link-to-outside-file.txt", _link(lambda p, c: c.outside / "secret.txt"), expect=_expect("link_outside")),
    Hostile("link-relative-outside.txt", _link(lambda p, c: Path("..") / c.outside.name / "secret.txt"),
            expect=_expect("link_outside")),
    Hostile("link-to-outside-folder", _link(lambda p, c: c.outside), expect=_expect("link_outside")),
    Hostile("link-to-dev-zero", _link(lambda p, c: "/dev/zero"), expect=_expect("link_outside")),
    Hostile("link-dangling.txt", _link(lambda p, c: p.parent / "does-not-exist.txt"), expect=_expect("not_found")),
    Hostile("link-to-itself", _link(lambda p, c: p.name), expect=_expect("not_found")),
    Hostile("link-to-own-folder", _link(lambda p, c: "."), entry=False),
    Hostile("folder-with-link-to-parent", _ancestor_link, entry=False),
    Hostile("link-to-sibling.txt", _link(lambda p, c: "mixed-encodings.txt"), entry=False),
    Hostile("fifo.txt", _fifo, expect=_expect("special_file")),
    Hostile("socket.sock", _socket, expect=_expect("special_file")),
    Hostile("char-device.wav", _device, expect=_expect("special_file")),
]  # fmt: skip
"""Every kind, in the order they are written (a name is unique)."""

GOOD = {  # name -> (shared file or None for a note, a phrase to search for)
    "good-note.txt": (None, "The lighthouse keeper logged every passing ship in a leather ledger."),
    "good-crazyones.pdf": ("pdfs/pypdf/crazyones.pdf", "the crazy ones, the misfits, the rebels"),
    "good-jfk.flac": ("audio/fw_jfk.flac", "ask not what your country can do for you"),
}
"""Good files ingested in the same batch: each must be found by its phrase afterwards."""


def kinds(*, cheap: bool = False) -> list[Hostile]:
    return [k for k in KINDS if k.cheap or not cheap]


def write(folder: Path, *, cheap: bool = False, shared: Path = SHARED) -> dict[str, Hostile]:
    """Write the hostile files (the cheap ones only, with ``cheap``) into ``folder`` (made if
    needed), and a folder with a secret beside it for the links to point at. Returns the kinds
    written, by path; a kind this machine cannot make (a device without root) is left out."""
    folder = Path(os.path.realpath(folder))
    folder.mkdir(parents=True, exist_ok=True)
    outside = folder.parent / f"{folder.name}-outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text(f"{OUTSIDE_WORDS}.\n")
    ctx = Context(shared=shared, outside=outside)
    written: dict[str, Hostile] = {}
    for kind in kinds(cheap=cheap):
        path = folder / kind.name
        try:
            kind.make(path, ctx)
        except PermissionError:
            continue
        except OSError as exc:
            if exc.errno in (errno.EPERM, errno.EACCES):
                continue
            raise
        written[str(path)] = kind
    return written


def write_good(folder: Path, shared: Path = SHARED) -> dict[str, str]:
    """The good files, by path, with the phrase that must find each."""
    folder.mkdir(parents=True, exist_ok=True)
    phrases = {}
    for name, (rel, phrase) in GOOD.items():
        path = folder / name
        if rel is None:
            path.write_text(phrase + "\n\n" + _PROSE)
        else:
            shutil.copyfile(shared / rel, path)
        phrases[str(path)] = phrase
    return phrases


# --- verdicts --------------------------------------------------------------------------------------
@dataclass
class Verdict:
    name: str
    verdict: str
    """``ingested``, ``unchanged``, ``followed`` (a link inside the folder), an error class, or
    ``MISSING`` (no outcome at all)."""
    hint: str = ""
    message: str = ""
    problem: str = ""
    """Why this verdict is bad; empty when it is fine."""


def verdicts(summary: dict[str, Any], written: dict[str, Hostile]) -> list[Verdict]:
    """One verdict per written kind, from the job's summary."""
    by_path: dict[str, list[dict[str, Any]]] = {}
    for source in summary["sources"]:
        by_path.setdefault(source["path"], []).append(source)
    duplicates = [p for p, found in by_path.items() if len(found) > 1]
    out = []
    for path, kind in written.items():
        found = by_path.get(path, [])
        if not kind.entry:
            problem = f"files found twice: {duplicates}" if duplicates else ""
            out.append(
                Verdict(
                    kind.name, "followed", problem=problem or ("" if not found else "has its own outcome")
                )
            )
            continue
        if not found:
            out.append(Verdict(kind.name, "MISSING", problem="no outcome"))
            continue
        source = found[0]
        error = source["error"] or {}
        verdict = error.get("class") or source["status"]
        problem = ""
        if source["status"] not in ("ingested", "unchanged", "failed"):
            problem = f"ended as {source['status']}"
        elif verdict == "internal":
            problem = "unclassified (internal) error"
        elif source["status"] == "failed" and not error.get("hint"):
            problem = "no hint"
        elif (
            kind.expect is not None
            and verdict not in kind.expect
            and not (verdict == "unchanged" and "ingested" in kind.expect)
        ):
            problem = f"expected one of {sorted(kind.expect)}"
        elif len(found) > 1:
            problem = "more than one outcome"
        out.append(Verdict(kind.name, verdict, error.get("hint") or "", error.get("message") or "", problem))
    return out


def worker_of(home: Path) -> Any:
    """The local worker process serving ``home`` (``psutil.Process``), or ``None``."""
    import psutil

    for process in psutil.process_iter(["cmdline"]):
        try:
            if "flows.worker" in (process.info["cmdline"] or []) and process.environ().get(
                "INLET_HOME"
            ) == str(home):
                return process
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def peak_memory_mb(process: Any) -> float | None:
    """The peak resident memory (``VmHWM``) of a process, in MB."""
    try:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def stop_worker(process: Any) -> None:
    """Stop the worker this campaign started (and its Prefect server, in its process group)."""
    import signal

    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGTERM)
        else:
            process.terminate()
        process.wait(timeout=20)
    except Exception:  # noqa: BLE001 - already gone
        pass


@dataclass
class Campaign:
    verdicts: list[Verdict]
    summary: dict[str, Any]
    seconds: float
    peak_mb: float | None
    worker_alive: bool
    searchable: dict[str, bool]
    """Good file name -> found by its phrase."""
    leaked: list[str]
    """Texts from outside the folder that became searchable (must be empty)."""

    @property
    def bad(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.problem]

    @property
    def ok(self) -> bool:
        return not self.bad and all(self.searchable.values()) and self.worker_alive and not self.leaked


def campaign(
    folder: Path, home: Path, *, cheap: bool = False, timeout_s: float = 3600, **overrides: Any
) -> Campaign:
    """Write the kinds into ``folder`` and the good files beside them, ingest both in one job
    into ``home`` and collect the verdicts. The worker is left running (``stop_worker``)."""
    import inlet

    folder = Path(os.path.realpath(folder))
    written = write(folder, cheap=cheap)
    good = write_good(folder.parent / f"{folder.name}-good")
    started = time.monotonic()
    job_id = inlet.submit([str(folder), *good], "hostile", home=home, **overrides)
    summary = inlet.wait(job_id, progress=False, timeout=timeout_s, home=home)
    seconds = time.monotonic() - started
    worker = worker_of(home)
    alive = worker is not None and worker.is_running() and worker.status() != "zombie"
    peak = peak_memory_mb(worker) if worker is not None else None
    searchable = {}
    for path, phrase in good.items():
        hits = inlet.search(phrase, limit=3, home=home)
        searchable[Path(path).name] = Path(path).name in hits["file"].to_list()
    leaked = []
    for secret in (OUTSIDE_WORDS, "root:x:0:0"):
        hits = inlet.search(secret, mode="text", limit=5, home=home)
        leaked += [t for t in hits["snippet"].to_list() if "Quetzalcoatl" in t or "root:x" in t]
    return Campaign(verdicts(summary, written), summary, seconds, peak, alive, searchable, leaked)


def isolation_cost(repeat: int = 20, shared: Path = SHARED) -> dict[str, float]:
    """Median milliseconds of one extraction: a one-page PDF bounded and not, a small text file."""
    import statistics

    from pipelines.config import get_settings
    from pipelines.extract import extract
    from pipelines.sources import inspect

    with tempfile.TemporaryDirectory() as tmp:
        note = Path(tmp) / "note.txt"
        note.write_text(_PROSE * 20)
        cases = {
            "pdf_bounded_ms": (shared / "pdfs/pypdf/crazyones.pdf", get_settings(home=tmp)),
            "pdf_in_worker_ms": (
                shared / "pdfs/pypdf/crazyones.pdf",
                get_settings(home=tmp, extract_memory_mb=0),
            ),
            "text_ms": (note, get_settings(home=tmp)),
        }
        figures = {}
        for name, (path, settings) in cases.items():
            extract(inspect(path, settings), settings)  # warm-up: imports, the forkserver
            times = []
            for _ in range(repeat):
                source = inspect(path, settings)
                started = time.perf_counter()
                extract(source, settings)
                times.append((time.perf_counter() - started) * 1000)
            figures[name] = round(statistics.median(times), 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    from pipelines.formats import printable

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cheap", action="store_true", help="only the kinds the tests use")
    parser.add_argument("--keep", type=Path, help="write the files into this folder and keep them")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    parser.add_argument("--cost", action="store_true", help="only measure what bounded parsing costs")
    parser.add_argument("--repeat", type=int, default=20, help="runs per figure of --cost")
    args = parser.parse_args(argv)
    if args.cost:
        figures = isolation_cost(args.repeat)
        print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))
        return 0
    base = Path(tempfile.mkdtemp(prefix="inlet-hostile-"))
    os.environ.setdefault("PREFECT_HOME", str(base / "prefect"))
    folder = args.keep or base / "hostile"
    home = base / "home"
    worker = None
    try:
        result = campaign(folder, home, cheap=args.cheap)
        worker = worker_of(home)
        width = max(len(printable(v.name)) for v in result.verdicts)
        for v in result.verdicts:
            flag = f"  <-- BAD: {v.problem}" if v.problem else ""
            hint = f"  hint: {v.hint}" if v.hint else ""
            print(f"{printable(v.name)[:60]:<{min(width, 60)}}  {v.verdict:<18}{hint[:110]}{flag}")
        counts: dict[str, int] = {}
        for v in result.verdicts:
            counts[v.verdict] = counts.get(v.verdict, 0) + 1
        print(f"\n{len(result.verdicts)} hostile files + {len(GOOD)} good ones in {result.seconds:.1f} s")
        print("verdicts: " + ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1])))
        peak = f"{result.peak_mb:.0f} MB" if result.peak_mb is not None else "unknown"
        print(f"worker: {'alive' if result.worker_alive else 'DEAD'}, peak memory {peak}")
        print(
            "good files searchable: "
            + ", ".join(f"{k} {'yes' if ok else 'NO'}" for k, ok in result.searchable.items())
        )
        print(f"text from outside the folder searchable: {'NO' if not result.leaked else result.leaked}")
        print(f"bad verdicts: {len(result.bad)}")
        if args.json:
            print(json.dumps({
                "files": len(result.verdicts), "seconds": round(result.seconds, 1), "peak_mb": result.peak_mb,
                "worker_alive": result.worker_alive, "searchable": result.searchable, "counts": counts,
                "bad": [{"name": v.name, "verdict": v.verdict, "problem": v.problem} for v in result.bad],
            }))  # fmt: skip
        return 0 if result.ok else 1
    finally:
        if worker is not None:
            stop_worker(worker)
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
