"""Read-only lookups over master data: exchange rates for a date, the manager hierarchy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from controlplane.masterdata.models import Employee, ExchangeRate

RATE_PLACES = Decimal("0.0000000001")


class RateNotFound(LookupError):
    """No usable rate: none on the date, none within the allowed age, in either direction."""


@dataclass(frozen=True)
class RateQuote:
    """``1 from = rate × to``, as published on ``date`` by ``source`` (``inverse`` when it was
    derived from the other direction)."""

    rate: Decimal
    date: dt.date
    source: str
    inverse: bool = False


def exchange_rate_max_age_days() -> int:
    return int(getattr(settings, "EXCHANGE_RATE_MAX_AGE_DAYS", 7))


def exchange_rate_for(*, from_currency: str, to_currency: str, on: dt.date, max_age_days: int | None = None) -> RateQuote:
    """The rate for ``on``; else the latest earlier one at most ``max_age_days`` old (setting
    ``EXCHANGE_RATE_MAX_AGE_DAYS``, default 7). A direct rate wins over an inverted one of the
    same date; a newer inverted rate wins over an older direct one. Raises :class:`RateNotFound`."""
    if from_currency == to_currency:
        return RateQuote(rate=Decimal(1), date=on, source="identity")
    age = exchange_rate_max_age_days() if max_age_days is None else max_age_days
    oldest = on - dt.timedelta(days=age)

    def latest(src: str, dst: str) -> ExchangeRate | None:
        return (
            ExchangeRate.objects.filter(
                from_currency__code=src, to_currency__code=dst, date__lte=on, date__gte=oldest
            ).order_by("-date").first()
        )

    direct = latest(from_currency, to_currency)
    reverse = latest(to_currency, from_currency)
    if direct is not None and (reverse is None or direct.date >= reverse.date):
        return RateQuote(rate=direct.rate, date=direct.date, source=direct.source)
    if reverse is not None:
        inverted = (Decimal(1) / reverse.rate).quantize(RATE_PLACES)
        return RateQuote(rate=inverted, date=reverse.date, source=f"{reverse.source} (inverse)", inverse=True)
    raise RateNotFound(
        f"No {from_currency}→{to_currency} rate on {on.isoformat()} or in the {age} days before."
    )


def manager_chain(employee: Employee, *, levels: int | None = None) -> list[Employee]:
    """The managers above ``employee``, nearest first (at most ``levels``); stops at a loop."""
    chain: list[Employee] = []
    seen = {employee.pk}
    current = employee.manager
    while current is not None and current.pk not in seen:
        chain.append(current)
        if levels is not None and len(chain) >= levels:
            break
        seen.add(current.pk)
        current = current.manager
    return chain
