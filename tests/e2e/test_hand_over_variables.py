"""A hand-over's variables replace an earlier one's, on the real Asterisk 22 (ari_app.hand_over
sends the first candidate's ahead, while the agent is checked; the fallback's may follow).
"""

from __future__ import annotations

import pytest

from sticky_router.ari_app.channels import AriChannels
from sticky_router.ari_app.client import AriClient, segment
from sticky_router.routing_core.dialplan_variables import MAX_PACK_CHARS, handed_over

pytestmark = pytest.mark.usefixtures("fresh")


async def _read(client: AriClient, channel_id: str, name: str) -> str:
    answer = await client.request(
        "GET", f"/channels/{segment(channel_id)}/variable", params={"variable": name}
    )
    return str(answer["value"])


async def test_a_pack_is_replaced_whole_and_a_long_hand_over_clears_it(
    stasis_channel: tuple[AriClient, str],
) -> None:
    client, channel_id = stasis_channel
    channels = AriChannels(client)
    sticky = {"STICKY_ROUTE": "sticky", "STICKY_TARGET_ENDPOINT": "PJSIP/agent2"}
    await channels.set_variables(channel_id, handed_over(sticky))
    assert "STICKY_TARGET_ENDPOINT=PJSIP/agent2" in await _read(client, channel_id, "STICKY_PACK")

    await channels.set_variables(channel_id, handed_over({"STICKY_ROUTE": "queue"}))
    assert await _read(client, channel_id, "STICKY_PACK") == "__STICKY_ROUTE=queue|"

    # Too long for one request: the variables one by one, and the pack set empty, which ARI
    # takes (no error status) and which leaves nothing for sticky-unpack to set.
    long = {"STICKY_ROUTE": "queue", "TICKET_ID": "Я" * 512}
    assert len(handed_over(long)) > 1
    assert MAX_PACK_CHARS < 6 * 512
    await channels.set_variables(channel_id, handed_over(long))
    assert await _read(client, channel_id, "STICKY_PACK") == ""
    assert await _read(client, channel_id, "STICKY_ROUTE") == "queue"
    assert await _read(client, channel_id, "TICKET_ID") == "Я" * 512
