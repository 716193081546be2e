"""Issue an API token for an external system and print it once."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from controlplane.api.models import Scope
from controlplane.api.tokens import api_token_issue
from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor
from controlplane.core.errors import DomainError
from controlplane.masterdata.models import LegalEntity


class Command(BaseCommand):
    help = "Issue a bearer token for an external system (printed once; only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("system", help="ExternalSystem code")
        parser.add_argument("--scope", action="append", default=[], choices=Scope.values, dest="scopes")
        parser.add_argument("--all-scopes", action="store_true")
        parser.add_argument("--entity", action="append", default=[], dest="entities",
                            help="Legal entity code (repeat); default: every entity the system serves")
        parser.add_argument("--days", type=int, default=365, help="Days until expiry (0: never)")
        parser.add_argument("--name", default="")

    def handle(self, *args, system, scopes, all_scopes, entities, days, name, **options):
        found = ExternalSystem.objects.filter(code=system).first()
        if found is None:
            raise CommandError(f"No external system {system!r}.")
        entity_qs = LegalEntity.objects.filter(code__in=entities) if entities else found.legal_entities.all()
        try:
            _, clear = api_token_issue(
                actor=Actor(reason="issued with manage.py api_token_issue"), system=found,
                scopes=list(Scope.values) if all_scopes else scopes, legal_entities=entity_qs,
                expires_at=timezone.now() + timedelta(days=days) if days else None, name=name,
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(clear)
