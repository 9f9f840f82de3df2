"""Which speaker each of a room's K listener slots carries.

This policy is first come, first served: an audible speaker who sends gets a free
slot, keeps it while active, and loses it after `idle_s` without an active packet.
A loudest-K policy with hysteresis can replace `SlotTable.slot_for` without touching
the forwarding loop, which only asks "which slot, if any, for this packet?".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Slot:
    holder: str | None = None
    last_active: float = 0.0
    # bumped whenever the holder changes, so listeners re-base their timestamps
    generation: int = 0


@dataclass
class SlotTable:
    count: int
    idle_s: float = 1.5
    slots: list[Slot] = field(default_factory=list)
    by_user: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slots = [Slot() for _ in range(self.count)]

    def slot_for(self, user_id: str, now: float, active: bool) -> int | None:
        """The slot that carries this packet of `user_id`, or None to drop it.

        `active` says the packet carries voice (not silence/DTX comfort noise).
        """
        index = self.by_user.get(user_id)
        if index is not None:
            slot = self.slots[index]
            if active:
                slot.last_active = now
            return index
        if not active:
            return None
        for index, slot in enumerate(self.slots):
            if slot.holder is None or now - slot.last_active > self.idle_s:
                if slot.holder is not None:
                    del self.by_user[slot.holder]
                slot.holder = user_id
                slot.last_active = now
                slot.generation += 1
                self.by_user[user_id] = index
                return index
        return None

    def release(self, user_id: str) -> None:
        """Free the user's slot at once (muted, left the stage, left the room)."""
        index = self.by_user.pop(user_id, None)
        if index is not None:
            slot = self.slots[index]
            slot.holder = None
            slot.last_active = 0.0

    def retain(self, user_ids: frozenset[str]) -> None:
        for user_id in [u for u in self.by_user if u not in user_ids]:
            self.release(user_id)
