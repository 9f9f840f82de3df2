"""The socket's wire protocol: one class per message type.

Shared by the server's socket endpoint and `parlor.client`; it imports nothing
else of Parlor so the client can use it alone. Messages are JSON objects with a
`type` field. Client→server and server→client types are separate allow-lists:
a server message sent by a client is as unknown as garbage.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, TypeVar, Union

MAX_MESSAGE_BYTES = 64 * 1024
MAX_SDP_BYTES = 32 * 1024


class ProtocolError(ValueError):
    """A message that is not valid JSON, of an unknown type, or of the wrong shape."""


@dataclass(frozen=True)
class Message:
    TYPE: ClassVar[str] = ""
    # Field name → its name on the wire, for a wire name Python cannot take (`from`).
    WIRE_NAMES: ClassVar[dict[str, str]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.TYPE, **{self.WIRE_NAMES.get(k, k): v for k, v in asdict(self).items()}}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))


# ---- client → server -------------------------------------------------------


@dataclass(frozen=True)
class Hello(Message):
    """First message on a socket. `queue_id`/`last_event_id` resume a queue."""

    TYPE: ClassVar[str] = "hello"
    queue_id: str | None = None
    last_event_id: int | None = None


@dataclass(frozen=True)
class Ack(Message):
    TYPE: ClassVar[str] = "ack"
    event_id: int


@dataclass(frozen=True)
class Ping(Message):
    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True)
class Subscribe(Message):
    """Receive a room's events (the sender must be in the room)."""

    TYPE: ClassVar[str] = "subscribe"
    room_id: str


@dataclass(frozen=True)
class Unsubscribe(Message):
    TYPE: ClassVar[str] = "unsubscribe"
    room_id: str


@dataclass(frozen=True)
class MediaStart(Message):
    """Ask for a media connection to a room; the server answers with MediaOffer."""

    TYPE: ClassVar[str] = "media.start"
    room_id: str


@dataclass(frozen=True)
class MediaAnswer(Message):
    TYPE: ClassVar[str] = "media.answer"
    room_id: str
    sdp: str


@dataclass(frozen=True)
class MediaStop(Message):
    TYPE: ClassVar[str] = "media.stop"
    room_id: str


@dataclass(frozen=True)
class Bye(Message):
    """This client is going away on purpose (its page closes or reloads): when this
    socket closes, leave my rooms after a short grace (BYE_GRACE_S) instead of the
    reconnect grace, unless the queue is resumed in the meantime (a reload)."""

    TYPE: ClassVar[str] = "bye"


BYE_GRACE_S = 1.0


@dataclass(frozen=True)
class React(Message):
    """React in a room with one of the fixed emoji (domain/chat.py REACTIONS); it goes
    out with the room's next `reactions` batch. Also POST /api/rooms/{id}/reactions."""

    TYPE: ClassVar[str] = "react"
    room_id: str
    emoji: str


@dataclass(frozen=True)
class Link(Message):
    """How this client's link to a room's media and socket looks from its side, when it
    changes: `good` or `poor` (the web client judges loss, jitter and round trip from
    getStats). Others in the room see who is poor (`links`)."""

    TYPE: ClassVar[str] = "link"
    room_id: str
    quality: str


LINK_QUALITIES = ("good", "poor")


@dataclass(frozen=True)
class E2eePublish(Message):
    """An encrypted room (docs/E2EE.md §7): set my public key for this visit (base64url
    without padding, at most 100 characters, 65 bytes starting 0x04). The room's people
    list shows it as `public_key`, with `keyed_since`."""

    TYPE: ClassVar[str] = "e2ee.publish"
    room_id: str
    public_key: str


@dataclass(frozen=True)
class E2eeKeySend(Message):
    """An encrypted room: a room key of `epoch` wrapped for user `to` (docs/E2EE.md §3),
    delivered only to `to`'s sockets as `e2ee.key` (E2eeKey) if both are in the room."""

    TYPE: ClassVar[str] = "e2ee.key"
    room_id: str
    to: str
    epoch: int
    wrapped: str


# ---- server → client -------------------------------------------------------


@dataclass(frozen=True)
class Welcome(Message):
    """`resumed` false after a resume attempt: the queue is gone, refetch state."""

    TYPE: ClassVar[str] = "welcome"
    queue_id: str
    user_id: str
    resumed: bool
    last_event_id: int
    heartbeat_s: float


@dataclass(frozen=True)
class Pong(Message):
    TYPE: ClassVar[str] = "pong"


@dataclass(frozen=True)
class Error(Message):
    """A refused request; `ref` names the message type it answers, if any."""

    TYPE: ClassVar[str] = "error"
    code: str
    message: str
    ref: str | None = None


@dataclass(frozen=True)
class Event(Message):
    """A queued event: ids increase per queue; ack the last one you handled.

    Names: `room.state` (data: a room snapshot, as GET /api/rooms/{id}; when only
    the audience changed they are merged, at most a few a second), `room.you`
    (data: {room_id, version, participant: your record as in snapshots, or null
    when you are no longer in the room}), `room.ended` (data: {room_id}),
    `hallway.changed` (data: {}), `notification` (data: an inbox item, docs/API.md),
    `chat.message`, `chat.deleted`, `chat.settings`, `chat.history`, `chat.you`
    (actions/chat.py, docs/API.md).
    """

    TYPE: ClassVar[str] = "event"
    id: int
    name: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Speaking(Message):
    """Who is speaking now (0..1 loudness per user id), a few times a second; not queued."""

    TYPE: ClassVar[str] = "speaking"
    room_id: str
    levels: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MediaOffer(Message):
    TYPE: ClassVar[str] = "media.offer"
    room_id: str
    sdp: str


@dataclass(frozen=True)
class MediaRestart(Message):
    """The server lost your media connection (e.g. a media worker died): send media.start again."""

    TYPE: ClassVar[str] = "media.restart"
    room_id: str


@dataclass(frozen=True)
class Links(Message):
    """Who in the room has a poor link now: user id → `late` (the server has not heard
    from their client for a while) or `reported` (their client says so). Sent when it
    changes, at most about once a second per room; not queued."""

    TYPE: ClassVar[str] = "links"
    room_id: str
    poor: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reactions(Message):
    """Reactions in a room since the last batch, at most a few a second; not queued.

    `counts`: emoji → how many; `by`: user id → {emoji: how many} for the first few
    senders (float them over those avatars), the rest are in `counts` only.
    """

    TYPE: ClassVar[str] = "reactions"
    room_id: str
    counts: dict[str, int] = field(default_factory=dict)
    by: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class E2eeKey(Message):
    """A room key wrapped for you by `from` (on the wire `from`; here `from_`), sent with
    `e2ee.key` (E2eeKeySend); not queued: a key missed while away is sent again by the
    key leader's next rotation."""

    TYPE: ClassVar[str] = "e2ee.key"
    WIRE_NAMES: ClassVar[dict[str, str]] = {"from_": "from"}
    room_id: str
    from_: str
    epoch: int
    wrapped: str


# A client's messages about one room that only the room's node can answer (on another
# node of a cluster, carried there: actions/room_ops.py).
RoomMessage = MediaStart | MediaAnswer | MediaStop | Link | React | E2eePublish | E2eeKeySend
ROOM_MESSAGES = (MediaStart, MediaAnswer, MediaStop, Link, React, E2eePublish, E2eeKeySend)

CLIENT_MESSAGES: dict[str, type[Message]] = {
    m.TYPE: m
    for m in (
        Hello,
        Ack,
        Ping,
        Subscribe,
        Unsubscribe,
        MediaStart,
        MediaAnswer,
        MediaStop,
        Bye,
        React,
        Link,
        E2eePublish,
        E2eeKeySend,
    )
}
SERVER_MESSAGES: dict[str, type[Message]] = {
    m.TYPE: m for m in (Welcome, Pong, Error, Event, Speaking, MediaOffer, MediaRestart, Reactions, Links, E2eeKey)
}

M = TypeVar("M", bound=Message)


def _check(name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for arm in typing.get_args(hint):
            try:
                return _check(name, arm, value)
            except ProtocolError:
                continue
        raise ProtocolError(f"field {name!r} has the wrong type")
    if hint is type(None):
        if value is None:
            return None
        raise ProtocolError(f"field {name!r} must be null")
    if origin is dict or hint is dict:
        if isinstance(value, dict):
            return value
        raise ProtocolError(f"field {name!r} must be an object")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            if len(value) > MAX_SDP_BYTES:
                raise ProtocolError(f"field {name!r} is too long")
            if not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate ("\ud800" in the JSON)
                    raise ProtocolError(f"field {name!r} is not valid Unicode text") from None
            return value
    raise ProtocolError(f"field {name!r} has the wrong type")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    # Resolving string annotations is slow; every socket message would pay it.
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _build(cls: type[M], obj: dict[str, Any]) -> M:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    if cls.WIRE_NAMES:
        # The wire's names in, the Python names out: `from_` itself is no field on the wire.
        if set(obj) & set(cls.WIRE_NAMES):
            raise ProtocolError(f"unknown field(s) {sorted(set(obj) & set(cls.WIRE_NAMES))} in {cls.TYPE!r}")
        from_wire = {wire: name for name, wire in cls.WIRE_NAMES.items()}
        obj = {from_wire.get(k, k): v for k, v in obj.items()}
    known = {f.name for f in fields(cls)}
    extra = set(obj) - known - {"type"}
    if extra:
        raise ProtocolError(f"unknown field(s) {sorted(extra)} in {cls.TYPE!r}")
    for f in fields(cls):
        if f.name in obj:
            kwargs[f.name] = _check(f.name, hints[f.name], obj[f.name])
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ProtocolError(f"missing field in {cls.TYPE!r}") from exc


def _parse(text: str | bytes, allowed: dict[str, type[Message]]) -> Message:
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError("message too large")
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("not JSON") from exc
    except RecursionError:
        # Nested deeper than the parser goes; no message is nested at all.
        raise ProtocolError("nested too deeply") from None
    if not isinstance(obj, dict):
        raise ProtocolError("a message is a JSON object")
    kind = obj.get("type")
    cls = allowed.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {kind!r}")
    return _build(cls, obj)


def parse_client(text: str | bytes) -> Message:
    """Parse a client→server message (the server's side)."""
    return _parse(text, CLIENT_MESSAGES)


def parse_server(text: str | bytes) -> Message:
    """Parse a server→client message (the client's side)."""
    return _parse(text, SERVER_MESSAGES)
