#!/usr/bin/env python3
"""Write the local sandbox's Asterisk configuration for the container, from the environment.

The same files as the sandbox writes (`LocalAsterisk._write_instance`, sandbox/asterisk.py):
the templates in devkit/sandbox/asterisk_conf/*.conf filled by the same `render()`
with the same placeholder values, the same empty files, the package's stock indications.conf,
and the project's dialplan/*.conf in `sticky-router-dialplan/`, which extensions.conf
#includes. Only the values differ: passwords come from the environment instead of being
generated, and the instance directory is a plain path in the container instead of a directory
inside the sandbox's chroot.

Imports only the standard library and devkit.sandbox's asterisk.py and asterisk_config.py
(themselves standard library only, with their sandbox neighbours asterisk_root.py, ports.py,
postgres.py and debian.py, and the product's prompts.py), found next to this
file as in a checkout: the Asterisk image copies those few files to /opt/sticky-router with the
same layout and needs neither the project's dependencies nor pip (tests/ops/test_packaging.py
replays that copy and runs this script from it).

Environment (ports default to the sandbox's, read from LocalAsterisk's own defaults):
  STICKY_ARI_USER, STICKY_ARI_PASSWORD   the router's ARI user (user default: sticky-router)
  STICKY_AMI_USER, STICKY_AMI_PASSWORD   the AMI user (user default: sticky-router)
  STICKY_AGI_SECRET          the secret the AGI-mode dialplan's URLs carry ([globals])
  ASTERISK_SIP_PORT          5060   PJSIP UDP transport on 127.0.0.1
  ASTERISK_HTTP_PORT         8088   ARI (http.conf)
  ASTERISK_AMI_PORT          5038   AMI (manager.conf)
  ASTERISK_PHONE_BASE_PORT   5070   the caller's source port; agentN answers on base + N,
                                    agent2's softphone on base + 5
  STICKY_AGI_PORT            4573   the FastAGI server the AGI-mode dialplan calls (STICKY_AGI_URL)
  ASTERISK_RTP_START, ASTERISK_RTP_END   20000, 20999

Placeholders (`change-me...`, docker/.env.example's) are refused. Passwords and users may use
letters, digits and _.@+- only (what the sandbox allows: anything
else could end a value or start a comment in ari.conf / manager.conf). They are never printed.

Run it locally to see what the container writes:
  STICKY_ARI_PASSWORD=x STICKY_AMI_PASSWORD=y STICKY_AGI_SECRET=0123456789abcdef \
      python3 docker/render_asterisk_conf.py \
      --instance /tmp/asterisk-docker --modules-dir /usr/lib/x86_64-linux-gnu/asterisk/modules
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]  # the checkout, or /opt/sticky-router in the image
sys.path.insert(0, str(SOURCE))

from devkit.sandbox.asterisk import LocalAsterisk  # noqa: E402
from devkit.sandbox.asterisk_config import (  # noqa: E402
    AMI_DRIVER_USER,
    CONF_TEMPLATES,
    DIALPLAN_IN_ETC,
    EMPTY_CONFIGS,
    PHONES,
    STOCK_FILES_KEPT,
    Credentials,
    TemplatePorts,
    dialplan_dir,
    render,
    template_values,
)

DEFAULT_INSTANCE = "/var/lib/sticky-router/docker"
# Written into the instance directory: a directory that has it is ours to rewrite on every start.
MARKER = ".written-by-render-asterisk-conf"
# Rewritten on every start; log/, spool/ and db/ are kept, so a restarted container keeps the
# log of the run before it.
REWRITTEN = ("etc", "run")
SUBDIRECTORIES = ("etc", "run", "log", "spool", "db")
EMPTY_TEXT = "; empty on purpose: this module's built-in defaults apply\n"  # as the sandbox's
PLACEHOLDER_PREFIX = "change-me"  # the values in docker/.env.example
AGI_SECRET = re.compile(r"[A-Za-z0-9_-]{16,128}")


class RenderError(RuntimeError):
    """One sentence for the person starting the container."""


def _port(environ: dict[str, str], name: str, default: int) -> int:
    text = environ.get(name, "").strip() or str(default)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise RenderError(f"{name} must be a port number from 1 to 65535")
    return int(text)


def _credentials(environ: dict[str, str], kind: str) -> Credentials:
    user = environ.get(f"STICKY_{kind}_USER", "").strip() or "sticky-router"
    password = environ.get(f"STICKY_{kind}_PASSWORD", "")
    if not password:
        raise RenderError(
            f"STICKY_{kind}_PASSWORD is not set: give the {kind} user a password (docker/.env)"
        )
    try:
        credentials = Credentials(user, password)
    except ValueError as error:  # names the user, never the password
        raise RenderError(f"STICKY_{kind}_USER / STICKY_{kind}_PASSWORD: {error}") from None
    if password.startswith(PLACEHOLDER_PREFIX):
        raise RenderError(
            f"STICKY_{kind}_PASSWORD is still the example's placeholder; set a password of "
            "your own in docker/.env"
        )
    return credentials


def _agi_secret(environ: dict[str, str]) -> str:
    secret = environ.get("STICKY_AGI_SECRET", "")
    if not secret or secret.startswith(PLACEHOLDER_PREFIX):
        raise RenderError(
            "STICKY_AGI_SECRET is not set (or still the example's placeholder): the FastAGI "
            "server serves only AGI URLs that carry it; set one of your own in docker/.env"
        )
    if not AGI_SECRET.fullmatch(secret):  # what sticky_router/agi/peers.py accepts; never echoed
        raise RenderError(
            "STICKY_AGI_SECRET: 16 to 128 letters, digits, - and _ (it travels in a dialplan "
            "line, where a comma would split AGI()'s arguments)"
        )
    return secret


def find_modules_dir(explicit: str | None) -> str:
    if explicit:
        return explicit
    found = sorted(Path("/usr/lib").glob("*/asterisk/modules"))
    if not found:
        raise RenderError(
            "no Asterisk modules directory under /usr/lib/*/asterisk/modules; "
            "install Asterisk or pass --modules-dir"
        )
    return str(found[0])


def environment_values(
    environ: dict[str, str], instance: str, modules_dir: str
) -> dict[str, object]:
    """The templates' placeholders from the environment, checked, filled by the sandbox's own
    `template_values`."""
    sandbox = LocalAsterisk  # its dataclass defaults are the sandbox's ports
    ports = {
        "sip_port": _port(environ, "ASTERISK_SIP_PORT", sandbox.sip_port),
        "http_port": _port(environ, "ASTERISK_HTTP_PORT", sandbox.http_port),
        "ami_port": _port(environ, "ASTERISK_AMI_PORT", sandbox.ami_port),
        "agi_port": _port(environ, "STICKY_AGI_PORT", sandbox.agi_port),
        "caller_port": _port(environ, "ASTERISK_PHONE_BASE_PORT", sandbox.phone_base_port),
        "rtp_start": _port(environ, "ASTERISK_RTP_START", sandbox.rtp_ports[0]),
        "rtp_end": _port(environ, "ASTERISK_RTP_END", sandbox.rtp_ports[1]),
    }
    if ports["rtp_start"] >= ports["rtp_end"]:
        raise RenderError("ASTERISK_RTP_START must be below ASTERISK_RTP_END")
    phones = range(ports["caller_port"], ports["caller_port"] + len(PHONES) + 1)
    if phones.stop - 1 > 65535:
        raise RenderError(f"ASTERISK_PHONE_BASE_PORT + {len(PHONES)} must be at most 65535")
    if ports["sip_port"] in phones:
        last = phones.stop - 1
        raise RenderError(f"ASTERISK_SIP_PORT must not be a phone's port ({phones.start}-{last})")
    return template_values(
        instance=instance,
        modules_dir=modules_dir,
        ports=TemplatePorts(
            sip=ports["sip_port"],
            http=ports["http_port"],
            ami=ports["ami_port"],
            agi=ports["agi_port"],
            phone_base=ports["caller_port"],
            rtp_start=ports["rtp_start"],
            rtp_end=ports["rtp_end"],
        ),
        ari=_credentials(environ, "ARI"),
        ami=_credentials(environ, "AMI"),
        # The sandbox's test driver has no use here: a random password nobody is told.
        ami_driver=Credentials.generate(AMI_DRIVER_USER),
        agi_secret=_agi_secret(environ),
    )


def write_instance(instance: Path, values: dict[str, object], stock_etc: Path) -> list[str]:
    """Write the configuration; returns the warnings. Everything is rendered before anything is
    written, so a missing value leaves the last configuration as it was."""
    rendered = {
        template.name: render(template.read_text(), values)
        for template in sorted(CONF_TEMPLATES.glob("*.conf"))
    }
    if not rendered:
        raise RenderError(f"no configuration templates in {CONF_TEMPLATES}")
    dialplan = sorted(dialplan_dir().glob("*.conf"))
    warnings = []

    if instance.exists() and any(instance.iterdir()) and not (instance / MARKER).is_file():
        raise RenderError(
            f"{instance} is not empty and was not written by this script; refusing to rewrite it"
        )
    for name in REWRITTEN:
        if (instance / name).exists():
            shutil.rmtree(instance / name)
    for name in SUBDIRECTORIES:
        (instance / name).mkdir(parents=True, exist_ok=True, mode=0o700)
        (instance / name).chmod(0o700)
    (instance / MARKER).write_text(
        "Rewritten (etc/, run/) on every start of the container by render_asterisk_conf.py.\n"
    )

    etc = instance / "etc"
    for name, text in rendered.items():
        target = etc / name
        target.write_text(text)
        target.chmod(0o600)  # manager.conf and extensions.conf hold secrets
    for name in EMPTY_CONFIGS:
        (etc / name).write_text(EMPTY_TEXT)
    for name in STOCK_FILES_KEPT:
        stock = stock_etc / name
        if stock.is_file():
            shutil.copyfile(stock, etc / name)
        else:
            warnings.append(f"no stock {stock}; Asterisk's built-in defaults apply instead")
    (etc / DIALPLAN_IN_ETC).mkdir()
    for source in dialplan:
        shutil.copyfile(source, etc / DIALPLAN_IN_ETC / source.name)
    return warnings


def lookup_owner(owner: str) -> tuple[int, int]:
    import pwd

    try:
        user = pwd.getpwnam(owner)
    except KeyError:
        raise RenderError(f"--owner {owner}: no such user") from None
    return user.pw_uid, user.pw_gid


def chown_tree(path: Path, uid: int, gid: int) -> None:
    for entry in (path, *path.rglob("*")):
        os.lchown(entry, uid, gid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--instance",
        default=os.environ.get("ASTERISK_INSTANCE_DIR") or DEFAULT_INSTANCE,
        help="directory for etc/, run/, log/, spool/, db/ (default: $ASTERISK_INSTANCE_DIR "
        f"or {DEFAULT_INSTANCE})",
    )
    parser.add_argument(
        "--modules-dir", default=None, help="default: the first /usr/lib/*/asterisk/modules"
    )
    parser.add_argument(
        "--stock-etc",
        type=Path,
        default=Path("/etc/asterisk"),
        help="the package's configuration, for " + ", ".join(STOCK_FILES_KEPT),
    )
    parser.add_argument("--owner", default=None, help="chown the instance directory to this user")
    args = parser.parse_args(argv)

    instance = Path(args.instance)
    try:
        if not instance.is_absolute():
            raise RenderError("--instance must be an absolute path (Asterisk reads it as is)")
        owner = lookup_owner(args.owner) if args.owner else None
        values = environment_values(
            dict(os.environ), str(instance), find_modules_dir(args.modules_dir)
        )
        warnings = write_instance(instance, values, args.stock_etc)
        if owner is not None:
            chown_tree(instance, *owner)
    except KeyError as error:  # render(): a template wants a value this script does not set
        print(f"render_asterisk_conf: {error.args[0]}", file=sys.stderr)
        return 2
    except (RenderError, ValueError, OSError) as error:
        print(f"render_asterisk_conf: {error}", file=sys.stderr)
        return 2
    for warning in warnings:
        print(f"render_asterisk_conf: warning: {warning}", file=sys.stderr)
    print(
        f"render_asterisk_conf: wrote {instance}/etc: SIP udp 127.0.0.1:{values['sip_port']}, "
        f"ARI http://127.0.0.1:{values['http_port']}/ari (user {values['ari_user']}), "
        f"AMI 127.0.0.1:{values['ami_port']} (user {values['ami_user']}), "
        f"caller port {values['caller_port']}, agents "
        f"{values['agent1_port']}-{values[f'{PHONES[-1]}_port']}, "
        f"RTP {values['rtp_start']}-{values['rtp_end']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
