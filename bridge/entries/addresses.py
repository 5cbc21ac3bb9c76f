"""Country and state codes as Trackops accepts them, from what people type (pycountry's ISO data).

Country: an ISO 3166-1 alpha-2 code (names and alpha-3 codes are mapped). State: for US, CA
and AU the real subdivision code (names mapped too); for any other country, free text.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

import pycountry

from bridge.errors import AddressError

# Countries whose state Trackops checks against a fixed list of codes.
COUNTRIES_WITH_STATE_CODES = ("US", "CA", "AU")
# "UK" is what people write; ISO reserves it and pycountry does not know it.
_COUNTRY_ALIASES = {"UK": "GB"}


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names[value.lower()] = country.alpha_2
    return names


def normalize_country(text: str) -> str:
    """The alpha-2 code for a country typed as a code (any case), an alpha-3 code or a name."""
    typed = " ".join(text.split())
    alias = _COUNTRY_ALIASES.get(typed.upper())
    if alias:
        return alias
    try:
        return str(pycountry.countries.lookup(typed).alpha_2)
    except LookupError:
        pass
    close = difflib.get_close_matches(typed.lower(), _country_names(), n=1, cutoff=0.75)
    hint = f"; did you mean {_country_names()[close[0]]}?" if close else ""
    raise AddressError(
        f"{typed!r} is not a country: use its 2-letter code, e.g. US, CA, AU, GB{hint}"
    )


@lru_cache(maxsize=len(COUNTRIES_WITH_STATE_CODES))
def state_codes(country: str) -> dict[str, str]:
    """For US, CA or AU: every accepted spelling (code or name, lower-cased) -> the short code."""
    codes: dict[str, str] = {}
    subdivisions = pycountry.subdivisions.get(country_code=country)  # type: ignore[no-untyped-call]
    for sub in subdivisions or ():
        short = sub.code.split("-", 1)[1]
        codes[short.lower()] = short
        codes[sub.name.lower()] = short
    return codes


def normalize_state(country: str, text: str) -> str:
    """The state as Trackops wants it for `country` (alpha-2); free text outside US, CA, AU."""
    typed = " ".join(text.split())
    if country not in COUNTRIES_WITH_STATE_CODES or not typed:
        return typed
    codes = state_codes(country)
    found = codes.get(typed.lower())
    if found:
        return found
    valid = sorted(set(codes.values()))
    close = difflib.get_close_matches(typed.lower(), codes, n=1, cutoff=0.75)
    hint = f"; did you mean {codes[close[0]]}?" if close else ""
    choices = ", ".join(valid) if len(valid) <= 15 else "its 2-letter postal code, e.g. CO, DC, PR"
    raise AddressError(f"{typed!r} is not a state of {country}{hint} (use {choices})")


def normalize_zip(country: str, text: str) -> str:
    """The postal code; for US a ZIP or ZIP+4, with a hint when a spreadsheet ate its zeros."""
    typed = " ".join(text.split())
    if country != "US" or not typed or re.fullmatch(r"[0-9]{5}(-[0-9]{4})?", typed):
        return typed
    if re.fullmatch(r"[0-9]{3,4}", typed):
        raise AddressError(
            f"{typed!r} is not a US ZIP code; did you mean {typed.zfill(5)}? (spreadsheets drop "
            "leading zeros: format the zip column as text)"
        )
    raise AddressError(f"{typed!r} is not a US ZIP code (5 digits, or ZIP+4 like 80202-1234)")
