"""Policy checks on submission (hard refuses with field paths and writes nothing; soft flags),
exchange-rate lookup with fallback and inverse, tax split, receipts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import override_settings
from django.utils import timezone

from controlplane.core.errors import ValidationFailed
from controlplane.expenses import services as s
from controlplane.masterdata.selectors import RateNotFound, exchange_rate_for
from tests import factories as f
from tests.expenses.factories import line, make_expense, make_world

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def _days(n):
    return TODAY() + dt.timedelta(days=n)


HARD = [
    ("future date", lambda w: {"lines": [line(date=_days(1))]}, "lines.0.date", "date_not_future"),
    ("missing mapping", lambda w: {"lines": [line(category="UNMAPPED")]}, "lines.0.category", "category_mapped"),
    ("tax code of another entity", lambda w: {"lines": [line(tax_code=w.foreign_tax.code)]}, "lines.0.tax_code",
     "tax_code_entity"),
    ("allocations not 100%", lambda w: {"lines": [line(allocations=[{"percent": "60"}, {"percent": "30"}])]},
     "lines.0.allocations", "allocation_total"),
    ("no rate within the age", lambda w: {"currency": "USD", "lines": [line(date=_days(-30))]}, "lines.0.currency",
     "exchange_rate"),
]


@pytest.mark.parametrize(("make", "field", "code"), [h[1:] for h in HARD], ids=[h[0] for h in HARD])
def test_hard_failures_refuse_submission_and_write_nothing(make, field, code):
    world = make_world()
    expense = make_expense(world, **make(world))
    history = expense.history.count()
    with pytest.raises(ValidationFailed) as err:
        s.expense_submit(actor=world.actor(), expense_id=expense.pk)
    assert [(p.field, p.code) for p in err.value.errors] == [(field, code)]
    expense.refresh_from_db()
    assert (expense.approval_state, expense.history.count()) == ("draft", history)
    assert not expense.policy_results.exists() and not expense.approval_steps.exists()


def test_inactive_employee_is_a_hard_failure():
    world = make_world()
    expense = make_expense(world)
    world.people["emp"].active = False
    world.people["emp"].save()
    with pytest.raises(ValidationFailed) as err:
        s.expense_submit(actor=world.actor(), expense_id=expense.pk)
    assert [p.field for p in err.value.errors] == ["employee"]


SOFT = [
    ("receipt missing above threshold", {"lines": [line("30.00", category="MEALS")]}, "receipt_required"),
    ("category cap exceeded", {"lines": [line("150.01", category="MEALS")]}, "category_cap"),
    ("too old", {"lines": [line(date=_days(-91))]}, "date_not_too_old"),
]


@pytest.mark.parametrize(("kwargs", "code"), [x[1:] for x in SOFT], ids=[x[0] for x in SOFT])
def test_soft_failures_flag_the_expense(kwargs, code):
    world = make_world()
    f.ExchangeRateFactory(from_currency=world.usd, to_currency=world.eur, date=_days(-91), rate=Decimal("0.9"))
    expense = make_expense(world, submit=True, **kwargs)
    assert expense.policy_flagged is True
    assert expense.policy_results.filter(code=code, outcome="soft").exists()


def test_boundaries_of_threshold_and_cap_do_not_flag():
    world = make_world()
    expense = make_expense(world, submit=True, lines=[line("25.00", category="MEALS")])
    # 25.00 is not above the 25 threshold; 150 cap not reached; every check passed
    assert expense.policy_flagged is False
    assert set(expense.policy_results.values_list("outcome", flat=True)) == {"pass"}


def test_receipt_clears_the_receipt_check():
    world = make_world()
    expense = make_expense(world, lines=[line("30.00", category="MEALS")])
    s.receipt_attach(actor=world.actor(), expense_id=expense.pk, content=b"%PDF-1.7 receipt", filename="r.pdf",
                     content_type="application/pdf", line_position=0)
    expense = s.expense_submit(actor=world.actor(), expense_id=expense.pk)
    assert expense.policy_flagged is False


def test_duplicates_by_line_and_by_receipt_are_flagged():
    world = make_world()
    first = make_expense(world, submit=True, lines=[line("40.00", merchant="Cafe")])
    s.receipt_attach(actor=world.actor(), expense_id=first.pk, content=b"\x89PNG\r\n\x1a\nsame", filename="a.png",
                     content_type="image/png")
    dup_line = make_expense(world, submit=True, lines=[line("40.00", merchant="CAFE")])
    assert dup_line.policy_results.filter(code="duplicate_line", outcome="soft").exists()
    dup_receipt = make_expense(world, lines=[line("41.00")])
    s.receipt_attach(actor=world.actor(), expense_id=dup_receipt.pk, content=b"\x89PNG\r\n\x1a\nsame",
                     filename="b.png", content_type="image/png")
    dup_receipt = s.expense_submit(actor=world.actor(), expense_id=dup_receipt.pk)
    assert dup_receipt.policy_results.filter(code="duplicate_receipt", field="receipts.0").exists()


@pytest.mark.parametrize(("content", "ctype", "field", "code"), [
    (b"", "application/pdf", "file", "empty"),
    (b"%PDF-" + b"x" * 2048, "application/pdf", "file", "too_large"),
    (b"GIF89a", "image/gif", "content_type", "unsupported"),
    (b"not a pdf", "application/pdf", "file", "type_mismatch"),
])
@override_settings(RECEIPT_MAX_BYTES=1024)
def test_receipt_limits(content, ctype, field, code):
    world = make_world()
    expense = make_expense(world)
    with pytest.raises(ValidationFailed) as err:
        s.receipt_attach(actor=world.actor(), expense_id=expense.pk, content=content, filename="x", content_type=ctype)
    assert [(p.field, p.code) for p in err.value.errors] == [(field, code)]
    assert not expense.receipts.exists()


def test_receipt_is_stored_apart_with_checksum_and_deduplicated():
    import hashlib

    world = make_world()
    expense = make_expense(world)
    data = b"\xff\xd8\xff\xe0 jpeg bytes"
    one = s.receipt_attach(actor=world.actor(), expense_id=expense.pk, content=data, filename="r.jpg",
                           content_type="image/jpeg")
    two = s.receipt_attach(actor=world.actor(), expense_id=expense.pk, content=data, filename="r.jpg",
                           content_type="image/jpeg")
    assert one.pk == two.pk and one.sha256 == hashlib.sha256(data).hexdigest() and one.size == len(data)
    with one.file.open("rb") as fh:
        assert fh.read() == data


def test_tax_split_as_odoo_does():
    world = make_world()
    row = make_expense(world, lines=[line("115.00")]).lines.get()
    assert (row.net_amount, row.tax_amount, row.total) == (Decimal("100.00"), Decimal("15.00"), Decimal("115.00"))


# --- exchange rates -----------------------------------------------------------------------

@pytest.mark.parametrize(("rate_age", "max_age", "found"), [(0, 7, True), (7, 7, True), (8, 7, False), (3, 2, False)])
def test_rate_falls_back_to_an_earlier_one_within_the_age(rate_age, max_age, found):
    usd, eur = f.CurrencyFactory(code="USD"), f.CurrencyFactory(code="EUR")
    f.ExchangeRateFactory(from_currency=usd, to_currency=eur, date=_days(-rate_age), rate=Decimal("0.9"), source="ECB")
    with override_settings(EXCHANGE_RATE_MAX_AGE_DAYS=max_age):
        if found:
            quote = exchange_rate_for(from_currency="USD", to_currency="EUR", on=TODAY())
            assert (quote.rate, quote.date, quote.source) == (Decimal("0.9"), _days(-rate_age), "ECB")
        else:
            with pytest.raises(RateNotFound):
                exchange_rate_for(from_currency="USD", to_currency="EUR", on=TODAY())


def test_inverse_rate_is_used_when_only_the_other_direction_exists():
    usd, eur = f.CurrencyFactory(code="USD"), f.CurrencyFactory(code="EUR")
    f.ExchangeRateFactory(from_currency=eur, to_currency=usd, date=TODAY(), rate=Decimal("1.25"), source="ECB")
    quote = exchange_rate_for(from_currency="USD", to_currency="EUR", on=TODAY())
    assert (quote.rate, quote.inverse) == (Decimal("0.8"), True)


def test_rate_date_and_source_are_stored_on_the_line():
    world = make_world(rate_date=_days(-2))
    row = make_expense(world, currency="USD", lines=[line("10.00")]).lines.get()
    assert (row.exchange_rate_date, row.exchange_rate_source, row.amount_base) == (_days(-2), "test", Decimal("9.00"))
