"""OpenAPI generation: the Idempotency-Key header on POSTs, problem responses everywhere,
and the bearer-token security scheme."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from controlplane.api.idempotency import HEADER


class ProblemFieldSerializer(serializers.Serializer):
    field = serializers.CharField()
    code = serializers.CharField()
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="Stable machine-readable error code.")
    errors = ProblemFieldSerializer(many=True)
    correlation_id = serializers.CharField(required=False)

    class Meta:
        ref_name = "Problem"


_COMMON = ("400", "401", "403", "404", "406", "415", "422", "429")
_BY_METHOD = {"POST": ("409", "413"), "PUT": ("409", "413"), "PATCH": ("409", "413"), "DELETE": ("409",)}


class ApiAutoSchema(AutoSchema):
    def get_override_parameters(self):
        params = list(super().get_override_parameters())
        if self.method == "POST" and getattr(self.view, "idempotent", False):
            params.append(OpenApiParameter(
                HEADER, str, OpenApiParameter.HEADER, required=True,
                description="Unique per logical operation (1–255 printable ASCII); the first response is replayed for 48 h.",
            ))
        return params

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in (*_COMMON, *_BY_METHOD.get(self.method, ())):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ProblemSerializer, code, media_types=["application/problem+json"], direction=direction
                )
        return responses


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "controlplane.api.authentication.ApiTokenAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "cpt_<prefix>_<secret>"}
