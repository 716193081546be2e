"""Audit history: every domain and integration model keeps ``HistoricalRecords``.

``audit_history()`` is the one way models declare it. Each historical row carries, beside
django-simple-history's own user, date and change reason, the external system that acted
and the correlation id. They are filled from the current :func:`acting` block — the one
signal receiver we tolerate (CONVENTIONS.md: audit history is the exception to "no signals").
"""

from __future__ import annotations

from django.db import models
from django.dispatch import receiver
from simple_history.manager import HistoryDescriptor
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from controlplane.core.actors import current_actor
from controlplane.core.correlation import get_correlation_id


class AuditFields(models.Model):
    """Extra columns on every historical model."""

    history_system = models.CharField(
        max_length=64, blank=True, default="", help_text="External system that made the change, if any."
    )
    history_correlation_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        abstract = True


def audit_history(**kwargs) -> HistoricalRecords:
    """``HistoricalRecords`` with our audit columns and a text change reason."""
    kwargs.setdefault("bases", [AuditFields])
    kwargs.setdefault("history_change_reason_field", models.TextField(null=True))
    return HistoricalRecords(**kwargs)


def _history_manager(self, instance, owner):
    # simple-history builds a new manager class (``from_queryset``: an ``inspect.getmembers``
    # walk) on every ``Model.history`` access — each history row written pays for it. The
    # class depends only on the descriptor, so build it once per descriptor.
    manager_class = self.__dict__.get("_controlplane_manager_class")
    if manager_class is None:
        manager_class = self._controlplane_manager_class = self.manager_class.from_queryset(self.queryset_class)
    return manager_class(self.model, instance)


HistoryDescriptor.__get__ = _history_manager


@receiver(pre_create_historical_record)
def _stamp_actor(sender, history_instance, **kwargs) -> None:
    actor = current_actor()
    if actor is not None:
        if actor.user is not None and getattr(actor.user, "pk", None):
            history_instance.history_user = actor.user
        if hasattr(history_instance, "history_system"):
            history_instance.history_system = actor.system_code
        if actor.reason and not history_instance.history_change_reason:
            history_instance.history_change_reason = actor.reason
    if hasattr(history_instance, "history_correlation_id"):
        history_instance.history_correlation_id = get_correlation_id()
