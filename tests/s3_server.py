"""An S3-compatible server on loopback (moto in server mode) and the store of a team in it.

Shared by the object-store tests (the ``s3_endpoint`` fixture of ``tests/conftest.py``), the
test of several workers and ``bench/scale.py --store``: start the server, make a bucket, give a
process the AWS variables that reach it, list the keys under a store.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MOTO = Path(sys.executable).with_name("moto_server")
KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
"""moto takes any keys; these are the ones every process of a test uses."""


@contextmanager
def serving_s3(timeout_s: float = 30.0) -> Iterator[str]:
    """moto's S3 server on a free loopback port until the block ends; its URL.

    Raises:
        FileNotFoundError: moto's server is not installed (``pip install 'moto[server]'``).
        RuntimeError: it did not answer within ``timeout_s``.
    """
    from flows.local_server import free_port

    if not MOTO.exists():
        raise FileNotFoundError(f"moto's server is not installed ({MOTO}); pip install 'moto[server]'")
    port = free_port()
    server = subprocess.Popen(
        [str(MOTO), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=2).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's S3 server did not start on {url}") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def aws_env(endpoint: str) -> dict[str, str]:
    """The AWS variables a process needs to reach the server at ``endpoint``."""
    return {"AWS_ENDPOINT_URL": endpoint, **KEYS}


def new_store(endpoint: str, prefix: str = "team-kb") -> str:
    """A new empty bucket on the server; the store address ``s3://<bucket>/<prefix>``."""
    from pyarrow import fs

    bucket = f"inlet-{uuid.uuid4().hex[:10]}"
    creator = fs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"), scheme="http",
        access_key=KEYS["AWS_ACCESS_KEY_ID"], secret_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        region=KEYS["AWS_REGION"], allow_bucket_creation=True,
    )  # fmt: skip
    creator.create_dir(bucket)
    return f"s3://{bucket}/{prefix}"


def object_keys(uri: str, under: str) -> list[str]:
    """The object keys under ``<uri>/<under>``, relative to it (read with this process's AWS
    variables)."""
    from pyarrow import fs

    from pipelines import objstore

    remote = objstore.at(uri)
    root = remote.path(under)
    selector = fs.FileSelector(root, recursive=True, allow_not_found=True)
    infos = remote.filesystem().get_file_info(selector)
    return sorted(i.path.removeprefix(root + "/") for i in infos if i.type == fs.FileType.File)
