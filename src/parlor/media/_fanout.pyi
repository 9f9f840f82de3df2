# Types of the C fan-out (media/_fanout.c).
from collections.abc import Sequence
from typing import Any

MAX_SLOTS: int

class Route:
    def __init__(
        self,
        key: str,
        fd: int,
        host: str,
        port: int,
        ctx: int,
        protect: int,
        session: Any,
        payload_type: int,
        ssrcs: Sequence[int],
        seqs: Sequence[int],
        tss: Sequence[int],
        now: float,
        /,
    ) -> None: ...
    @property
    def key(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    @property
    def fd(self) -> int: ...
    @property
    def sent(self) -> int: ...
    @property
    def would_block(self) -> int: ...
    def close(self) -> None: ...

def fan_out(
    routes: list[Route],
    skip: Route | None,
    slot: int,
    generation: int,
    template: bytes | bytearray,
    marker: int,
    in_seq: int,
    in_ts: int,
    now: float,
    turn: bool = ...,
    /,
) -> tuple[int, list[Route]]: ...
