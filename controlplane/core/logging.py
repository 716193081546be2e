"""Logging filter adding the correlation id to every record."""

from __future__ import annotations

import logging

from controlplane.core.correlation import get_correlation_id


class CorrelationIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "correlation_id", ""):
            record.correlation_id = get_correlation_id()
        return True
