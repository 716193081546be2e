"""Event subscriptions, exceptions and outbox replay."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response

from controlplane.api.models import Scope
from controlplane.api.serializers import ops as s
from controlplane.api.views.base import ApiMixin, ApiView
from controlplane.connections.models import ExternalSystem
from controlplane.core.errors import FieldProblem, ValidationFailed
from controlplane.events import services as events
from controlplane.events.models import Subscription
from controlplane.exceptions.models import ExceptionRecord
from controlplane.exceptions.services import exception_resolve
from controlplane.masterdata.models import LegalEntity


# --- event subscriptions ------------------------------------------------------------------
class SubscriptionScope:
    def subscriptions(self):
        qs = Subscription.objects.select_related("system").prefetch_related("legal_entities")
        if self.caller.system is not None:
            qs = qs.filter(system=self.caller.system)
        if not self.caller.all_entities:
            # Visible only when every entity it serves is within the caller's.
            outside = LegalEntity.objects.exclude(pk__in=self.caller.entity_ids)
            qs = qs.exclude(legal_entities__in=outside)
        return qs

    def subscription(self, sid):
        return get_object_or_404(self.subscriptions(), public_id=sid)


@extend_schema(tags=["events"])
class SubscriptionListCreate(SubscriptionScope, ApiMixin, generics.ListAPIView):
    required_scope = Scope.EVENTS_MANAGE
    serializer_class = s.SubscriptionOut

    def get_queryset(self):
        return self.subscriptions()

    @extend_schema(summary="List event subscriptions")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(summary="Subscribe an endpoint to events", request=s.SubscriptionCreate,
                   responses={201: s.SubscriptionWithSecretOut})
    def post(self, request):
        data = s.SubscriptionCreate(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        caller = self.caller
        if caller.system is not None:
            if v.get("system") not in (None, caller.system.code):
                raise ValidationFailed(errors=[FieldProblem("system", "not_allowed", "A token subscribes its own system only.")])
            system = caller.system
        else:
            system = ExternalSystem.objects.filter(code=v.get("system") or "").first()
            if system is None:
                raise ValidationFailed(errors=[FieldProblem("system", "unknown", "Name the system owning the endpoint.")])
        entities = caller.entity_filter(LegalEntity.objects.all(), path="pk")
        if "legal_entities" in v:
            wanted = set(v["legal_entities"])
            entities = list(entities.filter(code__in=wanted))
            missing = wanted - {e.code for e in entities}
            if missing:
                raise ValidationFailed(errors=[FieldProblem("legal_entities", "unknown", f"Unknown entities: {', '.join(sorted(missing))}.")])
        sub = events.subscription_create(actor=caller.actor, system=system, url=v["url"], event_types=v["event_types"],
                                         legal_entities=entities)
        return Response(s.SubscriptionWithSecretOut(sub).data, status=201)


@extend_schema(tags=["events"])
class SubscriptionDetail(SubscriptionScope, ApiView):
    required_scope = Scope.EVENTS_MANAGE

    @extend_schema(summary="Get an event subscription", responses={200: s.SubscriptionOut})
    def get(self, request, sid):
        return Response(s.SubscriptionOut(self.subscription(sid)).data)


@extend_schema(tags=["events"])
class SubscriptionRotate(SubscriptionScope, ApiView):
    required_scope = Scope.EVENTS_MANAGE

    @extend_schema(summary="Rotate the signing secret (the old one signs too for 24 h)", request=None,
                   responses={200: s.SubscriptionWithSecretOut})
    def post(self, request, sid):
        sub = events.subscription_rotate_secret(actor=self.caller.actor, subscription_id=self.subscription(sid).pk)
        return Response(s.SubscriptionWithSecretOut(sub).data)


@extend_schema(tags=["events"])
class SubscriptionDisable(SubscriptionScope, ApiView):
    required_scope = Scope.EVENTS_MANAGE

    @extend_schema(summary="Disable an event subscription", request=s.DisableRequest, responses={200: s.SubscriptionOut})
    def post(self, request, sid):
        data = s.DisableRequest(data=request.data)
        data.is_valid(raise_exception=True)
        sub = events.subscription_disable(actor=self.caller.actor, subscription_id=self.subscription(sid).pk,
                                          reason=data.validated_data["reason"])
        return Response(s.SubscriptionOut(sub).data)


# --- exceptions -----------------------------------------------------------------------------
class ExceptionScope:
    def exceptions(self):
        qs = ExceptionRecord.objects.select_related("legal_entity", "system", "content_type")
        caller = self.caller
        if caller.system is not None:
            # A system sees the exceptions about its own traffic, within its entities.
            qs = qs.filter(system=caller.system).filter(Q(legal_entity__isnull=True) | Q(legal_entity__in=caller.entity_ids))
        return qs


@extend_schema(tags=["exceptions"], summary="List exceptions", parameters=[
    OpenApiParameter("status", str, enum=["open", "in_progress", "resolved", "overridden", "dismissed"]),
    OpenApiParameter("kind", str),
])
class ExceptionList(ExceptionScope, ApiMixin, generics.ListAPIView):
    required_scope = Scope.EXCEPTIONS_READ
    serializer_class = s.ExceptionOut

    def get_queryset(self):
        qs = self.exceptions()
        for name in ("status", "kind"):
            value = self.request.query_params.get(name)
            if value:
                qs = qs.filter(**{name: value})
        return qs


@extend_schema(tags=["exceptions"])
class ExceptionDetail(ExceptionScope, ApiView):
    required_scope = Scope.EXCEPTIONS_READ

    @extend_schema(summary="Get an exception", responses={200: s.ExceptionOut})
    def get(self, request, pk: int):
        return Response(s.ExceptionOut(get_object_or_404(self.exceptions(), pk=pk)).data)


@extend_schema(tags=["exceptions"])
class ExceptionResolve(ExceptionScope, ApiView):
    required_scope = Scope.EXCEPTIONS_WRITE

    @extend_schema(summary="Resolve an exception", request=s.ResolveRequest, responses={200: s.ExceptionOut})
    def post(self, request, pk: int):
        data = s.ResolveRequest(data=request.data)
        data.is_valid(raise_exception=True)
        record = get_object_or_404(self.exceptions(), pk=pk)
        record = exception_resolve(actor=self.caller.actor, exception_id=record.pk, note=data.validated_data["note"])
        return Response(s.ExceptionOut(record).data)


# --- outbox replay -------------------------------------------------------------------------
@extend_schema(tags=["sync"])
class OutboxReplay(ApiView):
    required_scope = Scope.SYNC_REPLAY

    @extend_schema(summary="Replay dead or waiting outbox jobs", request=s.ReplayRequest, responses={200: s.ReplayResult})
    def post(self, request):
        from controlplane.sync.models import OutboxJob
        from controlplane.sync.services import outbox_replay

        data = s.ReplayRequest(data=request.data)
        data.is_valid(raise_exception=True)
        jobs = OutboxJob.objects.filter(pk__in=data.validated_data["job_ids"])
        if self.caller.system is not None:
            jobs = jobs.filter(target=self.caller.system)  # a system replays only its own traffic
        visible = list(jobs.values_list("pk", flat=True))
        replayed = outbox_replay(actor=self.caller.actor, job_ids=visible, reason=data.validated_data["reason"])
        done = sorted(j.pk for j in replayed)
        skipped = sorted(set(data.validated_data["job_ids"]) - set(done))
        return Response({"replayed": done, "skipped": skipped})
