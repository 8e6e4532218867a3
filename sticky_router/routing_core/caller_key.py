"""Turn what Asterisk and the IVR hand us into a caller key, or into "no key". Never raises.

Caller IDs arrive as whatever the carrier or a PBX put in the From header: `+7 (912) 345-67-01`,
`sip:+79123456701@gw.example`, `Anonymous`, `unknown`, or hostile junk. The key must be the same
for the same subscriber however the number was written, and junk must simply mean "no key".
"""

from __future__ import annotations

import re

import phonenumbers

from sticky_router.routing_core.model import CallerKey, KeyKind

# Longer than any real number with its sip: URI around it; anything beyond is not a caller ID.
MAX_CALLER_ID_LENGTH = 64
MAX_IVR_DIGITS = 32

_WITHHELD = frozenset(
    {"", "anonymous", "unknown", "unavailable", "private", "restricted", "withheld", "asterisk"}
)
_URI_SCHEME = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)
_IVR_DIGITS = re.compile(rf"[0-9]{{1,{MAX_IVR_DIGITS}}}")
_IVR_TICKET = re.compile(rf"[A-Za-z0-9-]{{1,{MAX_IVR_DIGITS}}}")


def normalise_number(raw: str | None, default_region: str) -> str | None:
    """E.164 form of a caller ID, or None for withheld, unparseable or implausible input."""
    if raw is None or len(raw) > MAX_CALLER_ID_LENGTH or not raw.isprintable():
        return None
    text = _URI_SCHEME.sub("", raw.strip())
    text = text.split("@", 1)[0].split(";", 1)[0].strip()
    if text.lower() in _WITHHELD:
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def ivr_account(raw: str | None) -> str | None:
    """An account number keyed by DTMF: digits only, as long as an account can be."""
    if raw is None:
        return None
    text = raw.strip()
    return text if _IVR_DIGITS.fullmatch(text) else None


def ivr_ticket(raw: str | None) -> str | None:
    """A ticket number keyed in the IVR or passed on by a dialplan (`T-1234` or `1234`)."""
    if raw is None:
        return None
    text = raw.strip().upper()
    return text if _IVR_TICKET.fullmatch(text) else None


def keys_in_priority(
    caller_id: str | None,
    ivr_ticket_raw: str | None,
    ivr_account_raw: str | None,
    default_region: str,
) -> tuple[list[CallerKey], str | None]:
    """All usable keys, strongest first, plus the caller's E.164 number.

    The store tries them in this order: a keyed ticket that does not exist falls back to the
    account, and an unknown account to the number.
    """
    number = normalise_number(caller_id, default_region)
    keys: list[CallerKey] = []
    if (ticket := ivr_ticket(ivr_ticket_raw)) is not None:
        keys.append(CallerKey(KeyKind.TICKET, ticket))
    if (account := ivr_account(ivr_account_raw)) is not None:
        keys.append(CallerKey(KeyKind.ACCOUNT, account))
    if number is not None:
        keys.append(CallerKey(KeyKind.NUMBER, number))
    return keys, number
