"""The only module that talks to SQS: the poller's dead-letter queue (``POLLER_DLQ_URL``).

boto3 finds its credentials the usual way (the Lambda's role, ``AWS_ACCESS_KEY_ID``...); ``AWS_ENDPOINT_URL``
points it at another server (a moto server in tests). Callers catch ``DeadLetterQueueError``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings


class DeadLetterQueueError(Exception):
    """SQS refused or could not be reached."""


class DeadLetterQueue:
    def __init__(self, *, queue_url: str, region: str, endpoint_url: str | None = None, client: Any = None) -> None:
        self.queue_url = queue_url
        self._client = client or boto3.client("sqs", region_name=region, endpoint_url=endpoint_url or None)

    def send(self, body: dict[str, Any], *, deduplication_id: str) -> str:
        """Send one message; its SQS message id. FIFO queues get one message group and the dedup id."""
        message: dict[str, Any] = {"QueueUrl": self.queue_url, "MessageBody": json.dumps(body, sort_keys=True)}
        if self.queue_url.endswith(".fifo"):
            message |= {"MessageGroupId": "poller-dead-letters", "MessageDeduplicationId": deduplication_id}
        try:
            answer = self._client.send_message(**message)
        except (BotoCoreError, ClientError) as exc:
            raise DeadLetterQueueError(str(exc)) from exc
        return str(answer["MessageId"])


_queues: dict[tuple[str, str, str], DeadLetterQueue] = {}
_lock = threading.Lock()


def dead_letter_queue() -> DeadLetterQueue | None:
    """The configured queue (one client per process and URL), or None when ``POLLER_DLQ_URL`` is unset."""
    url = settings.POLLER_DLQ_URL
    if not url:
        return None
    key = (url, settings.AWS_REGION, settings.AWS_ENDPOINT_URL)
    with _lock:
        if key not in _queues:
            _queues.clear()  # settings changed: keep one client, not one per configuration ever seen
            _queues[key] = DeadLetterQueue(queue_url=url, region=settings.AWS_REGION,
                                           endpoint_url=settings.AWS_ENDPOINT_URL or None)
        return _queues[key]
