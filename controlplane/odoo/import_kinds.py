"""One function per master-data kind: match each Odoo record to ours and sync it.

Matching is binding first, then a natural key (code, email, name, unique rate), so that a
record created by hand on both sides is bound rather than duplicated. See
:mod:`controlplane.odoo.imports` for the counts and the ownership rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from django.db import transaction

from controlplane.connections.services import binding_upsert, mapping_resolve
from controlplane.masterdata import models as md
from controlplane.odoo.imports import ImportContext, KindCounts, sync_record
from integrations.odoo import types as ot

RATE_PLACES = Decimal("0.0000000001")


def _mapped(ctx: ImportContext, mapping_kind: str, *external_codes: str) -> str | None:
    """The canonical code a value mapping gives for the first of ``external_codes`` that has one."""
    for code in external_codes:
        if code:
            found = mapping_resolve(system=ctx.system, kind=mapping_kind, external_code=code, on=dt.date.today())
            if found:
                return found
    return None


def companies(ctx: ImportContext, records: list[ot.OdooCompany], counts: KindCounts) -> None:
    """Companies are bound to legal entities (never created): binding, mapping, then name."""
    for c in records:
        entity = ctx.bound("res.company", c.odoo_id, md.LegalEntity)
        if entity is None:
            code = _mapped(ctx, "legal_entity", str(c.odoo_id), c.name)
            entity = (md.LegalEntity.objects.filter(code=code).first() if code
                      else md.LegalEntity.objects.filter(name__iexact=c.name).first())
        if entity is None:
            counts.add("unmatched", f"res.company#{c.odoo_id} {c.name!r}: no legal entity (map it: kind legal_entity)")
            continue
        previous = ctx.bindings("res.company").filter(external_id=str(c.odoo_id)).first()
        data = {**(previous.data if previous else {}), "name": c.name, "currency_id": c.currency_id,
                "currency_code": c.currency_code, "partner_id": c.partner_id}
        sync_record(ctx, counts, kind="legal_entity", existing=entity, lookup={}, values={"name": c.name},
                    odoo_model="res.company", odoo_id=c.odoo_id, data=data)


def currencies(ctx: ImportContext, records: list[ot.OdooCurrency], counts: KindCounts) -> None:
    for c in records:
        if len(c.code) != 3:
            counts.add("unmatched", f"res.currency#{c.odoo_id}: {c.code!r} is not an ISO code")
            continue
        existing = ctx.bound("res.currency", c.odoo_id, md.Currency) or md.Currency.objects.filter(code=c.code).first()
        sync_record(ctx, counts, kind="currency", existing=existing, lookup={"code": c.code},
                    values={"name": c.name or c.code, "active": c.active},
                    odoo_model="res.currency", odoo_id=c.odoo_id)


def currency_rates(ctx: ImportContext, records: list[ot.OdooCurrencyRate], counts: KindCounts) -> None:
    """Odoo keeps units of the currency per unit of the company currency: both directions are stored."""
    default_base = next((d.get("currency_code") for d in ctx.company_data.values() if d.get("currency_code")), "")
    for r in records:
        base_code = (ctx.company_data.get(r.company_id or 0) or {}).get("currency_code") or default_base
        base = md.Currency.objects.filter(code=base_code).first()
        quote = md.Currency.objects.filter(code=r.currency_code).first()
        if base is None or quote is None or r.rate <= 0 or base == quote:
            counts.add("unmatched", f"res.currency.rate#{r.odoo_id}: {base_code}->{r.currency_code} unknown")
            continue
        forward = r.rate.quantize(RATE_PLACES)
        existing = md.ExchangeRate.objects.filter(from_currency=base, to_currency=quote, date=r.date).first()
        sync_record(ctx, counts, kind="exchange_rate", existing=existing,
                    lookup={"from_currency": base, "to_currency": quote, "date": r.date},
                    values={"rate": forward, "source": "odoo"}, odoo_model="res.currency.rate", odoo_id=r.odoo_id)
        inverse = (Decimal(1) / r.rate).quantize(RATE_PLACES)
        back = md.ExchangeRate.objects.filter(from_currency=quote, to_currency=base, date=r.date).first()
        sync_record(ctx, KindCounts(), kind="exchange_rate", existing=back,
                    lookup={"from_currency": quote, "to_currency": base, "date": r.date},
                    values={"rate": inverse, "source": "odoo"}, odoo_model="res.currency.rate", odoo_id=r.odoo_id,
                    bind=False)


def accounts(ctx: ImportContext, records: list[ot.OdooAccount], counts: KindCounts) -> None:
    for a in records:
        entities = [e for cid in (a.company_ids or (None,)) for e in ctx.entities_for(cid)]
        if not entities:
            counts.add("unmatched", f"account.account#{a.odoo_id}: company not bound to a legal entity")
            continue
        bound = ctx.bound("account.account", a.odoo_id, md.GLAccount)
        for entity in dict.fromkeys(entities):
            existing = bound if bound is not None and bound.legal_entity_id == entity.pk else \
                md.GLAccount.objects.filter(legal_entity=entity, code=a.code).first()
            sync_record(ctx, counts, kind="gl_account", existing=existing,
                        lookup={"legal_entity": entity, "code": a.code},
                        values={"name": a.name[:128], "account_type": a.account_type, "active": a.active},
                        odoo_model="account.account", odoo_id=a.odoo_id)


def taxes(ctx: ImportContext, records: list[ot.OdooTax], counts: KindCounts) -> None:
    """Purchase taxes as tax codes (percent taxes only: a code carries a rate)."""
    for t in records:
        if t.type_tax_use == "sale":
            continue
        if t.amount_type != "percent":
            counts.add("unmatched", f"account.tax#{t.odoo_id}: {t.amount_type} taxes are not imported")
            continue
        entities = ctx.entities_for(t.company_id)
        if not entities:
            counts.add("unmatched", f"account.tax#{t.odoo_id}: company not bound to a legal entity")
            continue
        bound = ctx.bound("account.tax", t.odoo_id, md.TaxCode)
        for entity in entities:
            existing = bound if bound is not None and bound.legal_entity_id == entity.pk else _match_tax(ctx, entity, t)
            code = t.name[:32]
            if existing is None and md.TaxCode.objects.filter(legal_entity=entity, code=code).exists():
                code = f"{t.name[:20]}-{t.odoo_id}"
            sync_record(ctx, counts, kind="tax_code", existing=existing,
                        lookup={"legal_entity": entity, "code": code},
                        values={"name": t.name[:128], "rate": t.amount, "price_included": t.price_include,
                                "active": t.active},
                        odoo_model="account.tax", odoo_id=t.odoo_id,
                        data={"name": t.name, "amount": str(t.amount), "price_include": t.price_include})


def _match_tax(ctx: ImportContext, entity: md.LegalEntity, t: ot.OdooTax) -> md.TaxCode | None:
    by_code = md.TaxCode.objects.filter(legal_entity=entity, code=t.name[:32]).first()
    if by_code is not None:
        return by_code
    bound_ids = ctx.bindings("account.tax").values_list("object_id", flat=True)
    same_rate = list(md.TaxCode.objects.filter(legal_entity=entity, rate=t.amount, active=True)
                     .exclude(pk__in=[int(i) for i in bound_ids if i.isdigit()])[:2])
    return same_rate[0] if len(same_rate) == 1 else None


def journals(ctx: ImportContext, records: list[ot.OdooJournal], counts: KindCounts) -> None:
    """Journals live in the company binding's data (``journals``, ``purchase_journal_id``)."""
    by_company: dict[int, list[ot.OdooJournal]] = {}
    for j in records:
        company_ids = [j.company_id] if j.company_id else list(ctx.entity_of_company)
        if not any(cid in ctx.entity_of_company for cid in company_ids):
            counts.add("unmatched", f"account.journal#{j.odoo_id}: company not bound")
        for cid in company_ids:
            if cid in ctx.entity_of_company:
                by_company.setdefault(cid, []).append(j)
    for cid, items in by_company.items():
        with transaction.atomic():
            binding = ctx.bindings("res.company").select_for_update().get(external_id=str(cid))
            data = dict(binding.data)
            known = dict(data.get("journals") or {})
            for j in items:
                entry = {"code": j.code, "name": j.name, "type": j.type, "active": j.active}
                counts.add("unchanged" if known.get(str(j.odoo_id)) == entry else "updated")
                known[str(j.odoo_id)] = entry
            data["journals"] = known
            purchase = sorted(int(i) for i, v in known.items() if v["type"] == "purchase" and v["active"])
            data["purchase_journal_id"] = purchase[0] if purchase else None
            if data != binding.data:
                binding_upsert(actor=ctx.actor, system=ctx.system, record=ctx.entity_of_company[cid],
                               external_model="res.company", external_id=cid, data=data)
    ctx.refresh_companies()


def analytic_accounts(ctx: ImportContext, records: list[ot.OdooAnalyticAccount], counts: KindCounts) -> None:
    for a in records:
        entities = ctx.entities_for(a.company_id)
        if not entities:
            counts.add("unmatched", f"account.analytic.account#{a.odoo_id}: company not bound")
            continue
        bound = ctx.bound("account.analytic.account", a.odoo_id, md.AnalyticAccount)
        code = (a.code or f"odoo-{a.odoo_id}")[:64]
        for entity in entities:
            existing = bound if bound is not None and bound.legal_entity_id == entity.pk else (
                md.AnalyticAccount.objects.filter(legal_entity=entity, code=code).first()
                or md.AnalyticAccount.objects.filter(legal_entity=entity, name__iexact=a.name).first())
            sync_record(ctx, counts, kind="analytic_account", existing=existing,
                        lookup={"legal_entity": entity, "code": code},
                        values={"name": a.name[:128], "active": a.active},
                        odoo_model="account.analytic.account", odoo_id=a.odoo_id)


def expense_products(ctx: ImportContext, records: list[ot.OdooProduct], counts: KindCounts) -> None:
    """Expensable products as categories (binding: category ↔ product.product), plus the
    category's accounting per entity when Odoo owns it."""
    for p in records:
        existing = ctx.bound("product.product", p.odoo_id, md.ExpenseCategory) or _match_category(ctx, p)
        code = (p.default_code or f"ODOO-{p.odoo_id}").upper().replace(" ", "")[:32]
        category = sync_record(ctx, counts, kind="expense_category", existing=existing, lookup={"code": code},
                               values={"name": p.name[:128], "active": p.active},
                               odoo_model="product.product", odoo_id=p.odoo_id,
                               data={"name": p.name, "default_code": p.default_code})
        if category is None:
            continue
        for entity in ctx.entities_for(p.company_id):
            values = {}
            account = ctx.bound("account.account", p.expense_account_id or 0, md.GLAccount)
            if account is not None and account.legal_entity_id == entity.pk:
                values["gl_account_id"] = account.pk
            tax = ctx.bound("account.tax", p.supplier_tax_ids[0], md.TaxCode) if p.supplier_tax_ids else None
            if tax is not None and tax.legal_entity_id == entity.pk:
                values["default_tax_id"] = tax.pk
            existing_acc = md.CategoryAccounting.objects.filter(category=category, legal_entity=entity).first()
            sub = KindCounts()
            sync_record(ctx, sub, kind="category_accounting", existing=existing_acc,
                        lookup={"category": category, "legal_entity": entity}, values=values,
                        odoo_model="product.product", odoo_id=p.odoo_id, bind=False)
            for outcome, n in sub.counter.items():
                counts.counter[f"accounting_{outcome}"] += n


def _match_category(ctx: ImportContext, p: ot.OdooProduct) -> md.ExpenseCategory | None:
    code = _mapped(ctx, "category", p.default_code, str(p.odoo_id), p.name)
    if code:
        return md.ExpenseCategory.objects.filter(code=code).first()
    if p.default_code:
        found = md.ExpenseCategory.objects.filter(code__iexact=p.default_code).first()
        if found:
            return found
    return md.ExpenseCategory.objects.filter(name__iexact=p.name).first()


def departments(ctx: ImportContext, records: list[ot.OdooDepartment], counts: KindCounts) -> None:
    synced = []
    for d in records:
        entities = ctx.entities_for(d.company_id)[:1]
        if not entities:
            counts.add("unmatched", f"hr.department#{d.odoo_id}: company not bound")
            continue
        entity = entities[0]
        existing = ctx.bound("hr.department", d.odoo_id, md.Department) or \
            md.Department.objects.filter(legal_entity=entity, name__iexact=d.name).first()
        record = sync_record(ctx, counts, kind="department", existing=existing,
                             lookup={"legal_entity": entity, "code": f"ODOO-{d.odoo_id}"},
                             values={"name": d.name[:128], "active": d.active},
                             odoo_model="hr.department", odoo_id=d.odoo_id)
        if record is not None:
            synced.append((record, d))
    for record, d in synced:  # parents may come later in the same batch
        parent = ctx.bound("hr.department", d.parent_id, md.Department) if d.parent_id else None
        if parent is not None and parent.legal_entity_id == record.legal_entity_id:
            sync_record(ctx, KindCounts(), kind="department", existing=record, lookup={},
                        values={"parent_id": parent.pk}, odoo_model="hr.department", odoo_id=d.odoo_id)


def employees(ctx: ImportContext, records: list[ot.OdooEmployee], counts: KindCounts) -> None:
    """Employees are matched by binding, then work email; created only when Odoo owns them."""
    synced = []
    for e in records:
        entities = ctx.entities_for(e.company_id)[:1]
        existing = ctx.bound("hr.employee", e.odoo_id, md.Employee)
        if existing is None and e.work_email:
            existing = md.Employee.objects.filter(email__iexact=e.work_email).first()
        if existing is None and (not entities or "@" not in e.work_email):
            counts.add("unmatched", f"hr.employee#{e.odoo_id}: no work email or company not bound")
            continue
        first, _, last = e.name.strip().rpartition(" ")
        values = {"first_name": (first or last)[:64], "last_name": (last if first else "-")[:64],
                  "active": e.active}
        if e.work_email:
            values["email"] = e.work_email.lower()
        department = ctx.bound("hr.department", e.department_id, md.Department) if e.department_id else None
        if department is not None:
            values["department_id"] = department.pk
        entity = existing.legal_entity if existing else entities[0]
        record = sync_record(ctx, counts, kind="employee", existing=existing,
                             lookup={"legal_entity": entity, "code": f"ODOO-{e.odoo_id}"}, values=values,
                             odoo_model="hr.employee", odoo_id=e.odoo_id)
        if record is not None:
            synced.append((record, e))
    for record, e in synced:
        manager = ctx.bound("hr.employee", e.manager_id, md.Employee) if e.manager_id else None
        if manager is not None and manager.pk != record.pk:
            sync_record(ctx, KindCounts(), kind="employee", existing=record, lookup={},
                        values={"manager_id": manager.pk}, odoo_model="hr.employee", odoo_id=e.odoo_id)


def partners(ctx: ImportContext, records: list[ot.OdooPartner], counts: KindCounts) -> None:
    """Company partners as vendors (the companies' own partners excluded)."""
    own = {d.get("partner_id") for d in ctx.company_data.values()}
    for p in records:
        if p.odoo_id in own:
            continue
        entities = ctx.entities_for(p.company_id)[:1] if p.company_id else []
        entity = entities[0] if entities else None
        existing = ctx.bound("res.partner", p.odoo_id, md.Vendor)
        if existing is None and p.vat:
            existing = md.Vendor.objects.filter(vat=p.vat).first()
        if existing is None:
            existing = md.Vendor.objects.filter(name__iexact=p.name, legal_entity=entity).first()
        sync_record(ctx, counts, kind="vendor", existing=existing,
                    lookup={"legal_entity": entity, "name": p.name[:128]},
                    values={"vat": p.vat[:32], "active": p.active}, odoo_model="res.partner", odoo_id=p.odoo_id)


HANDLERS: dict[str, Callable[[ImportContext, list, KindCounts], None]] = {
    "companies": companies, "currencies": currencies, "currency_rates": currency_rates,
    "accounts": accounts, "taxes": taxes, "journals": journals, "analytic_accounts": analytic_accounts,
    "expense_products": expense_products, "departments": departments, "employees": employees,
    "partners": partners,
}
QUERY_DOMAINS = {"partners": [("is_company", "=", True)]}
