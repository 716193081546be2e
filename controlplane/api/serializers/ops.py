"""Event subscriptions, exceptions and outbox replay as the API shows them."""

from __future__ import annotations

from rest_framework import serializers

from controlplane.events.models import EventType, Subscription
from controlplane.exceptions.models import ExceptionRecord


class SubscriptionOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    system = serializers.SlugRelatedField(read_only=True, slug_field="code")
    legal_entities = serializers.SlugRelatedField(read_only=True, many=True, slug_field="code")
    event_types = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Subscription
        fields = ["id", "system", "url", "event_types", "legal_entities", "active", "disabled_reason",
                  "failure_count", "last_success_at", "last_failure_at", "created_at"]


class SubscriptionWithSecretOut(SubscriptionOut):
    secret = serializers.CharField(read_only=True, help_text="Shown once: store it now (whsec_…).")

    class Meta(SubscriptionOut.Meta):
        fields = [*SubscriptionOut.Meta.fields, "secret"]


_EVENT_CHOICES = ["*", *EventType.values]


class SubscriptionCreate(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=_EVENT_CHOICES), min_length=1, max_length=32)
    legal_entities = serializers.ListField(
        child=serializers.CharField(max_length=32), required=False, max_length=64,
        help_text="Entity codes; default: every entity the caller may touch.",
    )
    system = serializers.CharField(max_length=64, required=False,
                                   help_text="Staff only: the system that owns the endpoint (tokens: always their own).")


class DisableRequest(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class ExceptionOut(serializers.ModelSerializer):
    legal_entity = serializers.SlugRelatedField(read_only=True, slug_field="code", allow_null=True)
    system = serializers.SlugRelatedField(read_only=True, slug_field="code", allow_null=True)
    subject_type = serializers.SerializerMethodField()

    class Meta:
        model = ExceptionRecord
        fields = ["id", "kind", "severity", "status", "title", "detail", "legal_entity", "system",
                  "subject_type", "object_id", "resolution", "created_at", "closed_at"]

    def get_subject_type(self, obj) -> str | None:
        return obj.content_type.model if obj.content_type_id else None


class ResolveRequest(serializers.Serializer):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReplayRequest(serializers.Serializer):
    job_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=2**62), min_length=1, max_length=500)
    reason = serializers.CharField(min_length=3, max_length=500)


class ReplayResult(serializers.Serializer):
    replayed = serializers.ListField(child=serializers.IntegerField())
    skipped = serializers.ListField(child=serializers.IntegerField())
