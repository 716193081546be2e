"""Replay of 17.0/transcript-workflow-and-faults.json against the sandbox over real HTTP.

Each recorded step is called as recorded (ids mapped to the sandbox's) and the
recorded ``states_after`` are compared; faults are compared code and text.
"""

from __future__ import annotations

import re
import xmlrpc.client

import pytest

from .conftest import Client, recording

T = recording("17.0", "transcript-workflow-and-faults.json")

STEP_CALLS = {  # recorded call prefix -> (model, method, target)
    "hr.expense.action_submit_expenses": ("hr.expense", "action_submit_expenses", "expense"),
    "hr.expense.sheet.action_submit_sheet": ("hr.expense.sheet", "action_submit_sheet", "sheet"),
    "hr.expense.sheet.action_approve_expense_sheets": ("hr.expense.sheet",
                                                       "action_approve_expense_sheets", "sheet"),
    "hr.expense.sheet.action_sheet_move_create": ("hr.expense.sheet", "action_sheet_move_create",
                                                  "sheet"),
    "hr.expense.sheet.action_register_payment": ("hr.expense.sheet", "action_register_payment",
                                                 "sheet"),
    "hr.expense.sheet.action_refuse_expense_sheets": ("hr.expense.sheet",
                                                      "action_refuse_expense_sheets", "sheet"),
    "hr.expense.sheet.action_reset_expense_sheets": ("hr.expense.sheet",
                                                     "action_reset_expense_sheets", "sheet"),
}


def states(odoo: Client, expense_id: int, sheet_id: int | None) -> dict:
    """The recorded ``states_after`` shape, read from the sandbox."""
    out = {"expense.state": odoo("hr.expense", "read", [expense_id], fields=["state"])[0]["state"]}
    if sheet_id:
        sheet = odoo("hr.expense.sheet", "read", [sheet_id],
                     fields=["state", "approval_state", "payment_state", "account_move_ids"])[0]
        out.update({f"sheet.{k}": sheet[k] for k in ("state", "approval_state", "payment_state")})
        out["sheet.account_move_ids"] = sheet["account_move_ids"]
    return out


def assert_states(actual: dict, recorded: dict) -> None:
    for key, value in recorded.items():
        if key == "sheet.account_move_ids":
            assert len(actual[key]) == len(value), key
        else:
            assert actual[key] == value, key


@pytest.fixture(scope="module")
def odoo(sandbox17):
    return Client(sandbox17)


@pytest.fixture(scope="module")
def setup(odoo):
    dept = odoo("hr.department", "create", {"name": "Field Sales"})
    employee = odoo("hr.employee", "create", {"name": "Jane Expense", "work_email": "jane@example.com",
                                              "department_id": dept})
    plan = odoo("account.analytic.plan", "search", [])[0]
    analytic = odoo("account.analytic.account", "create", {"name": "Project X", "plan_id": plan})
    return {"employee": employee, "analytic": analytic}


def run_flow(odoo: Client, setup: dict, flow: dict) -> tuple[int, int]:
    vals = dict(flow["create_vals"], employee_id=setup["employee"],
                analytic_distribution={str(setup["analytic"]): 100.0})
    expense = sheet = None
    register_ctx = None
    for step in [s for s in T["steps"] if s["step"].startswith(f"[{flow['label']}]")]:
        call = step["call"]
        if call.startswith("hr.expense.create"):
            expense = odoo("hr.expense", "create", vals)
        elif call.startswith("account.payment.register"):
            wizard = odoo("account.payment.register", "create", {"journal_id": 6}, context=register_ctx)
            result = odoo("account.payment.register", "action_create_payments", [wizard],
                          context=register_ctx)
            assert result["res_model"] == "account.payment" and result["res_id"]
        else:
            prefix = call.split("(")[0]
            model, method, target = STEP_CALLS[prefix]
            ids = [expense] if target == "expense" else [sheet]
            if step["ok"]:
                result = odoo(model, method, ids)
                recorded = step["result"]
                if method == "action_submit_expenses":
                    sheet = result["res_id"]
                    assert {k: v for k, v in result.items() if k not in ("domain", "res_id")} == {
                        k: v for k, v in recorded.items() if k not in ("domain", "res_id")}
                if method == "action_register_payment":
                    register_ctx = result["context"]
                    assert result["res_model"] == recorded["res_model"]
                    assert len(result["context"]["active_ids"]) == len(recorded["context"]["active_ids"])
            else:
                fault = odoo.fault(model, method, ids)
                assert fault.faultCode == 1
                assert fault.faultString.strip().endswith(step["faultCode"])
        if step.get("states_after"):
            assert_states(states(odoo, expense, sheet), step["states_after"])
    return expense, sheet


@pytest.mark.parametrize("index", [0, 1, 2], ids=["A_own_usd", "B_own_eur", "C_company"])
def test_flows(odoo, setup, index):
    flow = T["flows"][index]
    expense, sheet = run_flow(odoo, setup, flow)
    exp = odoo("hr.expense", "read", [expense], fields=list(flow["expense_final"]))[0]
    for key in ("state", "total_amount_currency", "total_amount", "untaxed_amount_currency",
                "tax_amount_currency", "currency_rate", "payment_mode", "account_id"):
        assert exp[key] == flow["expense_final"][key], key
    final = odoo("hr.expense.sheet", "read", [sheet], fields=list(flow["sheet_final"]))[0]
    for key in ("state", "approval_state", "payment_state", "journal_id", "total_amount",
                "amount_residual", "currency_id", "payment_mode", "employee_journal_id"):
        assert final[key] == flow["sheet_final"][key], key
    move = odoo("account.move", "read", final["account_move_ids"], fields=list(flow["moves"][0]))[0]
    recorded = flow["moves"][0]
    for key in ("state", "move_type", "journal_id", "amount_total", "amount_total_signed", "ref",
                "currency_id"):
        assert move[key] == recorded[key], key
    assert re.fullmatch(recorded["name"].rsplit("/", 1)[0] + r"/\d+", move["name"])
    lines = odoo("account.move.line", "read", move["line_ids"], fields=list(flow["move_lines"][0]))
    for line, rec_line in zip(sorted(lines, key=lambda x: x["id"]), flow["move_lines"], strict=True):
        for key in ("account_id", "debit", "credit", "amount_currency", "display_type",
                    "analytic_distribution"):
            value = line[key]
            if key == "analytic_distribution" and value:
                value = {"4": next(iter(value.values()))}  # the recorded analytic id is 4
            assert value == rec_line[key], key


def _sheet_in(odoo, setup, state: str, name: str) -> tuple[int, int]:
    expense = odoo("hr.expense", "create", {"name": name, "employee_id": setup["employee"],
                                            "product_id": 1, "total_amount_currency": 33.0})
    sheet = odoo("hr.expense", "action_submit_expenses", [expense])["res_id"]
    steps = {"submit": ["action_submit_sheet"],
             "post": ["action_submit_sheet", "action_approve_expense_sheets", "action_sheet_move_create"]}
    for method in steps[state]:
        odoo.call_none("hr.expense.sheet", method, [sheet])
    return expense, sheet


def test_flow_d_refuse_and_reset(odoo, setup):
    expense, sheet = _sheet_in(odoo, setup, "submit", "Flow D")
    recorded = [s for s in T["steps"] if s["step"].startswith("[Flow D]")]
    action = odoo("hr.expense.sheet", "action_refuse_expense_sheets", [sheet])
    assert action["res_model"] == recorded[0]["result"]
    assert_states(states(odoo, expense, sheet), recorded[0]["states_after"])
    wizard = odoo("hr.expense.refuse.wizard", "create", {"reason": "no receipt", "sheet_ids": [sheet]})
    assert odoo("hr.expense.refuse.wizard", "action_refuse", [wizard]) == recorded[1]["result"]
    assert_states(states(odoo, expense, sheet), recorded[1]["states_after"])
    assert odoo.call_none("hr.expense.sheet", "action_reset_expense_sheets", [sheet]) is None
    assert_states(states(odoo, expense, sheet), recorded[2]["states_after"])


def test_flow_e_reset_posted_reverses_bill(odoo, setup):
    expense, sheet = _sheet_in(odoo, setup, "post", "Flow E")
    step = [s for s in T["steps"] if s["step"].startswith("[Flow E]")][0]
    before = states(odoo, expense, sheet)
    assert_states(before, step["states_after"]["before"])
    odoo.call_none("hr.expense.sheet", "action_reset_expense_sheets", [sheet])
    assert_states(states(odoo, expense, sheet), step["states_after"]["after"])
    move = odoo("account.move", "read", before["sheet.account_move_ids"],
                fields=["state", "payment_state", "reversal_move_id"])[0]
    recorded = T["flow_e_move_after_reset"][0]
    assert move["state"] == recorded["state"] and move["payment_state"] == recorded["payment_state"]
    assert len(move["reversal_move_id"]) == 1


# -- faults ----------------------------------------------------------------------------------
E = T["errors"]


@pytest.mark.parametrize("legacy", [False, True], ids=["xmlrpc2", "legacy"])
def test_wrong_password(sandbox17, legacy):
    prefix = "/xmlrpc/" if legacy else "/xmlrpc/2/"
    common = xmlrpc.client.ServerProxy(sandbox17.url + prefix + "common")
    assert common.login(sandbox17.db, "admin", "wrong") is False
    assert common.authenticate(sandbox17.db, "admin", "wrong", {}) is False
    obj = xmlrpc.client.ServerProxy(sandbox17.url + prefix + "object")
    with pytest.raises(xmlrpc.client.Fault) as info:
        obj.execute_kw(sandbox17.db, 2, "wrong", "hr.expense", "search_count", [[]])
    rec = E["wrong_password_execute_kw"]["xmlrpc" if legacy else "xmlrpc/2"]
    assert (info.value.faultCode, info.value.faultString) == (rec["faultCode"], rec["faultString"])


def _check(fault: xmlrpc.client.Fault, rec: dict, legacy: bool) -> None:
    if legacy:
        code = rec["faultCode"]
        if code.endswith("..."):  # the recorder truncated long legacy codes
            assert fault.faultCode.startswith(code[:-3])
        else:
            assert fault.faultCode == code
    else:
        assert fault.faultCode == rec["faultCode"]
        if rec["faultCode"] == 1:
            assert fault.faultString.strip().splitlines()[-1].split(": ", 1)[0] == \
                rec["faultString"].strip().splitlines()[-1].split(": ", 1)[0]
        else:
            assert fault.faultString == rec["faultString"]


CASES = {
    "missing_required_field_hr_expense_employee_false": lambda o, s: o.fault(
        "hr.expense", "create", {"name": "x", "employee_id": False, "product_id": 1}),
    "missing_required_field_analytic_account_no_plan": lambda o, s: o.fault(
        "account.analytic.account", "create", {"name": "x"}),
    "missing_required_field_hr_department_no_name": lambda o, s: o.fault("hr.department", "create", {}),
    "nonexistent_id_write": lambda o, s: o.fault("hr.expense", "write", [99999999], {"name": "x"}),
    "nonexistent_id_browse_method": lambda o, s: o.fault(
        "hr.expense.sheet", "action_submit_sheet", [99999999]),
    "private_method": lambda o, s: o.fault("hr.expense", "_compute_state", [1]),
    "unknown_method": lambda o, s: o.fault("hr.expense", "does_not_exist", [1]),
    "unknown_model": lambda o, s: o.fault("hr.nonexistent.model", "search", []),
    "method_returning_None": lambda o, s: o.fault("hr.expense.sheet", "action_submit_sheet", [s["sheet"]]),
}


@pytest.fixture(scope="module")
def any_sheet(odoo, setup):
    expense = odoo("hr.expense", "create", {"name": "probe", "employee_id": setup["employee"],
                                            "product_id": 1, "total_amount_currency": 9.0})
    return {"sheet": odoo("hr.expense", "action_submit_expenses", [expense])["res_id"]}


@pytest.mark.parametrize("legacy", [False, True], ids=["xmlrpc2", "legacy"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_recorded_faults(sandbox17, any_sheet, case, legacy):
    client = Client(sandbox17, legacy=legacy)
    fault = CASES[case](client, any_sheet)
    _check(fault, E[case]["xmlrpc" if legacy else "xmlrpc/2"], legacy)


@pytest.mark.parametrize("legacy", [False, True], ids=["xmlrpc2", "legacy"])
def test_missing_records_read_empty(sandbox17, legacy):
    client = Client(sandbox17, legacy=legacy)
    assert client("hr.expense", "read", [99999999], fields=["name"]) == []
    assert client("hr.expense", "search_read", [("id", "=", 99999999)], fields=["name"]) == []


def _demo_text(text: str) -> str:
    return re.sub(r"Sorry, .* \(id=\d+\)", "Sorry, X", text)


@pytest.mark.parametrize("legacy", [False, True], ids=["xmlrpc2", "legacy"])
def test_access_rights_of_restricted_user(sandbox17, odoo, setup, legacy):
    demo = Client(sandbox17, legacy=legacy, login="demo", password="demo")
    key = "xmlrpc" if legacy else "xmlrpc/2"
    fault = demo.fault("account.journal", "create", {"name": "J", "code": "J", "type": "general"})
    _check(fault, E["access_model_acl_create_account_journal"][key], legacy)
    _check(demo.fault("account.move", "search_read", [], fields=["name"]),
           E["access_model_acl_read_account_move"][key], legacy)
    _check(demo.fault("res.company", "write", [1], {"name": "x"}), E["access_write_res_company"][key], legacy)
    expense = odoo("hr.expense", "create", {"name": "not yours", "employee_id": setup["employee"],
                                            "product_id": 1, "total_amount_currency": 5.0})
    sheet = odoo("hr.expense", "action_submit_expenses", [expense])["res_id"]
    for case, fault in (("access_record_rule_read_other_employees_sheet",
                         demo.fault("hr.expense.sheet", "read", [sheet], fields=["name"])),
                        ("access_record_rule_write_other_employees_expense",
                         demo.fault("hr.expense", "write", [expense], {"name": "x"}))):
        rec = E[case][key]
        if legacy:
            assert _demo_text(fault.faultCode).startswith(_demo_text(rec["faultCode"])[:-3])
        else:
            assert fault.faultCode == 4 and _demo_text(fault.faultString) == _demo_text(rec["faultString"])
    # a restricted user submitting and approving his own report
    own = demo("hr.expense", "create", {"name": "own", "product_id": 1, "total_amount_currency": 7.0})
    own_sheet = demo("hr.expense", "action_submit_expenses", [own])["res_id"]
    demo.call_none("hr.expense.sheet", "action_submit_sheet", [own_sheet])
    assert_states(states(odoo, own, own_sheet), E["non_admin_own_expense_states"])
    fault = demo.fault("hr.expense.sheet", "action_approve_expense_sheets", [own_sheet])
    rec = E["business_rule_employee_approves_own_sheet"][key]
    expected = (rec["faultCode"] if legacy else rec["faultString"]).replace("own 154728", "own")
    assert (fault.faultCode if legacy else fault.faultString) == expected


def test_create_without_employee_defaults_to_users_employee(odoo):
    expense = odoo("hr.expense", "create", {"name": "mine", "product_id": 1, "total_amount_currency": 3.0})
    employee = odoo("hr.expense", "read", [expense], fields=["employee_id"])[0]["employee_id"]
    assert employee[1] == "Administrator"
