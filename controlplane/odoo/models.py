"""Integration state of the Odoo connection: import cursors, the posting ledger and
reconciliation runs. Business state stays on the business models (an expense knows it is
posted; which Odoo document holds it is here and in ``connections.Binding``)."""

from __future__ import annotations

from django.db import models

from controlplane.core.history import audit_history
from controlplane.core.models import TimeStamped


class ImportCursor(TimeStamped):
    """The high-water mark of the master-data import of one Odoo model kind from one system.

    ``watermark`` is the newest ``write_date`` read (UTC); the next run asks Odoo for records
    written after it. Each run saves the row, so its history is the log of import runs with
    their counts.
    """

    system = models.ForeignKey("connections.ExternalSystem", on_delete=models.CASCADE, related_name="odoo_cursors")
    kind = models.CharField(max_length=32, help_text="Importer kind, e.g. accounts, taxes, employees.")
    watermark = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_counts = models.JSONField(default=dict, blank=True)
    history = audit_history()

    class Meta:
        ordering = ["system", "kind"]
        constraints = [models.UniqueConstraint(fields=["system", "kind"], name="uniq_odoo_cursor")]

    def __str__(self) -> str:
        return f"{self.system.code}:{self.kind} @ {self.watermark or '-'}"
