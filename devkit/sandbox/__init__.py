"""Development tooling: a local PostgreSQL, Asterisk 22 in a debootstrap root, Redmine, the fault
proxy. The CLI imports it only when asked for the sandbox (`sticky-router run` without
STICKY_ARI_URL, `demo`), so a deployment's router never loads it."""

# How agents are queue members: plain PJSIP members, or a PBX laid out as FreePBX lays it out
# (sandbox/asterisk.py). Here, so that the CLI can offer the choice without loading the sandbox.
FLAVOURS = ("plain", "freepbx")
