"""Employee export: make sure Odoo has an ``hr.employee`` for each of ours.

Idempotent by construction (binding first, then search, then create): an
employee is looked up by its binding, then by our external id
(``controlplane.employee_<local id>``), then by ``work_email``; only those
still missing are created, all in one ``create`` call. Odoo creates the work
contact (partner) from the employee's name and work email itself (17+), which
is what expense posting needs: a bill's vendor and the ``work_email`` check.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from integrations.errors import PermanentError
from integrations.odoo import mappers
from integrations.odoo.adapters import EmployeeAdapter, ExternalIdAdapter, ModelAdapter
from integrations.odoo.binder import Binder
from integrations.odoo.client import OdooClient
from integrations.odoo.types import EmployeeExport, EmployeeExportResult

logger = logging.getLogger(__name__)
MODEL = "hr.employee"


def employee_xmlid(local_id: str) -> str:
    return "employee_" + re.sub(r"[^A-Za-z0-9_\-]", "_", local_id)


def export_employees(
    client: OdooClient,
    employees: Sequence[EmployeeExport],
    *,
    binder: Binder,
    use_external_ids: bool = True,
) -> list[EmployeeExportResult | PermanentError]:
    """Bind or create each employee; one result (or per-employee error) per input, in order.

    Raises retryable errors for the batch as a whole; a retry finds what the
    interrupted attempt created (by external id or work email).
    """
    results: dict[str, EmployeeExportResult | PermanentError] = {}
    todo = []
    for employee in employees:
        if "@" not in (employee.work_email or ""):
            results[employee.local_id] = PermanentError(
                "a work email is required (Odoo posts expenses only for employees with one)",
                code="invalid")
        else:
            todo.append(employee)
    bound = binder.odoo_ids(MODEL, [e.local_id for e in todo])
    existing = _existing(client, bound)
    for employee in todo:
        if employee.local_id in bound and bound[employee.local_id] in existing:
            results[employee.local_id] = EmployeeExportResult(employee.local_id, bound[employee.local_id], False)
    todo = [e for e in todo if e.local_id not in results]

    xmlids = _xmlid_lookup(client, todo) if use_external_ids else {}
    by_email = {
        row["work_email"].lower(): row["id"]
        for row in EmployeeAdapter(client).by_work_emails(
            [e.work_email for e in todo if e.local_id not in xmlids], ["work_email"])
        if row.get("work_email")
    }
    missing = []
    for employee in todo:
        odoo_id = xmlids.get(employee.local_id) or by_email.get(employee.work_email.lower())
        if odoo_id:
            binder.bind(MODEL, employee.local_id, odoo_id)
            results[employee.local_id] = EmployeeExportResult(employee.local_id, odoo_id, False)
        else:
            missing.append(employee)
    results.update(_create(client, missing, binder=binder, use_external_ids=use_external_ids))
    return [results[e.local_id] for e in employees]


def _existing(client: OdooClient, bound: dict[str, int]) -> set[int]:
    if not bound:
        return set()
    rows = ModelAdapter(client, MODEL).search_read(
        [("id", "in", sorted(set(bound.values()))), ("active", "in", [True, False])], ["id"])
    return {row["id"] for row in rows}


def _xmlid_lookup(client: OdooClient, employees: Sequence[EmployeeExport]) -> dict[str, int]:
    names = {employee_xmlid(e.local_id): e.local_id for e in employees}
    try:
        found = ExternalIdAdapter(client).lookup(list(names), MODEL)
    except PermanentError as exc:
        if exc.code != "AccessError":
            raise
        logger.warning("no access to ir.model.data: %s", exc.message)
        return {}
    return {names[name]: res_id for name, res_id in found.items()}


def _create(client: OdooClient, employees: list[EmployeeExport], *, binder: Binder,
            use_external_ids: bool) -> dict[str, EmployeeExportResult | PermanentError]:
    """Create in one call; on a permanent error, one call per employee to isolate it."""
    if not employees:
        return {}
    results: dict[str, EmployeeExportResult | PermanentError] = {}
    try:
        batches = [(employees, ModelAdapter(client, MODEL).create([_vals(e) for e in employees]))]
    except PermanentError:
        batches = []
        for employee in employees:
            try:
                batches.append(([employee], ModelAdapter(client, MODEL).create([_vals(employee)])))
            except PermanentError as exc:
                results[employee.local_id] = exc
    for batch, ids in batches:
        if use_external_ids:
            try:
                ModelAdapter(client, "ir.model.data").create(
                    [dict(mappers.xmlid_vals("", MODEL, odoo_id), name=employee_xmlid(e.local_id))
                     for e, odoo_id in zip(batch, ids, strict=True)])
            except PermanentError as exc:
                logger.warning("employee external ids not written: %s", exc.message)
        for employee, odoo_id in zip(batch, ids, strict=True):
            binder.bind(MODEL, employee.local_id, odoo_id)
            results[employee.local_id] = EmployeeExportResult(employee.local_id, odoo_id, True)
    return results


def _vals(employee: EmployeeExport) -> dict:
    vals = {"name": employee.name, "work_email": employee.work_email}
    for field, value in (("company_id", employee.company_id), ("department_id", employee.department_id),
                         ("parent_id", employee.manager_id)):
        if value:
            vals[field] = value
    return vals
