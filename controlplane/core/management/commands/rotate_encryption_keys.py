"""Re-encrypt every encrypted value under the first key of FIELD_ENCRYPTION_KEYS.

Rotation: put the new key first (keep the old ones after it), run this command, then
remove the old keys from the environment.
"""

from django.core.management.base import BaseCommand

from controlplane.core.crypto import rotate_encrypted_fields


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args, **options):
        count = rotate_encrypted_fields()
        self.stdout.write(f"re-encrypted {count} value(s)")
