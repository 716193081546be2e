"""``POST /api/v1/webhooks/<system>/``: Standard Webhooks from expense platforms."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response

from controlplane.api.inbound import inbound_webhook_receive
from controlplane.api.views.base import ApiView


class InboundAck(serializers.Serializer):
    status = serializers.ChoiceField(choices=["accepted", "duplicate"])
    webhook_id = serializers.CharField()


@extend_schema(tags=["webhooks"])
class InboundWebhookView(ApiView):
    """Authenticated by the signature, not by a token; deduplicated by ``webhook-id``."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    idempotent = False  # the webhook-id is the idempotency key

    @extend_schema(
        summary="Receive a signed webhook from an expense platform",
        request={"application/json": OpenApiTypes.OBJECT},
        parameters=[
            OpenApiParameter("webhook-id", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-timestamp", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter("webhook-signature", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={202: InboundAck, 200: InboundAck},
        auth=[],
    )
    def post(self, request, system: str):
        row, created = inbound_webhook_receive(system_code=system, headers=request.headers, body=request._request.body)
        # A replayed id is acknowledged (so the sender stops retrying) but not processed again.
        return Response({"status": "accepted" if created else "duplicate", "webhook_id": row.webhook_id},
                        status=202 if created else 200)
