"""Seed the demo organisation (idempotent), print the demo logins, and issue the expense
platform's API token the first time (printed once: only its hash is stored)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from controlplane.api.models import ApiToken
from controlplane.core.actors import Actor
from controlplane.demo.scenario import PLATFORM_SCOPES, issue_token
from controlplane.demo.seed import DEMO_PASSWORD, PLATFORM_CODE, STAFF, seed_organisation

TOKEN_NAME = "demo platform token"


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        seed_organisation()
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for login, (_role, label) in STAFF.items():
            self.stdout.write(f"  {login:<12} {label}")
        self.stdout.write("  us-mgr, us-vp, us-ceo, fr-mgr ... approvers; us-fin, fr-fin finance reviewers")
        existing = ApiToken.objects.filter(system__code=PLATFORM_CODE, name=TOKEN_NAME, revoked_at__isnull=True).first()
        if existing is not None:
            self.stdout.write(f"Expense platform token already issued ({existing.prefix}…); "
                              "revoke it in the admin and run this again for a new one.")
            return
        with transaction.atomic():
            clear = issue_token(actor=Actor(reason="demo seed"), code=PLATFORM_CODE, scopes=PLATFORM_SCOPES,
                                name=TOKEN_NAME)
        self.stdout.write(self.style.WARNING(
            f"Expense platform ({PLATFORM_CODE}) API token, shown once:\n  {clear}\n"
            f"  scopes: {', '.join(PLATFORM_SCOPES)}; e.g.\n"
            f"  curl -H 'Authorization: Bearer {clear}' http://127.0.0.1:8000/api/v1/expenses/"))
