"""Replay of 17.0/transcript-tax-attachment-duplicate.json: tax split, receipts, duplicate wizard."""

from __future__ import annotations

import base64

import pytest

from .conftest import Client, recording

T = recording("17.0", "transcript-tax-attachment-duplicate.json")
CHECK = T["extra_checks_154723"]
PDF = base64.b64encode(b"%PDF-1.4 sandbox receipt 0123456789 abcdef\n").decode()


@pytest.fixture(scope="module")
def odoo(sandbox17):
    return Client(sandbox17)


@pytest.fixture(scope="module")
def employee(odoo):
    return odoo("hr.employee", "create", {"name": "Tax Tester", "work_email": "tax@example.com"})


def _post(odoo: Client, expense: int) -> int:
    sheet = odoo("hr.expense", "action_submit_expenses", [expense])["res_id"]
    for method in ("action_submit_sheet", "action_approve_expense_sheets", "action_sheet_move_create"):
        odoo.call_none("hr.expense.sheet", method, [sheet])
    return odoo("hr.expense.sheet", "read", [sheet], fields=["account_move_ids"])[0]["account_move_ids"][0]


def test_purchase_tax_is_price_included_and_split_on_the_bill(odoo, employee):
    tax = odoo("account.tax", "search_read", [("type_tax_use", "=", "purchase"), ("amount", "=", 15)],
               fields=list(CHECK["purchase_tax"]))[0]
    assert {k: v for k, v in tax.items() if k != "id"} == {
        k: v for k, v in CHECK["purchase_tax"].items() if k != "id"}
    expense = odoo("hr.expense", "create", {"name": "Dinner", "employee_id": employee, "product_id": 1,
                                            "total_amount_currency": 115.0, "tax_ids": [(6, 0, [tax["id"]])]})
    got = odoo("hr.expense", "read", [expense], fields=list(CHECK["expense"]))[0]
    assert {k: v for k, v in got.items() if k != "id"} == {
        k: v for k, v in CHECK["expense"].items() if k != "id"}
    # a plain ir.attachment is not the main attachment and is not copied to the bill
    att = odoo("ir.attachment", "create", {"name": "receipt.pdf", "datas": PDF, "res_model": "hr.expense",
                                           "res_id": expense, "mimetype": "application/pdf"})
    row = odoo("ir.attachment", "read", [att], fields=["res_model", "res_id", "mimetype", "file_size",
                                                       "checksum"])[0]
    assert row["res_id"] == expense and row["file_size"] == len(base64.b64decode(PDF))
    main = odoo("hr.expense", "read", [expense], fields=["message_main_attachment_id", "nb_attachment"])[0]
    assert main["message_main_attachment_id"] is False and main["nb_attachment"] == 1
    move_id = _post(odoo, expense)
    move = odoo("account.move", "read", [move_id], fields=list(CHECK["move"]))[0]
    for key in ("state", "amount_untaxed", "amount_tax", "amount_total"):
        assert move[key] == CHECK["move"][key]
    lines = odoo("account.move.line", "read", move["line_ids"], fields=list(CHECK["move_lines"][0]))
    for line, rec in zip(sorted(lines, key=lambda x: x["id"]), CHECK["move_lines"], strict=True):
        assert {k: v for k, v in line.items() if k != "id"} == {k: v for k, v in rec.items() if k != "id"}
    assert odoo("ir.attachment", "search", [("res_model", "=", "account.move"),
                                            ("res_id", "=", move_id)]) == CHECK["move_attachments"]


def test_message_post_attachment_becomes_main_and_is_copied(odoo, employee):
    part2 = T["extra_checks_154723_part2"]
    expense = odoo("hr.expense", "create", {"name": "Hotel", "employee_id": employee, "product_id": 2,
                                            "total_amount_currency": 230.0})
    att = odoo("ir.attachment", "create", {"name": "hotel.pdf", "datas": PDF, "res_model": "hr.expense",
                                           "res_id": 0, "mimetype": "application/pdf"})
    message = odoo("hr.expense", "message_post", [expense], body="receipt", attachment_ids=[att])
    assert isinstance(message, int)
    main = odoo("hr.expense", "read", [expense], fields=["message_main_attachment_id", "nb_attachment"])[0]
    assert main["message_main_attachment_id"] == [att, "hotel.pdf"]
    assert main["nb_attachment"] == part2["expense_main_attachment"]["nb_attachment"]
    move_id = _post(odoo, expense)
    copied = odoo("ir.attachment", "search_read", [("res_model", "=", "account.move"), ("res_id", "=", move_id)],
                  fields=["name", "mimetype"])
    assert [(c["name"], c["mimetype"]) for c in copied] == [("hotel.pdf", "application/pdf")]


def test_duplicate_guard_returns_wizard_and_approves_nothing(odoo, employee):
    part3 = T["extra_checks_154723_part3"]
    vals = {"name": "Same", "employee_id": employee, "product_id": 1, "total_amount_currency": 42.0,
            "date": "2026-11-30"}
    first = odoo("hr.expense", "create", vals)
    _post(odoo, first)  # approved (and posted) already
    second = odoo("hr.expense", "create", dict(vals, name="Same again"))
    sheet = odoo("hr.expense", "action_submit_expenses", [second])["res_id"]
    odoo.call_none("hr.expense.sheet", "action_submit_sheet", [sheet])
    action = odoo("hr.expense.sheet", "action_approve_expense_sheets", [sheet])
    recorded = part3["approve_returned"]
    assert set(action) == set(recorded)
    assert action["res_model"] == "hr.expense.approve.duplicate" and action["name"] == recorded["name"]
    assert action["context"] == {"default_sheet_ids": [sheet], "default_expense_ids": [first, second]}
    assert odoo("hr.expense.sheet", "read", [sheet], fields=["state"])[0]["state"] == "submit"
    assert odoo("hr.expense", "read", [second], fields=["duplicate_expense_ids"])[0][
        "duplicate_expense_ids"] == [first, second]
    wizard = odoo("hr.expense.approve.duplicate", "create", {}, context=action["context"])
    assert odoo("hr.expense.approve.duplicate", "action_approve", [wizard]) == part3[
        "duplicate_wizard_action_approve"]
    after = odoo("hr.expense.sheet", "read", [sheet], fields=["state", "approval_state"])[0]
    assert {k: after[k] for k in ("state", "approval_state")} == {
        k: part3["sheet_after_duplicate_wizard"][k] for k in ("state", "approval_state")}
