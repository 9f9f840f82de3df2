"""`parlor.client`: join a Parlor room from Python, as a listener or a speaker bot.

    async with ParlorClient("https://parlor.example", token) as client:
        room = await client.join_room(room_id)               # a listener
        await asyncio.sleep(5)
        print(room.media.stats())                            # packets, bytes, level

It speaks the same REST API and socket protocol as the web client and imports
nothing of the server but the wire protocol (`parlor.protocol`).
"""

from parlor.client.session import ClientError, ParlorClient, RoomSession

__all__ = ["ClientError", "ParlorClient", "RoomSession"]
