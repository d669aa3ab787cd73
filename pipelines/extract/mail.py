"""E-mail messages (``.eml``, RFC 5322 with MIME) with Python's own ``email`` package.

A message is read as a person reads it: first who wrote it to whom, when, about what, and the
names of its attachments (one segment), then its body, a paragraph per segment. The body is the
message's plain-text part; a message with only an HTML part has that reduced to its main text
like a web page (:mod:`pipelines.extract.html`). Quoted-printable and base64 bodies are decoded
in their declared charset, and encoded-word headers (``=?utf-8?q?...?=``) are decoded too. An
attachment's name is indexed, its content is not (ingest the attachment as a file of its own).
The subject is the source's title. Nothing in a message is run or fetched.

A mailbox (mbox: messages one after the other, each after a ``From `` line) is read message by
message, each message's segments numbered by its place, so a hit is cited ``inbox.mbox,
message 3``. Whether a text file is a message is told from its first lines
(:func:`looks_like_email`).
"""

from __future__ import annotations

import re
import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from pipelines.config import Settings
from pipelines.deadline import check as check_deadline
from pipelines.errors import EmptyInput
from pipelines.extract.html import main_text, paragraphs, title_of
from pipelines.records import Extraction, Segment, Source

_HEADER_LINE = re.compile(rb"^[!-9;-~]+:[ \t]?")  # a field name (printable, no colon), a colon
_CONTINUATION = re.compile(rb"^[ \t]+\S")
_POSTMARK = re.compile(rb"^From \S+ ")  # the line a mailbox (mbox) puts before each message
_KNOWN = frozenset(
    {b"from", b"to", b"cc", b"bcc", b"date", b"subject", b"message-id", b"received", b"mime-version",
     b"content-type", b"content-transfer-encoding", b"return-path", b"reply-to", b"sender",
     b"delivered-to", b"in-reply-to", b"references", b"x-mailer"}
)  # fmt: skip
_TELLING = frozenset({b"from", b"mime-version", b"received", b"message-id", b"return-path"})
_SHOWN = ("From", "To", "Cc", "Date")


def looks_like_email(head: bytes) -> bool:
    r"""Whether text bytes start like an e-mail message, or a mailbox of them: an RFC 5322 header
    block (maybe after a mailbox's ``From `` line) of at least two known fields, one of them
    ``From``, ``MIME-Version``, ``Received``, ``Message-ID`` or ``Return-Path``, then a blank line.

    >>> looks_like_email(b"From: Ada <ada@example.org>\r\nSubject: Tides\r\n\r\nHello")
    True
    >>> looks_like_email(b"From: the editor\nThis note is about tides.\n")
    False
    >>> looks_like_email(b"Title: Tides\nDate: 2026-03-01\n\nNotes on the tides.")
    False
    """
    names: set[bytes] = set()
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    if lines and _POSTMARK.match(lines[0]):
        lines = lines[1:]
    for number, line in enumerate(lines[:-1]):  # the last line may be cut short
        if not line:
            return len(names & _KNOWN) >= 2 and bool(names & _TELLING)
        if _CONTINUATION.match(line) and number > 0:
            continue
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(b":", 1)[0].strip().lower())
    return False


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, LookupError):  # a header beyond the parser's repair
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _decoded(part: EmailMessage) -> str:
    """A text part's content in its declared charset and transfer encoding (an unknown
    charset read as UTF-8, its bad bytes replaced); an HTML part reduced to its main text."""
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError, KeyError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str) or not content.strip():
        return ""
    return main_text(content) if part.get_content_subtype() == "html" else content


def _is_attachment(part: EmailMessage) -> bool:
    return part.get_filename() is not None or part.get_content_disposition() == "attachment"


def body_texts(message: EmailMessage) -> list[str]:
    """The readable text of a message in order: each inline text part (of alternatives, the
    plain one, else the HTML one), and of a forwarded message its sender, subject and text."""
    if message.get_content_maintype() == "message":
        inner = message.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if not isinstance(inner, EmailMessage):
            return []
        shown = [f"{name}: {value}" for name in ("From", "Subject") if (value := _header(inner, name))]
        return ["\n".join(shown)] * bool(shown) + body_texts(inner)
    if message.is_multipart():
        parts = [p for p in message.iter_parts() if isinstance(p, EmailMessage)]
        if message.get_content_subtype() == "alternative":
            ranked = sorted(parts, key=lambda p: {"plain": 0, "html": 1}.get(p.get_content_subtype(), 2))
            for part in ranked:
                if texts := body_texts(part):
                    return texts
            return []
        return [t for part in parts if not _is_attachment(part) for t in body_texts(part)]
    if message.get_content_maintype() == "text" and message.get_content_subtype() in ("plain", "html"):
        text = _decoded(message)
        return [text] if text.strip() else []
    return []


def attachment_names(message: EmailMessage) -> list[str]:
    """The file names of a message's attachments, in order."""
    return [" ".join(name.split()) for part in message.walk() if (name := part.get_filename())]


_QUOTED_POSTMARK = re.compile(r"^>(>*From )", re.MULTILINE)


def message_segments(message: EmailMessage, page: int | None = None) -> list[Segment]:
    """One message's segments: a block of its sender, recipients, date and attachment names (a
    passage of fields: :attr:`Segment.fields`), its subject as a ``#`` heading, then its body's
    paragraphs (each with ``page``: the message's number in a mailbox, whose ``>From `` lines,
    quoted so as not to start a message, are unquoted)."""
    lines = [f"{name}: {value}" for name in _SHOWN if (value := _header(message, name))]
    subject = _header(message, "Subject")
    attachments = attachment_names(message)
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    texts = body_texts(message)
    if page is not None:
        texts = [_QUOTED_POSTMARK.sub(r"\1", t) for t in texts]
    body = [p for text in texts for p in paragraphs(text)]
    if not body and not subject:
        return []
    heading = [Segment(text=f"# {subject}", page=page)] if subject else []
    fields = [Segment(text="\n".join(lines), page=page, fields=True)] if lines else []
    return fields + heading + [Segment(text=p, page=page) for p in body]


def extract_email(source: Source, settings: Settings) -> Extraction:
    """Segments of a message (its headers and attachment names, then its body's paragraphs;
    ``source.title`` is the subject), or of a mailbox, message by message (``page`` is the
    message's number, ``source.pages`` the number of messages)."""
    started = time.perf_counter()
    with open(source.path, "rb") as fh:
        mailbox_file = _POSTMARK.match(fh.readline()) is not None
    if mailbox_file:
        import mailbox

        box = mailbox.mbox(source.path, create=False)
        parser = BytesParser(policy=policy.default)
        parsed_all = [parser.parsebytes(box.get_bytes(key)) for key in box.iterkeys()]
        box.close()
        messages = [m for m in parsed_all if isinstance(m, EmailMessage)]
    else:
        with open(source.path, "rb") as fh:
            parsed = BytesParser(policy=policy.default).parse(fh)
        messages = [parsed] if isinstance(parsed, EmailMessage) else []
    segments: list[Segment] = []
    attachments: list[str] = []
    for number, message in enumerate(messages, start=1):
        check_deadline()
        segments.extend(message_segments(message, number if mailbox_file else None))
        attachments.extend(attachment_names(message))
    if not segments:
        raise EmptyInput("The message has neither a subject nor a body", path=source.path)
    if len(messages) == 1:
        source.title = title_of(_header(messages[0], "Subject"))
    if mailbox_file:
        source.pages = len(messages)
    warnings = [f"{len(attachments)} attachment(s) not read: {', '.join(attachments)}"] if attachments else []
    return Extraction(
        source=source, segments=segments, seconds=time.perf_counter() - started, warnings=warnings
    )
