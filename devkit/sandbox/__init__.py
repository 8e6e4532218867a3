"""Development tooling: a local PostgreSQL, Asterisk 22 in a debootstrap root, Redmine, the fault
proxy. The CLI imports it only when asked for the sandbox (`sticky-router run` without
STICKY_ARI_URL, `demo`), so a deployment's router never loads it."""

from sticky_router.process.development_kit import SANDBOX_FLAVOURS

# How agents are queue members: plain PJSIP members, or a PBX laid out as FreePBX lays it out
# (sandbox/asterisk.py). Named by the product's door to the kit, so that the CLI offers them in
# `--help` where the kit is absent.
FLAVOURS = SANDBOX_FLAVOURS
