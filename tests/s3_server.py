"""A real S3 API on 127.0.0.1 (moto's threaded server) for the tests that put audio or caches on `s3://`.

Credentials are throwaway values; the endpoint reaches fsspec the way a user's would, through fsspec's
`FSSPEC_S3_ENDPOINT_URL` (read at import by child processes) and its live config (this process).
"""

from __future__ import annotations

import contextlib
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

moto_server = pytest.importorskip("moto.server")
fsspec = pytest.importorskip("fsspec")
pytest.importorskip("s3fs")
pytest.importorskip("upath")


@dataclass
class S3:
    endpoint: str
    env: dict[str, str]  # what a child process (a stage, a Ray node) needs to reach it
    fs: Any

    def put_file(self, local: Any, key: str) -> str:
        self.fs.put_file(str(local), key)
        return f"s3://{key}"


@contextlib.contextmanager
def s3_server(bucket: str = "songs") -> Iterator[S3]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto keeps its buckets per process, not per server: start every test from an empty store
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=30)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,
    }
    saved_env = {k: os.environ.get(k) for k in env}
    saved_conf = fsspec.config.conf.get("s3")
    os.environ.update(env)
    fsspec.config.conf["s3"] = {"endpoint_url": endpoint}
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    try:
        fs = fsspec.filesystem("s3")
        fs.mkdir(bucket)
        yield S3(endpoint=endpoint, env=env, fs=fs)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
        if saved_conf is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved_conf
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()
