"""Money is ``Decimal``, rounded per currency (ISO 4217 minor units), half-up as accountants do."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# Minor units of currencies that differ from 2; everything else has 2 (ISO 4217).
_MINOR_UNITS_EXCEPTIONS = {
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}


def default_minor_units(code: str) -> int:
    """ISO 4217 minor units for ``code`` (2 unless listed otherwise)."""
    return _MINOR_UNITS_EXCEPTIONS.get(code.upper(), 2)


def quantize(amount: Decimal | int | str, minor_units: int = 2) -> Decimal:
    """``amount`` rounded half-up to ``minor_units`` decimals."""
    exponent = Decimal(1).scaleb(-minor_units)
    return Decimal(amount).quantize(exponent, rounding=ROUND_HALF_UP)


def convert(amount: Decimal, rate: Decimal, minor_units: int = 2) -> Decimal:
    """``amount`` times ``rate`` (target units per source unit), rounded for the target."""
    return quantize(Decimal(amount) * Decimal(rate), minor_units)
