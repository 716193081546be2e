"""Linking an expense to a journal entry Odoo already holds (entered by hand), from the
service and from the admin; and the amount-mismatch text names each amount once."""

from __future__ import annotations

import datetime as dt
import xmlrpc.client

import pytest

from controlplane.connections.models import Binding
from controlplane.core.errors import Conflict
from controlplane.odoo.models import ItemKind, ItemStatus, PostingLedger
from controlplane.odoo.reconciliation import reconciliation_run
from controlplane.odoo.reconciliation_actions import reconciliation_item_link
from tests.odoo.test_posting import mapped, mode  # noqa: F401 - fixtures
from tests.odoo.test_reconciliation import move_of, post_each

pytestmark = pytest.mark.django_db
LINK_ACTION = "link_existing"


def hand_made_bill(rpc, ref: str = "VENDOR-INV-77") -> dict:
    """A posted vendor bill of 100 + 15% tax, entered in Odoo by a person with their own ref."""
    [move_id] = rpc("account.move", "create", [{
        "move_type": "in_invoice", "ref": ref, "partner_id": 3, "invoice_date": dt.date.today().isoformat(),
        "invoice_line_ids": [(0, 0, {"name": "typed by hand", "price_unit": 100.0, "quantity": 1,
                                     "tax_ids": [(6, 0, [2])]})]}])
    rpc("account.move", "action_post", [move_id])
    return rpc("account.move", "read", [move_id], ["name", "ref", "amount_total"])[0]


@pytest.fixture
def missing_item(odoo_system, entity, mapped, rpc, worker):  # noqa: F811
    """A posted vendor bill deleted in Odoo, reported missing by a reconciliation run."""
    entity.posting_mode = "journal_entry"
    entity.save()
    [expense] = post_each(entity, mapped, odoo_system, 1)
    rpc("account.move", "unlink", [move_of(odoo_system, expense)])
    return reconciliation_run(actor=worker, system=odoo_system).items.get(kind=ItemKind.MISSING)


def test_linking_a_bill_entered_by_hand_makes_the_next_run_clean(odoo_system, missing_item, rpc, worker):
    # given a bill typed into Odoo by hand, with the vendor's own reference
    bill = hand_made_bill(rpc)
    reference = missing_item.reference
    # when finance links the missing expense to it by its number
    item = reconciliation_item_link(actor=worker, item_id=missing_item.pk, odoo_move_id=bill["name"],
                                    reason="the bill was entered by hand")
    # then the item is actioned, naming the entry and the reference it carried before
    assert item.status == ItemStatus.ACTIONED and item.action == "link"
    assert bill["name"] in item.action_note and "VENDOR-INV-77" in item.action_note
    # and the ledger and the binding point at it
    ledger = PostingLedger.objects.get(system=odoo_system, reference=reference)
    assert ledger.move_ids == [bill["id"]] and ledger.document_name == bill["name"]
    assert ledger.odoo_state == "posted" and str(ledger.amount_total) == "115.00"
    binding = Binding.objects.get(system=odoo_system, external_model="account.move", external_ref=reference)
    assert binding.external_id == str(bill["id"]) and binding.data["previous_ref"] == "VENDOR-INV-77"
    # and in Odoo the entry carries our reference and our external id
    assert rpc("account.move", "read", [bill["id"]], ["ref"])[0]["ref"] == reference
    xmlids = rpc("ir.model.data", "search_read", [("module", "=", "controlplane"), ("name", "=", reference)],
                 ["model", "res_id"])
    assert [(x["model"], x["res_id"]) for x in xmlids] == [("account.move", bill["id"])]
    # and the next reconciliation finds nothing to report
    assert not reconciliation_run(actor=worker, system=odoo_system).items.exists()


def test_linking_to_an_unknown_or_cancelled_entry_is_refused(odoo_system, missing_item, rpc, worker):
    with pytest.raises(Conflict, match="no journal entry"):
        reconciliation_item_link(actor=worker, item_id=missing_item.pk, odoo_move_id="BILL/1999/99999",
                                 reason="typo")
    bill = hand_made_bill(rpc)
    for button in ("button_draft", "button_cancel"):
        try:
            rpc("account.move", button, [bill["id"]])
        except xmlrpc.client.Fault as fault:  # these buttons return None: done, then the marshal fault
            assert "cannot marshal None" in fault.faultString
    assert rpc("account.move", "read", [bill["id"]], ["state"])[0]["state"] == "cancel"
    with pytest.raises(Conflict, match="cancelled"):
        reconciliation_item_link(actor=worker, item_id=missing_item.pk, odoo_move_id=bill["id"], reason="cancelled")
    missing_item.refresh_from_db()
    assert missing_item.status == ItemStatus.OPEN
    assert not Binding.objects.filter(system=odoo_system, external_model="account.move",
                                      external_id=str(bill["id"])).exists()


def test_admin_links_through_its_intermediate_page(admin_client, odoo_system, missing_item, rpc):
    bill = hand_made_bill(rpc)
    url = "/admin/odoo/reconciliationitem/"
    selected = {"action": LINK_ACTION, "_selected_action": [missing_item.pk]}
    # the action first asks which entry and why
    page = admin_client.post(url, selected)
    assert page.status_code == 200 and b"odoo-link-form" in page.content
    # an unknown number is shown on the form, nothing changes
    page = admin_client.post(url, {**selected, "apply": "1", "document": "BILL/1999/1", "reason": "typo"})
    assert page.status_code == 200 and b"no journal entry" in page.content
    # the right one links the item
    done = admin_client.post(url, {**selected, "apply": "1", "document": str(bill["id"]), "reason": "by hand"})
    assert done.status_code == 302
    missing_item.refresh_from_db()
    assert missing_item.action == "link" and bill["name"] in missing_item.action_note


def test_amount_mismatch_names_each_amount_once(odoo_system, entity, mapped, mode, rpc, worker):  # noqa: F811
    # given a posted expense whose journal entry was changed to 999 in Odoo
    [expense] = post_each(entity, mapped, odoo_system, 1)
    move_id = move_of(odoo_system, expense)
    rpc("account.move", "write", [move_id], {"amount_total": 999.0})
    name = rpc("account.move", "read", [move_id], ["name"])[0]["name"]
    # when reconciling
    item = reconciliation_run(actor=worker, system=odoo_system).items.get(kind=ItemKind.AMOUNT)
    # then the text says each amount once (expense mode: the expense and its entry disagree)
    if mode == "journal_entry":
        assert item.detail == f"Odoo holds 999.00, we posted {expense.total_amount:.2f}."
    else:
        assert item.detail == (f"Odoo holds {expense.total_amount:.2f} on the expense, 999.00 on the journal entry "
                               f"{name}, we posted {expense.total_amount:.2f}.")
