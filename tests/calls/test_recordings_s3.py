"""Recordings kept on S3 (django-storages) when a bucket is configured, against a moto S3 server: the
real boto3 client does the talking; only AWS's HTTP endpoint is local."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from calls import services
from calls.models import CallStatus
from calls.providers.bland import BlandClient
from calls.providers.simulator import BackgroundSimulator
from calls.recordings import recording_link

BUCKET = "callmcp-recordings"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):  # noqa: ANN001, ANN201
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET, "endpoint_url": s3_endpoint, "addressing_style": "path",
                "access_key": CREDENTIALS["aws_access_key_id"], "secret_key": CREDENTIALS["aws_secret_access_key"],
                "region_name": CREDENTIALS["region_name"], "default_acl": None, "file_overwrite": False,
                "signature_version": "s3v4",
            },
        },
    }
    return s3_endpoint


@pytest.fixture
def simulator() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(time_scale=0, public_url="http://127.0.0.1:9") as sim:
        yield sim


@pytest.fixture
def provider(simulator: BackgroundSimulator) -> Iterator[BlandClient]:
    client = BlandClient(base_url=simulator.url, api_key="sim-key", retries=0)
    yield client
    client.close()


def test_a_recording_is_fetched_once_stored_on_s3_and_served_by_a_presigned_url(
    db, make_user, s3_storage, simulator, provider, api, user, settings
):  # noqa: ANN001
    call = services.call_place(provider=provider, user=user, to_number="+12125550100", task="Confirm the delivery",
                               record=True, max_duration=3)
    simulator.advance(120)
    call = services.call_refresh(provider=provider, call=call)
    assert call.status == CallStatus.COMPLETED

    call = services.call_attach_recording(provider=provider, call=call)
    key = call.recording_file.name
    stored = boto3.client("s3", endpoint_url=s3_storage, **CREDENTIALS).get_object(Bucket=BUCKET, Key=key)
    audio = stored["Body"].read()
    with wave.open(io.BytesIO(audio)) as parsed:
        assert parsed.getnframes() > 0
    assert call.recording_content_type == "audio/wav"
    assert services.call_attach_recording(provider=provider, call=call).recording_file.name == key  # fetched once

    answer = api.get(f"/api/v1/calls/{call.id}/recording/")  # what getCallRecording returns too
    assert answer.status_code == 200
    url = answer.json()["url"]
    link = urlsplit(url)
    assert f"{link.scheme}://{link.netloc}" == s3_storage  # straight from S3, not through our server
    assert link.path == f"/{BUCKET}/{key}"
    query = parse_qs(link.query)
    assert query["X-Amz-Expires"] == [str(settings.RECORDING_LINK_TTL_SECONDS)]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Signature"]
    response = httpx.get(url, timeout=10)  # no credentials: the signature is the only authority
    assert response.status_code == 200
    assert response.content == audio


def test_a_local_recording_is_served_by_our_signed_download_link(db, make_user, simulator, provider, client,
                                                                  settings, tmp_path):  # noqa: ANN001
    settings.MEDIA_ROOT = tmp_path
    user = make_user(credits=1_000)
    call = services.call_place(provider=provider, user=user, to_number="+12125550100", task="Confirm the delivery",
                               record=True, max_duration=3)
    simulator.advance(120)
    call = services.call_attach_recording(provider=provider, call=services.call_refresh(provider=provider, call=call))
    link = urlsplit(recording_link(call)[0])
    assert link.path == f"/api/v1/calls/{call.id}/recording/download"
    response = client.get(f"{link.path}?{link.query}")
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/wav"
    with call.recording_file.open("rb") as handle:
        assert response.content == handle.read()
