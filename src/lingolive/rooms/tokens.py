"""Room join tokens: signed, expiring, bound to one room.

``POST /rooms`` issues a token; an offer that joins a room must present it. A token is
``base64url(zlib(json payload)) . base64url(HMAC-SHA256(secret, compressed payload))``: any
process holding the secret (every worker of one server) can verify it without shared state,
and nobody can forge one or stretch its expiry without the secret. The payload carries the
room's glossary, so a token is compressed (a 60-term glossary: 2.2 kB → under 1 kB) and the
offer accepts tokens up to ``messages.MAX_TOKEN_CHARS`` (``POST /rooms`` refuses a glossary
that would not fit).
Only a verified payload is decompressed, so nobody can send a decompression bomb.

Keys rotate (``RoomKeys``): tokens are signed with the current key, and verified with it or
the previous one, so invites already sent stay valid until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import zlib
from dataclasses import dataclass


class TokenError(ValueError):
    """The token is malformed, forged, for another room, or expired."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RoomKeys:
    """The key that signs, and the previous one that still verifies (``LL_ROOM_SECRET``,
    ``LL_ROOM_SECRET_PREVIOUS``)."""

    current: bytes
    previous: bytes | None = None

    def verifying(self) -> tuple[bytes, ...]:
        return (self.current,) if self.previous is None else (self.current, self.previous)


Keys = RoomKeys | bytes


def _keys(keys: Keys) -> RoomKeys:
    return RoomKeys(keys) if isinstance(keys, bytes) else keys


@dataclass(frozen=True)
class RoomGrant:
    room: str
    expires_at: float
    glossary: list[object] | None = None  # the room's glossary, signed into the token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_room_id() -> str:
    return secrets.token_urlsafe(9)


def issue(
    keys: Keys,
    room: str,
    ttl_s: float,
    now: float | None = None,
    glossary: list[object] | None = None,
) -> tuple[str, float]:
    expires = (time.time() if now is None else now) + ttl_s
    data: dict[str, object] = {"room": room, "exp": int(expires)}
    if glossary:
        data["g"] = glossary
    payload = zlib.compress(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())
    signature = hmac.new(_keys(keys).current, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}", float(int(expires))


def _seat_signature(secret: bytes, room: str, participant_id: str, expires: int) -> str:
    message = f"seat|{room}|{participant_id}|{expires}".encode()
    return _b64(hmac.new(secret, message, hashlib.sha256).digest())


def issue_seat(
    keys: Keys, room: str, participant_id: str, ttl_s: float, now: float | None = None
) -> str:
    """A participant's own seat: presented again after a dropped connection, it brings the
    same participant back (``ready.resume_token``). Valid for ``ttl_s`` (the session's
    longest life), bound to the room and the participant."""
    expires = int((time.time() if now is None else now) + ttl_s)
    signature = _seat_signature(_keys(keys).current, room, participant_id, expires)
    return f"{participant_id}.{expires}.{signature}"


def verify_seat(keys: Keys, token: str, room: str, now: float | None = None) -> str:
    """The participant id a seat token gives back, or ``TokenError``."""
    try:
        participant_id, expires_text, signature = token.split(".")
        expires = int(expires_text)
    except ValueError as exc:
        raise TokenError("bad_token", "malformed resume token") from exc
    if not any(
        hmac.compare_digest(
            signature.encode(), _seat_signature(k, room, participant_id, expires).encode()
        )
        for k in _keys(keys).verifying()
    ):
        raise TokenError("bad_token", "invalid resume token (not for this room or server)")
    if (time.time() if now is None else now) >= expires:
        raise TokenError("token_expired", "the resume token has expired; join anew")
    return participant_id


def verify(keys: Keys, token: str, room: str, now: float | None = None) -> RoomGrant:
    try:
        payload_b64, signature_b64 = token.split(".")
        payload = _unb64(payload_b64)
        signature = _unb64(signature_b64)
    except ValueError as exc:
        raise TokenError("bad_token", "malformed room token") from exc
    if not any(
        hmac.compare_digest(signature, hmac.new(k, payload, hashlib.sha256).digest())
        for k in _keys(keys).verifying()
    ):
        raise TokenError("bad_token", "invalid room token (not issued by this server)")
    data = json.loads(zlib.decompress(payload))
    if data.get("room") != room:
        raise TokenError("bad_token", "this token is for another room")
    if (time.time() if now is None else now) >= float(data["exp"]):
        raise TokenError("token_expired", "the room token has expired; ask for a new invite")
    return RoomGrant(room=room, expires_at=float(data["exp"]), glossary=data.get("g"))
