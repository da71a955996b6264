"""Phone numbers as written by staff ("03 21 00 00 10") and as dialled from a link (E.164)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-/()\u00a0\u202f]")


def tel_uri(number: str, *, country_code: str = "33") -> str:
    """The ``tel:`` URI of a number written the French way, or "" if it is not a number.

    "03 21 00 00 10" and "03.21.00.00.10" give ``tel:+33321000010``; "+33 3 21…" and
    "0033 3 21…" the same; a short number (17, 112, 3939) is dialled as written.
    """
    digits = _SEPARATORS.sub("", number or "")
    if digits.startswith("+33") and digits[3:4] == "0":
        digits = "+33" + digits[4:]  # "+33 (0)3 21…", a common way of writing it
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif len(digits) == 10 and digits.startswith("0"):
        digits = f"+{country_code}{digits[1:]}"
    if not re.fullmatch(r"\+?\d{2,15}", digits):
        return ""
    return f"tel:{digits}"
