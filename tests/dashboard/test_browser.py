"""The dashboard in a real browser: ``inlet dashboard`` on a free port, headless Debian Chromium.

Bad uploads are refused with a message each (nothing queued, nothing written outside the home);
a PDF and a recording are uploaded, both reach done on the Jobs page, and a phrase spoken in the
recording is found with its timestamp. Screenshots of every page are kept under
``tests/artifacts/dashboard/`` (ignored by git; the path is printed).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import strings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "corpus"
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "tests" / "artifacts" / "dashboard"
PDF_LIMIT = (
    3000  # bytes: gettysburg_address.pdf (2.5 kB) passes, declaration_of_independence.pdf (5 kB) does not
)
SPOKEN = "ask not what your country can do for you"
JOB_DONE_TIMEOUT_S = 600
SEARCH_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``inlet dashboard`` with its own home, a small PDF limit; yields its URL and home."""
    if not CHROMIUM.exists():
        pytest.skip("Debian Chromium is not installed (scripts/test.sh installs it)")
    pytest.importorskip("playwright.sync_api")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INLET_") or k == "INLET_MODELS_DIR"}
    env |= {"INLET_HOME": str(home), "INLET_MAX_BYTES_PDF": str(PDF_LIMIT)}
    port = free_port()
    log = open(tmp_path / "dashboard.log", "w")  # noqa: SIM115 - closed below
    inlet_command = Path(sys.executable).parent / "inlet"
    server = subprocess.Popen([str(inlet_command), "dashboard", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise AssertionError((tmp_path / "dashboard.log").read_text()) from None
                time.sleep(0.3)
        yield url, home
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        _stop_worker(home)


def _stop_worker(home: Path) -> None:
    """End the local worker the dashboard's submission started (by the pid in its lock file)."""
    lock = home / "queue" / "worker.lock"
    try:
        os.kill(int(lock.read_text().split()[0]), 15)
    except (ValueError, OSError, IndexError):
        pass


def files_outside(root: Path, home: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() and home not in p.parents}


def settle(page) -> None:  # noqa: ANN001
    """Wait until Streamlit finished running the script (its status widget is gone)."""
    page.wait_for_timeout(500)
    page.get_by_test_id("stStatusWidget").wait_for(state="hidden", timeout=120_000)
    page.wait_for_function(
        '() => !document.querySelector(\'[data-testid="stSkeleton"], [data-stale="true"]\')',
        timeout=120_000,
    )
    page.wait_for_timeout(300)


def shoot(page, name: str, *, wait: bool = True) -> Path:  # noqa: ANN001
    """A full-page screenshot, once the page finished its run (``wait``)."""
    if wait:
        settle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def as_payload(path: Path) -> dict:
    """A file for ``set_input_files`` given as bytes (Playwright does not mix paths and bytes)."""
    return {"name": path.name, "mimeType": "application/octet-stream", "buffer": path.read_bytes()}


def upload(page, files: list) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)
    expect(page.get_by_test_id("stFileChip")).to_have_count(len(files))
    settle(page)
    page.get_by_role("button", name=strings.UPLOAD_BUTTON).click()
    settle(page)


def test_upload_watch_and_search_in_chromium(served: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)  # the first run of a page imports Prefect, LanceDB, ...

    url, home = served
    outside_before = files_outside(tmp_path, home)
    timings: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(180_000)
        try:
            drive(page, url, home, tmp_path, outside_before, timings)
        except BaseException:
            print(f"\nfailed; the page at that moment: {shoot(page, 'failure', wait=False)}")
            raise
        finally:
            browser.close()

    assert files_outside(tmp_path, home) == outside_before
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2))
    print(f"\nscreenshots in {ARTIFACTS}; timings {timings}")


def drive(page, url: str, home: Path, tmp_path: Path, outside_before: set[Path], timings: dict) -> None:  # noqa: ANN001
    """The user's path through the dashboard (see the module docstring)."""
    from playwright.sync_api import expect

    # --- bad uploads: a message each, nothing queued, nothing outside the home ---------------
    page.goto(f"{url}/upload")
    expect(page.get_by_role("heading", name=strings.UPLOAD_TITLE)).to_be_visible()
    settle(page)
    shoot(page, "01-upload-empty")
    pdf = (SAMPLES / "gettysburg_address.pdf").read_bytes()
    upload(page, [
        {"name": "../../evil.pdf", "mimeType": "application/pdf", "buffer": pdf},
        {"name": "tool.exe", "mimeType": "application/octet-stream", "buffer": bytes(range(256)) * 16},
        as_payload(SAMPLES / "declaration_of_independence.pdf"),
    ])  # fmt: skip
    alerts = page.get_by_test_id("stAlertContentError")
    expect(alerts).to_have_count(3)
    texts = alerts.all_inner_texts()
    assert "was not accepted" in texts[0] and "folder path" in texts[0], texts
    assert "tool.exe was not accepted: Unsupported file type" in texts[1], texts
    assert "declaration_of_independence.pdf was not accepted: The pdf file is 5.0 kB" in texts[2], texts
    expect(page.get_by_text(strings.UPLOAD_NONE_ACCEPTED)).to_be_visible()
    shoot(page, "02-upload-rejected")
    import inlet

    assert inlet.jobs(home=home).height == 0, "a job was queued"
    assert not [p for p in (home / "queue").rglob("*.json")] if (home / "queue").exists() else True
    assert (
        not [p for p in (home / "uploads").rglob("*") if p.is_file()] if (home / "uploads").exists() else True
    )
    assert files_outside(tmp_path, home) == outside_before
    assert not list(tmp_path.parent.rglob("evil.pdf"))

    # --- a PDF and a recording become one job ---------------------------------------------
    started = time.monotonic()
    upload(page, [str(SAMPLES / "gettysburg_address.pdf"), str(SAMPLES / "jfk_inaugural_excerpt.wav")])
    success = page.get_by_test_id("stAlertContentSuccess")
    expect(success).to_contain_text("2 files accepted")
    job_id = re.search(r"job ([0-9a-f]{6,})", success.inner_text()).group(1)
    shoot(page, "03-upload-accepted")
    page.get_by_role("link", name=strings.UPLOAD_SEE_JOB).click()
    page.wait_for_url(re.compile(rf"/jobs\?job={job_id}"))
    expect(page.get_by_role("heading", name=strings.JOBS_TITLE)).to_be_visible()
    page.wait_for_timeout(3000)
    shoot(page, "04-jobs-running")
    done_label = f"Job {job_id} · default · {strings.JOB_STATUS['completed']}"
    page.get_by_text(done_label).first.wait_for(timeout=JOB_DONE_TIMEOUT_S * 1000)
    timings["upload_to_done_s"] = time.monotonic() - started
    page.wait_for_timeout(2500)  # one more refresh of the fragment
    shoot(page, "05-jobs-done")
    expect(page.get_by_text(re.compile(r"^2 files, 0 failed · priority normal"))).to_be_visible()
    expect(page.get_by_test_id("stDataFrame")).to_have_count(1)  # the job's files (drawn on a canvas)

    # --- the spoken phrase is found, with its timestamp -------------------------------------
    page.goto(f"{url}/?q={SPOKEN.replace(' ', '+')}")
    heading = page.get_by_text(re.compile(r"jfk_inaugural_excerpt\.wav, \d\d:\d\d\.\d–\d\d:\d\d\.\d")).first
    heading.wait_for(timeout=SEARCH_TIMEOUT_S * 1000)  # the first search loads the embedder
    timings["upload_to_searchable_s"] = time.monotonic() - started
    settle(page)
    expect(page.locator("audio")).to_have_count(1)
    shoot(page, "06-search-spoken")

    for name in ("library", "statistics", "errors", "health"):
        page.goto(f"{url}/{name}")
        expect(page.get_by_role("heading", name=getattr(strings, f"{name.upper()}_TITLE"))).to_be_visible()
        settle(page)
        shoot(page, f"07-{name}")
