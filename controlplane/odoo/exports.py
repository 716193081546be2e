"""Employee export: make sure Odoo has an ``hr.employee`` (with a work email) for ours.

Idempotent through bindings: an employee already bound is not looked up again; otherwise
the connector finds it by our external id or work email before creating it (in one call).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controlplane.connections.models import Binding, ExternalSystem
from controlplane.core.actors import Actor
from controlplane.masterdata import models as md
from controlplane.odoo.binder import DjangoBinder
from controlplane.odoo.connection import odoo_client
from integrations.errors import PermanentError
from integrations.odoo.client import OdooClient
from integrations.odoo.employees import export_employees
from integrations.odoo.types import EmployeeExport


@dataclass(frozen=True)
class EmployeeExportOutcome:
    employee_id: int
    odoo_id: int | None
    created: bool = False
    error: str = ""


def _bound(system: ExternalSystem, odoo_model: str, record) -> int | None:
    if record is None:
        return None
    b = Binding.objects.filter(system=system, external_model=odoo_model, object_id=str(record.pk),
                               content_type__model=record._meta.model_name,
                               content_type__app_label=record._meta.app_label).first()
    return int(b.external_id) if b else None


def employee_export_record(system: ExternalSystem, employee: md.Employee) -> EmployeeExport:
    """What Odoo is told about ``employee``: name, work email, and the company, department
    and manager when they are bound."""
    return EmployeeExport(
        local_id=str(employee.pk), name=employee.full_name, work_email=employee.email,
        company_id=_bound(system, "res.company", employee.legal_entity),
        department_id=_bound(system, "hr.department", employee.department),
        manager_id=_bound(system, "hr.employee", employee.manager),
    )


def odoo_export_employees(*, actor: Actor, system: ExternalSystem, employees: Iterable[md.Employee],
                          client: OdooClient | None = None) -> list[EmployeeExportOutcome]:
    """Bind or create each employee in Odoo; one outcome per employee, in order.

    Per-employee refusals (no work email, Odoo validation) are outcomes with ``error``;
    failures of the batch as a whole raise the connector's retryable/permanent errors.
    """
    employees = list(employees)
    if not employees:
        return []
    client = client or odoo_client(system)
    records = [employee_export_record(system, e) for e in employees]
    binder = DjangoBinder(actor=actor, system=system, records={str(e.pk): e for e in employees})
    results = export_employees(client, records, binder=binder)
    outcomes = []
    for employee, result in zip(employees, results, strict=True):
        if isinstance(result, PermanentError):
            outcomes.append(EmployeeExportOutcome(employee.pk, None, error=result.message))
        else:
            outcomes.append(EmployeeExportOutcome(employee.pk, result.odoo_id, created=result.created))
    return outcomes
