"""Reading request bodies without holding them: a multipart upload is parsed as it arrives and
each file part is handed, as a stream, to ``inlet.uploads.accept_uploads``, which writes it to
disk block by block and checks it exactly as the dashboard's uploads are checked.

The parsing runs in a worker thread (the checks read files and may take seconds); it pulls the
body's chunks from the event loop one at a time, so at most a chunk and one copy block are in
memory whatever the size of the upload.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.from_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from inlet.api.problems import Problem
from inlet.config import Settings
from inlet.uploads import UploadBatch, accept_uploads

MAX_FIELD_BYTES = 64 * 1024
"""Longest value of a plain form field (collection, priority); longer is a malformed request."""
MAX_JSON_BYTES = 1024 * 1024
"""Largest JSON body (a list of server-side paths)."""


@dataclass
class Received:
    """What one multipart request brought: the upload batch, the plain fields, and whether the
    body was complete (not over the cap, not cut by the client, well formed)."""

    batch: UploadBatch
    fields: dict[str, str] = field(default_factory=dict)
    overflow: bool = False
    broken: str | None = None

    @property
    def complete(self) -> bool:
        return not self.overflow and self.broken is None


class _Parts:
    """A pull parser over a multipart body: events come out as chunks are pulled in."""

    def __init__(self, pull: Callable[[], bytes | None], boundary: bytes, limit: int) -> None:
        self._pull, self.limit = pull, limit
        self.received, self.overflow = 0, False
        self.broken: str | None = None
        self.fields: dict[str, str] = {}
        self._events: deque[tuple[str, Any]] = deque()
        self._done = False
        self._header_field, self._header_value = bytearray(), bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._on_part_begin,
            "on_part_data": lambda data, start, end: self._events.append(("data", bytes(data[start:end]))),
            "on_part_end": lambda: self._events.append(("end", None)),
            "on_header_field": lambda data, start, end: self._header_field.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._header_value.extend(data[start:end]),
            "on_header_end": self._on_header_end,
            "on_headers_finished": lambda: self._events.append(("headers", dict(self._headers))),
        })  # fmt: skip

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def next_event(self) -> tuple[str, Any] | None:
        """The next parser event; ``None`` at the end of the body (or when it must stop: over
        the cap, cut by the client, malformed)."""
        while not self._events:
            if self._done:
                return None
            try:
                chunk = self._pull()
                if chunk is None:
                    self._parser.finalize()
                    self._done = True
                    continue
                self.received += len(chunk)
                if self.received > self.limit:
                    self.overflow, self._done = True, True
                    return None
                self._parser.write(chunk)
            except ClientDisconnect:
                self.broken, self._done = "the client closed the connection before the end of the body", True
            except MultipartParseError as exc:
                self.broken, self._done = f"malformed multipart body: {exc}", True
        return self._events.popleft()

    def files(self) -> Iterator[tuple[str, _PartStream]]:
        """``(file name as sent, stream)`` for each file part; plain fields go to ``fields``."""
        while (event := self.next_event()) is not None:
            if event[0] != "headers":
                continue  # the rest of a part its reader did not finish
            _, options = parse_options_header(event[1].get(b"content-disposition", b""))
            stream = _PartStream(self)
            filename = options.get(b"filename")
            if filename is None:
                value = stream.read(MAX_FIELD_BYTES + 1)
                if len(value) > MAX_FIELD_BYTES:
                    self.broken = "a form field is longer than 64 kB"
                    return
                self.fields[options.get(b"name", b"").decode("utf-8", "replace")] = value.decode(
                    "utf-8", "replace"
                )
                continue
            yield filename.decode("utf-8", "replace"), stream
            stream.drain()


class _PartStream:
    """The binary stream of one part (``read`` only), fed by the parser."""

    def __init__(self, parts: _Parts) -> None:
        self._parts = parts
        self._buffer = bytearray()
        self._ended = False

    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            event = self._parts.next_event()
            if event is None or event[0] == "end":
                self._ended = True
            elif event[0] == "data":
                self._buffer.extend(event[1])
        if size < 0 or size >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:size])
            del self._buffer[:size]
        return out

    def drain(self) -> None:
        """Read and drop what is left of the part (a file cut off at its size limit)."""
        while self.read(1 << 20):
            pass


def receive_uploads(request: Request, settings: Settings) -> Received:
    """Parse a ``multipart/form-data`` request and keep its files (run in a worker thread).

    Every file part is checked and kept by :func:`inlet.uploads.accept_uploads`; a body over
    ``api_max_request_bytes``, cut by the client or malformed is marked so, and the caller
    drops the whole batch."""
    _, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if not boundary:
        raise Problem("invalid_request", "The multipart body has no boundary in its Content-Type.")
    chunks: AsyncIterator[bytes] = request.stream()

    async def next_chunk() -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None

    def pull() -> bytes | None:
        while True:
            chunk = anyio.from_thread.run(next_chunk)
            if chunk is None or chunk:
                return chunk

    parts = _Parts(pull, boundary, settings.api_max_request_bytes)
    batch = accept_uploads(parts.files(), settings=settings)  # type: ignore[arg-type]
    return Received(batch, parts.fields, parts.overflow, parts.broken)


async def read_json(request: Request) -> Any:
    """The JSON body, read up to :data:`MAX_JSON_BYTES`."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_JSON_BYTES:
            raise Problem("request_too_large", f"A JSON body may have at most {MAX_JSON_BYTES} bytes.")
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise Problem("invalid_request", f"The body is not valid JSON: {exc}") from exc
