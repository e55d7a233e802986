"""A real S3 server on loopback for the recordings tests: moto's server in a thread."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

S3_REGION = "us-east-1"
S3_ACCESS_KEY_ID = "AKIACALLWRIGHTTEST01"
S3_SECRET_ACCESS_KEY = "callwright-test-s3-secret-" + "s" * 16


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=S3_REGION,
            aws_access_key_id=S3_ACCESS_KEY_ID,
            aws_secret_access_key=S3_SECRET_ACCESS_KEY,
        )

    def new_bucket(self) -> str:
        name = f"recordings-{secrets.token_hex(4)}"
        self.client().create_bucket(Bucket=name)
        return name

    def settings(self, bucket: str, **extra: Any) -> dict[str, Any]:
        """The ``Settings`` fields that keep recordings in ``bucket`` on this server."""
        return {
            "recordings_s3_bucket": bucket,
            "recordings_s3_endpoint_url": self.endpoint_url,
            "recordings_s3_region": S3_REGION,
            "recordings_s3_access_key_id": S3_ACCESS_KEY_ID,
            "recordings_s3_secret_access_key": S3_SECRET_ACCESS_KEY,
        } | extra


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}")
    finally:
        server.stop()
