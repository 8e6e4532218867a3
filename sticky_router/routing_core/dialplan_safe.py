"""What may reach a dialplan application: one allow-list per kind of value, used everywhere.

Asterisk splits application arguments on `,` and `|`, `&` joins Dial() destinations and
Playback() files, `(`/`)` end an ExecIf() branch, `${...}`/`$[...]` are evaluated when a value is
substituted into a line, and `^` is Dial()'s argument separator for its hooks. So a value that
reaches the dialplan is checked against what it may contain, not against what it may not: the
admin API, the database constraints (migrations 0008) and the router before it sets a channel
variable all use these patterns, and a test holds the SQL copies to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Tech/resource: PJSIP/agent2, SIP/1001, IAX2/peer, Local/101@from-queue/n.
ENDPOINT = r"^[A-Za-z][A-Za-z0-9_-]{0,19}/[A-Za-z0-9_.@:+/-]{1,90}$"
# Where an agent's busy or free is read: a device (as ENDPOINT), or the hint of a PBX extension,
# as app_queue's state_interface spells it: hint:102@ext-local (read with EXTENSION_STATE).
HINT = r"^hint:[0-9A-Za-z_*#+-]{1,40}@[A-Za-z0-9_-]{1,80}$"
# A sound file name without extension, under Asterisk's sounds directory: custom/abuse-policy.
# No `.`, so no `..` either.
SOUND = r"^[A-Za-z0-9_][A-Za-z0-9_/-]{0,199}$"
# An Asterisk queue name.
QUEUE = r"^[A-Za-z0-9_-]{1,80}$"
# What a caller can key in or dial and we pass on: digits, `+`, `*`, `#`.
DIALLED = r"^[0-9+*#]{1,32}$"
# An account or ticket number keyed in an IVR, an IVR menu choice: T-1001, 100201, internet.
IVR_VALUE = r"^[0-9A-Za-z_-]{1,32}$"
# A language, as Asterisk names a sounds folder and CHANNEL(language): en, ru.
LANGUAGE = r"^[a-z]{2,3}$"
# An Asterisk node of several (its systemname), also the name of the trunk to it: node-a.
NODE = r"^[a-z0-9][a-z0-9-]{0,31}$"
# A device that can be rung through another node's trunk: PJSIP/agent2 (not a Local channel,
# no user@ of its own; the other node's sticky-from-nodes dials it as a PJSIP device).
_DEVICE = r"^PJSIP/[A-Za-z0-9_.+-]{1,80}$"

# Every channel variable the router sets is at most this long: well inside the AGI line Asterisk
# reads, and nothing the router sets needs more (a caller-ID name is cut at 40 already).
MAX_VARIABLE_CHARS = 512

_ENDPOINT = re.compile(ENDPOINT)
_HINT = re.compile(HINT)
_SOUND = re.compile(SOUND)
_QUEUE = re.compile(QUEUE)
_DIALLED = re.compile(DIALLED)
_IVR_VALUE = re.compile(IVR_VALUE)
_LANGUAGE = re.compile(LANGUAGE)
_NODE = re.compile(NODE)
_DEVICE_RE = re.compile(_DEVICE)


class UnsafeForDialplan(ValueError):
    """A value that must not reach a dialplan application; the message names what it is."""


def is_endpoint(value: str) -> bool:
    return _ENDPOINT.fullmatch(value) is not None


def is_hint(value: str) -> bool:
    return _HINT.fullmatch(value) is not None


def is_state_interface(value: str) -> bool:
    """A device, or an extension's hint (hint:102@ext-local)."""
    return is_hint(value) or is_endpoint(value)


def is_sound(value: str) -> bool:
    return _SOUND.fullmatch(value) is not None


def is_queue(value: str) -> bool:
    return _QUEUE.fullmatch(value) is not None


def is_dialled(value: str) -> bool:
    return _DIALLED.fullmatch(value) is not None


def is_ivr_value(value: str) -> bool:
    return _IVR_VALUE.fullmatch(value) is not None


def is_language(value: str) -> bool:
    return _LANGUAGE.fullmatch(value) is not None


def is_node(value: str) -> bool:
    return _NODE.fullmatch(value) is not None


def through_node(endpoint: str, node: str) -> str | None:
    """How this node dials an agent's device that lives on `node`: PJSIP/agent2@node-a, the
    device's name as the user at the trunk endpoint named after that node. None when the
    endpoint cannot be rung that way (a Local channel, a user@ of its own) or the node's name
    could not go into Dial() as it is."""
    if _DEVICE_RE.fullmatch(endpoint) is None or not is_node(node):
        return None
    return f"{endpoint}@{node}"


@dataclass(frozen=True, slots=True)
class CallArguments:
    """What the dialplan hands the router about a call (Stasis() or AGI() arguments), each
    value kept only if it is what it claims to be. The shipped dialplan FILTERs them already;
    this is the router's own check, for dialplans that do not. A caller's `,` in the dialled
    number splits the argument list: `7495,100201` arrives as a DID and an account number,
    each well-formed. Only the count gives it away, so with more arguments than the dialplan
    passes (`split`) nothing after the DID is believed: no key is taken from a forgery."""

    queue: str
    did: str | None
    ivr_account: str | None
    ivr_ticket: str | None
    ivr_menu: str | None
    refused: tuple[str, ...]  # the names of the values dropped, for one log line

    @classmethod
    def check(
        cls,
        queue: str | None,
        did: str | None,
        ivr_account: str | None = None,
        ivr_ticket: str | None = None,
        ivr_menu: str | None = None,
        *,
        split: bool = False,
        default_queue: str = "support",
    ) -> CallArguments:
        refused: list[str] = []
        if split:
            refused += [name for name, value in
                        (("ivr_account", ivr_account), ("ivr_ticket", ivr_ticket),
                         ("ivr_menu", ivr_menu)) if value is not None]  # fmt: skip
            ivr_account = ivr_ticket = ivr_menu = None

        def keep(name: str, value: str | None, valid: bool) -> str | None:
            if value is None or valid:
                return value
            refused.append(name)
            return None

        if queue is not None and not is_queue(queue):
            # Named, but kept (cut short): the decision then rings nobody for it (the queue,
            # `unreachable`), where guessing another queue could ring the wrong team.
            refused.append("queue")
            queue = queue[:80]
        return cls(
            queue=queue or default_queue,
            did=keep("did", did, did is not None and is_dialled(did)),
            ivr_account=keep("ivr_account", ivr_account, is_ivr_value(ivr_account or "")),
            ivr_ticket=keep("ivr_ticket", ivr_ticket, is_ivr_value(ivr_ticket or "")),
            ivr_menu=keep("ivr_menu", ivr_menu, is_ivr_value(ivr_menu or "")),
            refused=tuple(refused),
        )


def bounded(value: str, limit: int = MAX_VARIABLE_CHARS) -> str:
    """A channel variable's value, cut to `limit` characters, control characters dropped."""
    return re.sub(r"[\x00-\x1f\x7f]", "", value)[:limit]
