"""E-mail messages: told from their header block, read as a person reads them (who, when, what
about, the attachments' names, then the body), in the charset and transfer encoding they declare."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from pipelines.config import get_settings
from pipelines.errors import EmptyInput
from pipelines.extract import extract
from pipelines.sources import inspect

BODY = (
    "Dear harbour board,\n\n"
    "The Brindlemoor buoy drifted forty metres in the March gales and now marks the wrong side of the "
    "channel.\n\nPlease send the survey boat before the spring tides.\n\nMarta"
)


def make_eml(path: Path) -> Path:
    """A message saved as a mail client saves it: a plain and an HTML version of the body
    (quoted-printable), a subject in an encoded word, and a PDF attached (base64)."""
    message = EmailMessage()
    message["From"] = "Marta Kowalska <marta@harbour.example>"
    message["To"] = "board@harbour.example"
    message["Cc"] = "Jonas Eek <jonas@harbour.example>"
    message["Date"] = "Tue, 17 Mar 2026 08:15:00 +0100"
    message["Subject"] = "Brindlemoor buoy off station – survey needed"
    message["Message-ID"] = "<20260317081500.4711@harbour.example>"
    message.set_content(BODY, cte="quoted-printable")
    message.add_alternative(
        "<html><body><p>Dear harbour board,</p><p>The Brindlemoor buoy drifted.</p></body></html>",
        subtype="html",
    )
    message.add_attachment(
        b"%PDF-1.4 survey map (not read)", maintype="application", subtype="pdf", filename="drift-map.pdf"
    )
    path.write_bytes(bytes(message))
    return path


def test_a_message_is_told_by_its_header_block_whatever_its_name(tmp_path: Path) -> None:
    settings = get_settings()
    assert inspect(make_eml(tmp_path / "message.txt"), settings).kind == "email"
    note = tmp_path / "note.eml"  # a header-like first line is not enough
    note.write_text("From: the editor\nThis note is about the tides of March.\n")
    assert inspect(note, settings).kind == "text"
    framed = tmp_path / "saved"  # saved by a mail client with the mailbox's "From " line first
    framed.write_bytes(
        b"From marta@harbour.example Tue Mar 17 08:15:00 2026\n" + make_eml(tmp_path / "m").read_bytes()
    )
    assert inspect(framed, settings).kind == "email"


def test_a_mailbox_is_read_message_by_message(tmp_path: Path) -> None:
    import mailbox

    box = mailbox.mbox(tmp_path / "inbox.mbox")
    box.add(make_eml(tmp_path / "first.eml").read_bytes())
    reply = EmailMessage()
    reply["From"] = "board@harbour.example"
    reply["To"] = "Marta Kowalska <marta@harbour.example>"
    reply["Subject"] = "Re: Brindlemoor buoy"
    reply["Date"] = "Wed, 18 Mar 2026 09:00:00 +0100"
    reply.set_content("From Monday the survey boat Marram Tern will reset the buoy.\n")
    box.add(reply)
    box.close()
    settings = get_settings()
    extraction = extract(inspect(tmp_path / "inbox.mbox", settings), settings)
    assert extraction.source.kind == "email" and extraction.source.pages == 2
    by_message = {s.page: [] for s in extraction.segments}
    for s in extraction.segments:
        by_message[s.page].append(s.text)
    assert by_message[1][2:] == BODY.split("\n\n")  # the "From " line inside the body is kept
    assert by_message[2] == [
        "From: board@harbour.example\nTo: Marta Kowalska <marta@harbour.example>\n"
        "Date: Wed, 18 Mar 2026 09:00:00 +0100",
        "# Re: Brindlemoor buoy",
        "From Monday the survey boat Marram Tern will reset the buoy.",
    ]


def test_a_message_is_read_as_its_headers_attachment_names_and_plain_body(tmp_path: Path) -> None:
    settings = get_settings()
    extraction = extract(inspect(make_eml(tmp_path / "buoy.eml"), settings), settings)
    texts = [s.text for s in extraction.segments]
    assert extraction.source.title == "Brindlemoor buoy off station – survey needed"
    assert texts[0] == (
        "From: Marta Kowalska <marta@harbour.example>\n"
        "To: board@harbour.example\n"
        "Cc: Jonas Eek <jonas@harbour.example>\n"
        "Date: Tue, 17 Mar 2026 08:15:00 +0100\n"
        "Attachments: drift-map.pdf"
    )
    assert extraction.segments[0].fields  # who and when: searchable, not what it is about
    assert texts[1] == "# Brindlemoor buoy off station – survey needed"
    assert texts[2:] == [p for p in BODY.split("\n\n")]  # the plain version, decoded, once
    assert not any("%PDF" in t or "<p>" in t for t in texts)  # the attachment's bytes and HTML are not
    assert extraction.warnings == ["1 attachment(s) not read: drift-map.pdf"]
    assert extraction.language == "en"


def test_an_html_only_message_in_latin1_is_reduced_to_its_text(tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "=?iso-8859-1?q?J=F6rg_M=FCller?= <joerg@example.org>"
    message["Subject"] = "=?iso-8859-1?q?Gr=FC=DFe_aus_K=F6ln?="
    message["Date"] = "Mon, 2 Mar 2026 10:00:00 +0100"
    html = (
        "<html><head><style>.x{color:red}</style><script>var spyword = 1;</script></head>"
        "<body><p>Die Fähre nach Köln fährt ab Montag wieder stündlich.</p></body></html>"
    )
    message.set_content(html.encode("latin-1"), maintype="text", subtype="html", cte="base64")
    message.replace_header("Content-Type", 'text/html; charset="iso-8859-1"')
    path = tmp_path / "koeln.eml"
    path.write_bytes(bytes(message))
    settings = get_settings()
    extraction = extract(inspect(path, settings), settings)
    texts = [s.text for s in extraction.segments]
    assert extraction.source.title == "Grüße aus Köln"
    assert texts[0].startswith("From: Jörg Müller <joerg@example.org>")
    assert texts[1:] == ["# Grüße aus Köln", "Die Fähre nach Köln fährt ab Montag wieder stündlich."]
    assert not any("spyword" in t for t in texts)


def test_a_message_without_subject_or_body_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.eml"
    path.write_bytes(b"From: a@example.org\r\nDate: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\n\r\n")
    settings = get_settings()
    with pytest.raises(EmptyInput, match="neither a subject nor a body"):
        extract(inspect(path, settings), settings)
