"""The embedded broker: kombu's filesystem transport, with atomic message files.

kombu writes each message straight into its final ``*.<queue>.msg`` name, so a worker
listing the folder can pick up a file that is still empty or half written and die with
``JSONDecodeError`` (celery/kombu#1551). Here a message is written under a name the reader
ignores (``….msg.tmp``) and renamed into place, which is atomic on one file system.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` on ``queue``; readers see the whole file or nothing."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".tmp"  # the reader matches "<queue>.msg" after the first dot exactly
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def install() -> None:
    """Make ``filesystem://`` broker URLs use this transport (call before Celery connects)."""
    TRANSPORT_ALIASES["filesystem"] = "controlplane.core.broker:Transport"
