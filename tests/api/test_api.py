"""The HTTP API as an app uses it: a real ``inlet serve`` on a free loopback port, with its own
home, spoken to with httpx. Tests that ingest (and so load the models) are marked slow."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import os
import statistics
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.worker import LOCAL_ASK_S
from tests.api.server import INLET, REPO, free_port, read_events, server_env, serving, wait_for_job

TOKEN = "test-token-" + "x" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PHRASE = "ask not what your country can do for you"


def problem_of(response: httpx.Response, status: int, cls: str) -> dict[str, Any]:
    """The problem document of ``response``, checked for its status, class and shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "class", "hint", "retryable"} <= set(body)
    assert body["status"] == status and body["class"] == cls, body
    assert "Traceback" not in response.text
    return body


# --- a light server: no model is loaded ---------------------------------------------------------
@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A server with a token, tight rate limits and one allowed root; nothing gets ingested."""
    base = tmp_path_factory.mktemp("api-light")
    root = base / "allowed"
    root.mkdir()
    settings = {
        "INLET_API_TOKEN": TOKEN, "INLET_API_RATE_PER_MINUTE": "40", "INLET_API_UPLOADS_PER_MINUTE": "1",
        "INLET_API_ROOTS": json.dumps([str(root)]), "INLET_API_MAX_REQUEST_BYTES": str(1024 * 1024),
    }  # fmt: skip
    with serving(base / "home", "--no-preload", **settings) as url:
        yield url, base


def test_the_openapi_document_lists_every_path(light: tuple[str, Path]) -> None:
    url, _ = light
    paths = httpx.get(f"{url}/openapi.json").raise_for_status().json()["paths"]
    expected = {
        "/v1/jobs": {"get", "post"}, "/v1/jobs/{job_id}": {"get"}, "/v1/jobs/{job_id}/events": {"get"},
        "/v1/jobs/{job_id}/cancel": {"post"}, "/v1/jobs/{job_id}/retry": {"post"}, "/v1/search": {"get"},
        "/v1/search/suggest": {"get"}, "/v1/reindex": {"post"}, "/v1/sources": {"get"},
        "/v1/sources/{source_id}": {"get", "delete"}, "/v1/sources/{source_id}/file": {"get"},
        "/v1/sources/{source_id}/thumbnail": {"get"},
        "/v1/collections": {"get"}, "/v1/collections/{name}": {"delete"}, "/v1/errors": {"get"},
        "/v1/collections/{name}/labels": {"get", "put", "delete"},
        "/v1/errors/classes": {"get"}, "/v1/stats": {"get"}, "/v1/export": {"get"}, "/healthz": {"get"},
        "/readyz": {"get"},
    }  # fmt: skip
    assert set(paths) == set(expected)
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
    upload = paths["/v1/jobs"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(upload)


def test_every_request_needs_the_token_when_one_is_set(light: tuple[str, Path]) -> None:
    url, _ = light
    problem_of(httpx.get(f"{url}/v1/jobs"), 401, "unauthorized")
    wrong = httpx.get(f"{url}/v1/jobs", headers={"Authorization": f"Bearer {TOKEN[:-1]}y"})
    assert problem_of(wrong, 401, "unauthorized")["hint"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    problem_of(httpx.post(f"{url}/v1/jobs/abc/cancel", headers={"Authorization": TOKEN}), 401, "unauthorized")
    assert httpx.get(f"{url}/v1/jobs", headers=AUTH).json() == {"jobs": []}
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    cross = httpx.get(f"{url}/v1/jobs", headers=AUTH | {"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in cross.headers, "CORS is off unless origins are configured"


def test_a_path_outside_the_roots_is_forbidden(light: tuple[str, Path]) -> None:
    url, base = light
    root = base / "allowed"
    secret = base / "secret.md"
    secret.write_text("not for the API")
    (root / "link.md").symlink_to(secret)
    for path in ("/etc/passwd", str(secret), f"{root}/../secret.md", str(root / "link.md")):
        answer = httpx.post(f"{url}/v1/jobs", json={"paths": [path]}, headers=AUTH)
        assert "INLET_API_ROOTS" in problem_of(answer, 403, "forbidden_path")["hint"]
    missing = httpx.post(f"{url}/v1/jobs", json={"paths": [str(root / "missing.md")]}, headers=AUTH)
    rejected = problem_of(missing, 422, "nothing_accepted")["rejected"]
    assert [(r["class"], bool(r["hint"])) for r in rejected] == [("not_found", True)]
    assert httpx.get(f"{url}/v1/jobs", headers=AUTH).json() == {"jobs": []}


def test_errors_are_problem_documents(light: tuple[str, Path]) -> None:
    url, _ = light
    problem_of(httpx.get(f"{url}/v1/jobs/0123456789ab", headers=AUTH), 404, "unknown_resource")
    problem_of(
        httpx.get(f"{url}/v1/search", params={"q": "x", "mode": "psychic"}, headers=AUTH),
        400,
        "invalid_request",
    )
    problem_of(httpx.get(f"{url}/v1/search", headers=AUTH), 400, "invalid_request")
    problem_of(httpx.get(f"{url}/v1/nowhere", headers=AUTH), 404, "unknown_resource")
    problem_of(httpx.post(f"{url}/v1/jobs", content=b"x", headers=AUTH), 415, "unsupported_media_type")
    note = {"files": ("note.md", b"# A note\n\nText.\n")}
    for collection in ("../x", "a/b", ".hidden"):
        answer = httpx.post(f"{url}/v1/jobs", files=note, data={"collection": collection}, headers=AUTH)
        problem_of(answer, 400, "invalid_request")
    problem_of(httpx.post(f"{url}/v1/jobs?priority=urgent", files=note, headers=AUTH), 400, "invalid_request")
    big = httpx.post(f"{url}/v1/jobs", files={"files": ("big.md", b"x" * (2 * 1024 * 1024))}, headers=AUTH)
    problem_of(big, 413, "request_too_large")
    classes = httpx.get(f"{url}/v1/errors/classes", headers=AUTH).json()
    codes = {c["class"] for c in classes["classes"]}
    assert {"damaged_pdf", "too_large", "unsafe_name", "empty", "write_conflict", "internal"} <= codes
    assert all(c["message"] and c["hint"] and isinstance(c["retryable"], bool) for c in classes["classes"])
    assert {c["class"] for c in classes["api"]} >= {"unauthorized", "rate_limited", "forbidden_path"}


def test_past_the_rate_limit_the_answer_is_429_with_retry_after(tmp_path: Path) -> None:
    origin = "https://app.example"
    settings = {
        "INLET_API_RATE_PER_MINUTE": "7", "INLET_API_UPLOADS_PER_MINUTE": "1",
        "INLET_API_CORS_ORIGINS": json.dumps([origin]),
    }  # fmt: skip
    with serving(tmp_path / "home", "--no-preload", **settings) as url:
        preflight = httpx.options(f"{url}/v1/jobs", headers={
            "Origin": origin, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        })  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == origin
        empty = {"files": ("empty.md", b"")}
        first = httpx.post(f"{url}/v1/jobs", files=empty, data={"collection": "c1"})
        problem_of(first, 422, "nothing_accepted")
        second = problem_of(
            httpx.post(f"{url}/v1/jobs", files=empty, data={"collection": "c1"}), 429, "rate_limited"
        )
        assert "c1" in second["detail"] and second["retryable"] is True
        by_query = httpx.post(f"{url}/v1/jobs", params={"collection": "c1"}, files=empty)
        problem_of(by_query, 429, "rate_limited")  # refused before the body is read
        other = httpx.post(f"{url}/v1/jobs", files=empty, data={"collection": "c2"})
        problem_of(other, 422, "nothing_accepted")  # another collection has its own budget
        for _ in range(3):
            allowed = httpx.get(f"{url}/v1/jobs", headers={"Origin": origin})
            assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == origin
        limited = httpx.get(f"{url}/v1/jobs")
        problem_of(limited, 429, "rate_limited")
        assert 1 <= int(limited.headers["retry-after"]) <= 10
        assert httpx.get(f"{url}/healthz").status_code == 200, "the liveness probe is never limited"


def test_serving_on_every_address_without_a_token_is_refused(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.run(
        [INLET, "serve", "--host", "0.0.0.0", "--port", str(port), "--no-preload"],
        env=server_env(tmp_path / "home"), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "INLET_API_TOKEN" in proc.stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


# --- a server that ingests ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Path]]:
    """A server with a token, a small PDF limit (200 kB), one allowed root; and a client."""
    base = tmp_path_factory.mktemp("api")
    root = base / "allowed"
    root.mkdir()
    settings = {
        "INLET_API_TOKEN": TOKEN, "INLET_MAX_BYTES_PDF": "200000", "INLET_API_ROOTS": json.dumps([str(root)]),
        "INLET_API_HEARTBEAT_S": "2", "INLET_API_MAX_REQUEST_BYTES": str(30 * 1024 * 1024),
        # the local Prefect server logs the errors it answers with 503 (a client retries them later)
        "PREFECT_API_LOG_RETRYABLE_ERRORS": "true",
    }  # fmt: skip
    with serving(base / "home", **settings) as url:
        with httpx.Client(base_url=url, headers=AUTH, timeout=300) as client:
            yield client, base


@pytest.mark.slow
def test_upload_follow_search_and_seek(api: tuple[httpx.Client, Path], shared: Path) -> None:
    client, _ = api
    pdf, wav = shared / "pdfs/pypdf/crazyones.pdf", shared / "audio/pywhispercpp_jfk.wav"
    with open(pdf, "rb") as a, open(wav, "rb") as b:
        answer = client.post("/v1/jobs", files=[("files", a), ("files", b)],
                             data={"collection": "research", "priority": "high"})  # fmt: skip
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert answer.headers["location"] == f"/v1/jobs/{job['job_id']}" == job["links"]["self"]
    assert {(a["name"], a["kind"]) for a in job["accepted"]} == {
        ("crazyones.pdf", "pdf"),
        ("pywhispercpp_jfk.wav", "audio"),
    }
    assert job["rejected"] == [] and job["collection"] == "research" and job["priority"] == "high"

    events = []
    with client.stream("GET", job["links"]["events"]) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = list(read_events(stream))
    assert events[-1]["event"] == "end"
    assert {e["event"] for e in events} <= {"progress", "heartbeat", "end"}
    progress = [e["data"]["progress"] for e in events if e["event"] in ("progress", "end")]
    assert progress == sorted(progress) and progress[-1] == 1.0, progress
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(set(ids))
    final = events[-1]["data"]
    assert final["status"] == "completed" and final["counts"]["ingested"] == 2
    assert {f["file"]: f["message"] for f in final["files"]} == {
        "crazyones.pdf": "ingested", "pywhispercpp_jfk.wav": "ingested"
    }  # fmt: skip
    polled = client.get(job["links"]["self"]).json()
    assert polled["status"] == "completed" and polled["progress"] == 1.0 and polled["eta_s"] == 0.0

    hits = client.get("/v1/search", params={"q": PHRASE, "collection": "research", "limit": 3}).json()[
        "results"
    ]
    top = hits[0]
    assert top["file"] == "pywhispercpp_jfk.wav" and top["kind"] == "audio"
    assert 0 <= top["time_start"] < top["time_end"] <= 12 and "**" in top["snippet"]
    assert top["citation"].startswith("pywhispercpp_jfk.wav, 00:")
    link = top["links"]["file"]
    assert link.startswith(f"/v1/sources/{top['source_id']}/file#t=")
    part = client.get(link.split("#")[0], headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206, part.text
    assert part.headers["content-range"] == f"bytes 1000-1999/{wav.stat().st_size}"
    assert part.content == wav.read_bytes()[1000:2000]

    page = client.get("/v1/search", params={"q": "crazy ones misfits rebels", "kind": "pdf"}).json()[
        "results"
    ][0]
    assert page["file"] == "crazyones.pdf" and page["links"]["file"].endswith("#page=1")
    whole = client.get(page["links"]["file"].split("#")[0])
    assert whole.headers["content-type"] == "application/pdf" and whole.content == pdf.read_bytes()
    shown = client.get(f"/v1/sources/{top['source_id']}").json()
    assert shown["kind"] == "audio" and PHRASE.split()[0] in shown["segments"][0]["text"].lower()
    assert "path" not in shown


@pytest.mark.slow
def test_bad_uploads_are_rejected_beside_a_good_one(api: tuple[httpx.Client, Path], shared: Path) -> None:
    client, base = api
    before = {p for p in base.rglob("*") if "home" not in p.relative_to(base).parts}
    good = (shared / "pdfs/pypdf/hello-world.pdf").read_bytes()
    files = [
        ("files", ("random.pdf", os.urandom(50_000), "application/pdf")),
        ("files", ("zero.md", b"", "text/markdown")),
        ("files", ("big.pdf", (shared / "pdfs/pypdf/issue-604.pdf").read_bytes(), "application/pdf")),
        ("files", ("../../evil.pdf", good, "application/pdf")),
        ("files", ("hello.pdf", good, "application/pdf")),
    ]
    answer = client.post("/v1/jobs", files=files, data={"collection": "hostile"})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert [a["name"] for a in body["accepted"]] == ["hello.pdf"]
    rejected = {r["name"]: r for r in body["rejected"]}
    classes = {name: r["class"] for name, r in rejected.items()}
    assert classes["zero.md"] == "empty" and classes["big.pdf"] == "too_large"
    assert classes["../../evil.pdf"] == "unsafe_name"
    assert classes["random.pdf"] in ("unsupported_format", "damaged_pdf")
    assert all(r["hint"] and r["message"] for r in rejected.values())
    after = {p for p in base.rglob("*") if "home" not in p.relative_to(base).parts}
    assert {p for p in after - before if not p.name.startswith("serve-")} == set(), "written outside the home"
    uploads = [p for p in (base / "home" / "uploads").rglob("*") if p.is_file()]
    assert not [p for p in uploads if p.name.endswith(".part") or "evil" in p.name]
    assert wait_for_job(client, body["job_id"])["status"] == "completed"


@pytest.mark.slow
def test_thirty_concurrent_uploads_from_ten_clients_all_become_jobs(api: tuple[httpx.Client, Path]) -> None:
    client, base = api
    clients = [httpx.Client(base_url=client.base_url, headers=AUTH, timeout=300) for _ in range(10)]
    start = threading.Barrier(30)

    def upload(i: int) -> str:
        start.wait()
        text = f"# Note {i}\n\nField note number {i}: the heron{i} stood in the reeds at dawn.\n"
        answer = clients[i % 10].post("/v1/jobs", files={"files": (f"note-{i}.md", text.encode())},
                                      data={"collection": "notes"})  # fmt: skip
        assert answer.status_code == 202, answer.text
        job_id: str = answer.json()["job_id"]
        return job_id

    try:
        with ThreadPoolExecutor(30) as pool:
            job_ids = list(pool.map(upload, range(30)))
    finally:
        for c in clients:
            c.close()
    assert len(set(job_ids)) == 30
    ends = [wait_for_job(client, job_id, timeout_s=900) for job_id in job_ids]
    assert [e["status"] for e in ends] == ["completed"] * 30
    assert all(e["counts"]["ingested"] == 1 and e["counts"]["failed"] == 0 for e in ends)
    # the worker runs the queued jobs back to back: the next starts as the last ends, not when
    # the idle worker next asks its server (every LOCAL_ASK_S: the 30 jobs took 165 s, 4.4 s apart)
    spans = sorted((dt.datetime.fromisoformat(e["started_at"]), dt.datetime.fromisoformat(e["finished_at"]))
                   for e in ends)  # fmt: skip
    gaps = [(nxt[0] - prev[1]).total_seconds() for prev, nxt in itertools.pairwise(spans)]
    assert statistics.median(gaps) < LOCAL_ASK_S / 2, gaps
    files = {s["file"] for s in client.get("/v1/sources", params={"collection": "notes"}).json()["sources"]}
    assert files == {f"note-{i}.md" for i in range(30)}
    assert client.get("/v1/errors", params={"collection": "notes"}).json()["errors"] == []
    # SQLite refused concurrent writes as "database is locked": the server answered 503 and each
    # refused submit waited seconds for its retry; the local server begins them IMMEDIATE
    server_log = (base / "home" / "logs" / "prefect-server.log").read_text(errors="replace")
    assert "database is locked" not in server_log


@pytest.mark.slow
def test_cancel_and_retry_do_what_the_cli_does(api: tuple[httpx.Client, Path], shared: Path) -> None:
    client, base = api
    root = base / "allowed"
    # retry: a file that fails, then is fixed; retrying submits it again as a new job
    note = root / "later.md"
    note.write_bytes(b"")
    failing = client.post("/v1/jobs", json={"paths": [str(note)], "collection": "retry"}).json()
    ended = wait_for_job(client, failing["job_id"])
    assert ended["status"] == "failed" and ended["files"][0]["error"]["class"] == "empty"
    assert ended["files"][0]["error"]["hint"]
    note.write_text("# Later\n\nThe lighthouse keeper wrote this note after all.\n")
    retried = client.post(f"/v1/jobs/{failing['job_id']}/retry")
    assert retried.status_code == 202
    [new_job] = retried.json()["jobs"]
    assert wait_for_job(client, new_job)["status"] == "completed"
    again = client.post(f"/v1/jobs/{new_job}/retry")
    assert again.status_code == 200 and again.json()["jobs"] == [], "nothing failed in the new job"
    problem_of(client.post("/v1/jobs/0123456789ab/retry"), 404, "unknown_resource")

    # cancel: a job that waits behind a long one is cancelled before it starts
    flac = shared / "audio/fw_jfk.flac"
    long_one = client.post("/v1/jobs", files={"files": flac.open("rb")}, data={"collection": "cancel"}).json()
    queued = client.post("/v1/jobs", json={"paths": [str(root)], "collection": "cancel"}).json()
    outcome = client.post(f"/v1/jobs/{queued['job_id']}/cancel").json()["result"]
    assert outcome in ("cancelled", "cancelling")
    assert wait_for_job(client, queued["job_id"])["status"] == "cancelled"
    assert client.post(f"/v1/jobs/{queued['job_id']}/cancel").json()["result"] == "finished"
    problem_of(client.post("/v1/jobs/0123456789ab/cancel"), 404, "unknown_resource")
    # a client that leaves the event stream stops nothing
    with client.stream("GET", long_one["links"]["events"]) as stream:
        next(read_events(stream))
    assert wait_for_job(client, long_one["job_id"])["status"] == "completed"


def test_an_upload_over_the_request_cap_is_cut_off_and_nothing_kept(light: tuple[str, Path]) -> None:
    url, base = light
    boundary = "inlet-test-boundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="long.md"\r\n'
            "Content-Type: text/markdown\r\n\r\n").encode()  # fmt: skip

    def body() -> Iterator[bytes]:  # no Content-Length: the server counts while it reads
        yield head
        for _ in range(40):  # 40 x 64 kB, over the 1 MB cap
            yield b"word " * 13_107
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = AUTH | {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    answer = httpx.post(f"{url}/v1/jobs", content=body(), headers=headers)
    problem_of(answer, 413, "request_too_large")
    assert not [p for p in (base / "home" / "uploads").rglob("*") if p.is_file()]
    assert httpx.get(f"{url}/v1/jobs", headers=AUTH).json() == {"jobs": []}


@pytest.mark.slow
def test_library_reports_and_health(api: tuple[httpx.Client, Path]) -> None:
    client, _ = api
    text = b"# Tide tables\n\nThe spring tide at Saint-Malo rises fourteen metres.\n"
    job = client.post("/v1/jobs", files={"files": ("tides.md", text)}, data={"collection": "shelf"}).json()
    assert wait_for_job(client, job["job_id"])["status"] == "completed"

    [source] = client.get("/v1/sources", params={"collection": "shelf"}).json()["sources"]
    assert source["file"] == "tides.md" and source["kind"] == "text" and source["chunks"] >= 1
    shown = client.get(source["links"]["self"]).json()
    assert "Saint-Malo" in " ".join(segment["text"] for segment in shown["segments"])
    shelf = next(c for c in client.get("/v1/collections").json()["collections"] if c["collection"] == "shelf")
    assert shelf["sources"] == 1 and shelf["kinds"] == ["text"]
    assert "spring tide" in client.get("/v1/search/suggest", params={"q": "spring ti"}).json()["suggestions"]
    assert client.post("/v1/reindex").json()["rows"] >= source["chunks"]
    stats = client.get("/v1/stats").json()
    assert stats["collections"]["shelf"] == {
        "sources": 1,
        "chunks": source["chunks"],
        "model": "all-MiniLM-L6-v2",
    }

    jobs_csv = client.get("/v1/export", params={"format": "csv", "table": "jobs"})
    assert jobs_csv.headers["content-type"].startswith("text/csv")
    assert jobs_csv.text.splitlines()[0].startswith("job_id") and job["job_id"] in jobs_csv.text
    archive = client.get("/v1/export", params={"format": "md"})
    assert archive.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        assert sorted(z.namelist()) == ["collections.md", "errors.md", "jobs.md", "sources.md"]
        assert "shelf" in z.read("collections.md").decode()

    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert {m["role"] for m in ready.json()["models"]} == {
        "embed", "whisper", "whisper_multilingual", "embed_multilingual"
    }  # fmt: skip

    removed = client.delete(f"/v1/sources/{source['source_id']}", params={"collection": "shelf"}).json()
    assert removed["chunks_removed"] == source["chunks"] and removed["collections"] == ["shelf"]
    assert client.get("/v1/sources", params={"collection": "shelf"}).json()["sources"] == []
    assert (
        client.get("/v1/search", params={"q": "Saint-Malo tide", "collection": "shelf"}).json()["results"]
        == []
    )
    problem_of(client.delete("/v1/collections/shelf"), 404, "unknown_resource")
    problem_of(client.get(f"/v1/sources/{source['source_id']}/file"), 404, "unknown_resource")


@pytest.mark.slow
def test_labels_categories_and_filters(api: tuple[httpx.Client, Path]) -> None:
    from pipelines import cache
    from pipelines.config import get_settings
    from pipelines.extract import extract
    from pipelines.index import index_sources
    from pipelines.search import refresh
    from pipelines.sources import inspect
    from pipelines.store import Store

    client, base = api
    settings = get_settings(home=base / "home")
    samples = REPO / "samples" / "corpus"
    extractions = [extract(inspect(samples / name, settings), settings)
                   for name in ("bill_of_rights.pdf", "gettysburg_address.pdf")]  # fmt: skip
    for extraction in extractions:  # kept, as the ingest flow keeps them, for GET /v1/sources/{id}
        cache.save(extraction, settings)
    index_sources(extractions, collection="charters", settings=settings)
    refresh(Store(settings))

    labels = ["rights: freedoms the law guarantees, speech, religion, trial by jury, amendments",
              "war: battle, soldiers, the dead, a nation at war"]  # fmt: skip
    done = client.put("/v1/collections/charters/labels", json={"labels": labels}).json()
    assert [x["name"] for x in done["labels"]] == ["rights", "war"] and done["sources"] == 2
    got = client.get("/v1/collections/charters/labels").json()
    assert got["labels"][1] == {"name": "war", "description": "battle, soldiers, the dead, a nation at war"}
    rows = client.get("/v1/sources", params={"collection": "charters"}).json()["sources"]
    category = {r["file"]: r["category"] for r in rows}
    assert category == {"bill_of_rights.pdf": "rights", "gettysburg_address.pdf": "war"}
    assert all(r["keywords"] and r["summary"] for r in rows)
    war = client.get("/v1/sources", params={"collection": "charters", "category": "war"}).json()["sources"]
    assert [r["file"] for r in war] == ["gettysburg_address.pdf"]
    hits = client.get(
        "/v1/search", params={"q": "people", "mode": "text", "category": "war", "limit": 20}
    ).json()
    assert hits["results"] and {h["file"] for h in hits["results"]} == {"gettysburg_address.pdf"}
    keyword = next(r for r in rows if r["file"] == "bill_of_rights.pdf")["keywords"][0]
    hits = client.get(
        "/v1/search", params={"q": "law", "mode": "text", "keyword": keyword, "limit": 20}
    ).json()
    assert {h["file"] for h in hits["results"]} <= {"bill_of_rights.pdf"}
    shown = client.get(f"/v1/sources/{war[0]['source_id']}").json()
    assert shown["category"] == "war" and shown["summary"][0]["citation"].startswith(
        "gettysburg_address.pdf, p. "
    )

    problem_of(client.put("/v1/collections/charters/labels", json={"labels": "war"}), 400, "invalid_request")
    problem_of(
        client.put("/v1/collections/charters/labels", json={"labels": [": x"]}), 400, "invalid_request"
    )
    changed = client.put("/v1/collections/charters/labels", json={"labels": ["war: battle, soldiers"]}).json()
    assert [x["name"] for x in changed["labels"]] == ["war"]
    assert client.delete("/v1/collections/charters/labels").json()["labels"] == []
    assert client.get("/v1/collections/charters/labels").json()["labels"] == []
    rows = client.get("/v1/sources", params={"collection": "charters"}).json()["sources"]
    assert [r["category"] for r in rows] == [None, None]
