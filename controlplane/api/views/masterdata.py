"""Master data: read within the caller's entities; bulk upsert from the owning system."""

from __future__ import annotations

from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response

from controlplane.api.bulk import KINDS, MAX_ROWS, Kind, masterdata_bulk_upsert
from controlplane.api.models import Scope
from controlplane.api.serializers.masterdata import BulkResult
from controlplane.api.views.base import ApiMixin, ApiView


def _list_view(slug: str, kind: Kind) -> type:
    class MasterDataList(ApiMixin, generics.ListAPIView):
        required_scope = Scope.MASTERDATA_READ
        serializer_class = kind.out

        def get_queryset(self):
            qs = kind.model._default_manager.all()
            if kind.per_entity:
                qs = self.caller.entity_filter(qs).select_related("legal_entity")
                code = self.request.query_params.get("legal_entity")
                if code:
                    qs = qs.filter(legal_entity__code=code)
            since = parse_datetime(self.request.query_params.get("updated_since") or "")
            if since is not None:
                qs = qs.filter(updated_at__gte=since)
            return qs

    params = [OpenApiParameter("updated_since", str, description="ISO 8601 timestamp: only records changed since.")]
    if kind.per_entity:
        params.append(OpenApiParameter("legal_entity", str, description="Legal entity code."))
    MasterDataList = extend_schema(tags=["master data"], parameters=params, summary=f"List {slug}")(MasterDataList)
    MasterDataList.__name__ = MasterDataList.__qualname__ = f"{kind.model.__name__}List"
    return MasterDataList


def _bulk_view(slug: str, kind: Kind) -> type:
    class BulkRequest(serializers.Serializer):
        items = kind.row(many=True, max_length=MAX_ROWS, allow_empty=False)

    BulkRequest.__name__ = f"{kind.model.__name__}BulkRequest"

    class MasterDataBulk(ApiView):
        required_scope = Scope.MASTERDATA_WRITE

        @extend_schema(tags=["master data"], request=BulkRequest, responses={200: BulkResult},
                       summary=f"Upsert {slug} in bulk (per-row results)")
        def post(self, request):
            items = request.data.get("items") if isinstance(request.data, dict) else None
            if not isinstance(items, list) or not items or len(items) > MAX_ROWS:
                raise serializers.ValidationError({"items": [f"A list of 1 to {MAX_ROWS} rows."]})
            # Rows are validated one by one so one bad row does not sink the others.
            return Response(masterdata_bulk_upsert(caller=self.caller, kind=kind, rows=items))

    MasterDataBulk.__name__ = MasterDataBulk.__qualname__ = f"{kind.model.__name__}Bulk"
    return MasterDataBulk


VIEWS = {slug: (_list_view(slug, kind), _bulk_view(slug, kind)) for slug, kind in KINDS.items()}
