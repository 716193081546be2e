"""Seed the demo organisation (idempotent) and print the demo logins."""

from django.core.management.base import BaseCommand

from controlplane.demo.seed import DEMO_PASSWORD, STAFF, seed_organisation


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        seed_organisation()
        self.stdout.write(f"Demo logins (password: {DEMO_PASSWORD}):")
        for login, (_role, label) in STAFF.items():
            self.stdout.write(f"  {login:<12} {label}")
        self.stdout.write("  us-mgr, fr-mgr ... approvers (employees of each entity)")
