"""The poller's dead-letter queues as Terraform builds them (modules/poller), against a moto SQS server:
a dead letter the app sends through its SQS client can be read by an operator, and one that keeps
failing its processing moves to the archive queue by the redrive policy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from calls.poller.dlq import DeadLetterQueue
from tests.aws.conftest import REGION, client

POLLER_TF = Path(__file__).resolve().parents[2] / "deploy" / "terraform" / "modules" / "poller" / "main.tf"


def _max_receive_count() -> int:
    match = re.search(r"maxReceiveCount\s*=\s*(\d+)", POLLER_TF.read_text())
    assert match, "modules/poller/main.tf must give the dead letters a redrive policy"
    return int(match.group(1))


@pytest.fixture
def queues(aws):  # noqa: ANN001, ANN201
    sqs = client("sqs", aws)
    archive = sqs.create_queue(QueueName="callmcp-ci-poller-dead-letters-archive")["QueueUrl"]
    archive_arn = sqs.get_queue_attributes(QueueUrl=archive, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dead_letters = sqs.create_queue(QueueName="callmcp-ci-poller-dead-letters", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": archive_arn, "maxReceiveCount": _max_receive_count()}),
    })["QueueUrl"]
    return sqs, dead_letters, archive


def test_a_dead_letter_that_keeps_failing_is_redriven_to_the_archive(aws, queues):
    sqs, dead_letters, archive = queues
    queue = DeadLetterQueue(queue_url=dead_letters, region=REGION, endpoint_url=aws)
    message_id = queue.send({"call_id": "c-1", "error": "provider timeout"}, deduplication_id="c-1:5")

    for _ in range(_max_receive_count()):  # a consumer that reads it and never deletes it
        received = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=1, WaitTimeSeconds=0)
        assert [m["MessageId"] for m in received.get("Messages", [])] == [message_id]
        assert json.loads(received["Messages"][0]["Body"]) == {"call_id": "c-1", "error": "provider timeout"}

    assert sqs.receive_message(QueueUrl=dead_letters, WaitTimeSeconds=0).get("Messages", []) == []
    archived = sqs.receive_message(QueueUrl=archive, WaitTimeSeconds=0)["Messages"]
    assert [json.loads(m["Body"])["call_id"] for m in archived] == ["c-1"]
