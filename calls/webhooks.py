"""Bland's post-call webhook and live events: ``POST /api/v1/webhooks/bland``.

Public by design (Bland sends no token) and CSRF-exempt (a DRF view without session auth): the
``X-Webhook-Signature`` header, hex HMAC-SHA256 of the raw body with ``BLAND_WEBHOOK_SECRET``, is the
credential. A verified payload is handed to the ``calls.process_webhook`` task and answered at once;
the task applies it through ``calls.services``, which is idempotent, so a redelivery changes nothing.
Live events (``webhook_events``: the call connecting, each line said) come to the same URL, signed the same
way, and go to ``calls.process_live_event`` (``calls.live_events``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from calls import errors
from calls.apis import JsonWhateverTheClientAccepts
from calls.providers.bland import BlandClient
from calls.serializers import ErrorSerializer, WebhookAckSerializer
from calls.tasks import process_live_event, process_webhook

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Webhook-Signature"


def signature_for(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(*, secret: str, body: bytes, signature: str) -> bool:
    """Constant-time check against the raw body; then against the body as JavaScript's JSON.stringify
    writes it, because Bland's own sample signs the re-serialised object (bland_api.md section 12)."""
    if not secret or not signature:
        return False
    signature = signature.strip().lower()
    if hmac.compare_digest(signature_for(secret, body), signature):
        return True
    try:
        compact = json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()
    except ValueError:
        return False
    return compact != body and hmac.compare_digest(signature_for(secret, compact), signature)


def payload_from(body: bytes) -> dict[str, Any]:
    """The details object Bland posts; ``WebhookPayloadInvalid`` unless it is a JSON object with a call id."""
    try:
        payload = json.loads(body)
    except ValueError:
        raise errors.WebhookPayloadInvalid(reason="The body is not JSON.") from None
    if not isinstance(payload, dict):
        raise errors.WebhookPayloadInvalid(reason="The body must be a JSON object (Bland's call details).")
    call_id = payload.get("call_id") or payload.get("c_id")
    if not isinstance(call_id, str) or not call_id.strip():
        raise errors.WebhookPayloadInvalid(reason="The payload has no call_id.")
    return payload


class BlandWebhookApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JsonWhateverTheClientAccepts

    @extend_schema(
        tags=["webhooks"], operation_id="webhooks_bland", summary="Bland post-call webhook and live events (signed)",
        description=("Bland posts the call-details object when a call ends, and live events (`{message, call_id, "
                     "category}`: the call connecting, each line said) while it runs. Verified with "
                     f"`{SIGNATURE_HEADER}` (hex HMAC-SHA256 of the raw body), then applied asynchronously. "
                     "Unknown calls are accepted and ignored; redeliveries change nothing."),
        auth=[], request=OpenApiTypes.OBJECT,
        parameters=[OpenApiParameter(SIGNATURE_HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=True)],
        responses={200: WebhookAckSerializer, 400: OpenApiResponse(ErrorSerializer),
                   401: OpenApiResponse(ErrorSerializer)},
    )
    def post(self, request: Request) -> Response:
        body = request.body
        if not signature_valid(secret=settings.BLAND_WEBHOOK_SECRET, body=body,
                               signature=request.headers.get(SIGNATURE_HEADER, "")):
            if not settings.BLAND_WEBHOOK_SECRET:
                logger.error("Bland webhook refused: BLAND_WEBHOOK_SECRET is not set")
            raise errors.WebhookSignatureInvalid()
        payload = payload_from(body)
        call_id = str(payload.get("call_id") or payload.get("c_id"))
        if BlandClient.is_live_event(payload):
            process_live_event.delay(payload)
        else:
            process_webhook.delay(payload)  # no transaction is open here: the task may run at once
        return Response({"received": True, "call_id": call_id})
