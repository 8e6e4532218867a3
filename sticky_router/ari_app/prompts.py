"""The prompts Asterisk can play, for the admin's sound picker (ARI `GET /sounds`).

Only names a setting may hold are offered (routing_core.dialplan_safe), so picking one can
never be refused; Asterisk lists each sound once, whatever its languages and formats.
"""

from __future__ import annotations

from sticky_router.ari_app.client import AriClient
from sticky_router.routing_core.dialplan_safe import is_sound


async def prompt_names(client: AriClient) -> list[str]:
    sounds = await client.request("GET", "/sounds")
    names = {str(sound.get("id", "")) for sound in sounds or [] if isinstance(sound, dict)}
    return sorted(name for name in names if is_sound(name))
