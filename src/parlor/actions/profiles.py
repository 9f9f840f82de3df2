"""Profiles: edit your own display name and bio; avatars.

An avatar upload is never served as sent. Its type is sniffed from the bytes (PNG,
JPEG, WebP or GIF; the filename and Content-Type are ignored), its pixel count is
read from the header and refused before anything is decoded (image bombs), and
its first frame is re-encoded to a 256×256 WebP with no metadata (EXIF, GPS, XMP,
ICC profile all dropped), which is what is stored and served.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
import logging
import re
import threading
import warnings
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from parlor.actions.accounts import check_display_name
from parlor.actions.services import Services
from parlor.domain.text import clean_text
from parlor.domain.users import User
from parlor.errors import Code, ParlorError, bad_input
from parlor.storage import profiles as store
from parlor.storage.profiles import ProfileRow

logger = logging.getLogger(__name__)

BIO_MAX = 160
AVATAR_SIZE = 256
AVATAR_CONTENT_TYPE = "image/webp"
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
# 4096×4096: a 12-megapixel phone photo fits; decoding the largest accepted image
# takes at most ~64 MB (RGBA). Each side is capped too, against 1×16M strips.
MAX_PIXELS = 4096 * 4096
MAX_SIDE = 8192
# Decodes at once in this process (each may hold up to ~64 MB while it runs).
_DECODES = threading.BoundedSemaphore(2)

# Pillow checks the header's pixel count when it opens a file: it warns past
# MAX_IMAGE_PIXELS and raises past twice that. Make the warning an error too, so
# that nothing past our limit is ever decoded (our own check below repeats it).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)

# What an id can look like (actions/ids.py); anything else is nobody (and, with a NUL,
# would be an error from PostgreSQL rather than a 404).
_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# Shown wherever a person is named by an account that was deleted.
FORMER_MEMBER: dict[str, Any] = {"id": None, "username": None, "display_name": "a former member"}


def check_bio(bio: str) -> str:
    """Plain text: whitespace runs become one space; no control characters; ≤ BIO_MAX."""
    return clean_text(bio, "A bio", max_len=BIO_MAX)


def avatar_url(user_id: str, sha256: str) -> str:
    # The version in the query makes the URL change with the image, so it can be cached for good.
    return f"/api/users/id/{user_id}/avatar?v={sha256[:16]}"


def profile_fields(user_id: str, row: ProfileRow) -> dict[str, Any]:
    """What a profile shows beyond names and counts (docs/API.md, Profiles)."""
    fields: dict[str, Any] = {
        "bio": row.bio,
        "avatar_url": avatar_url(user_id, row.avatar_sha256) if row.avatar_sha256 else None,
    }
    if row.nominated_by_former:
        fields["nominated_by"] = FORMER_MEMBER
    return fields


async def do_update_profile(s: Services, user: User, *, display_name: str | None, bio: str | None) -> None:
    """Change your own display name and/or bio (the route answers with your profile)."""
    if display_name is None and bio is None:
        raise bad_input("Send a display_name or a bio to change.")
    shown = check_display_name(display_name) if display_name is not None else None
    text = check_bio(bio) if bio is not None else None
    async with s.db.engine.begin() as conn:
        if shown is not None:
            await store.set_display_name(conn, user.id, shown)
        if text is not None:
            await store.set_bio(conn, user.id, text)
    if shown is not None and user.id in s.live.profiles:
        # Names in room snapshots come from this cache.
        s.live.profiles[user.id] = dataclasses.replace(user, display_name=shown)


# -- avatars -----------------------------------------------------------------------------


def _too_big() -> ParlorError:
    return ParlorError(
        400, Code.IMAGE_TOO_BIG, f"This image has too many pixels (at most {MAX_PIXELS:,} and {MAX_SIDE} a side)."
    )


def _not_an_image() -> ParlorError:
    return ParlorError(400, Code.NOT_AN_IMAGE, "This is not a PNG, JPEG, WebP or GIF image that can be read.")


def reencode_avatar(data: bytes) -> bytes:
    """The avatar as stored: the first frame, cropped square, 256×256 WebP, no metadata.

    Blocking and CPU-bound: call it off the event loop.
    """
    with _DECODES:
        try:
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as source:
                # Only the header has been read so far.
                width, height = source.size
                if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                    raise _too_big()
                if source.format == "JPEG":
                    # Let libjpeg decode at 1/2 … 1/8 scale: far less memory and time.
                    source.draft("RGB", (AVATAR_SIZE, AVATAR_SIZE))
                upright = ImageOps.exif_transpose(source)  # honour the orientation, then drop EXIF
                frame = upright.convert("RGBA")
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _too_big() from exc
        except UnidentifiedImageError as exc:
            raise _not_an_image() from exc
        except (OSError, SyntaxError, ValueError, EOFError, TypeError) as exc:
            # Truncated or corrupt data that passed the sniffing.
            raise _not_an_image() from exc
        alpha_min, _ = frame.getchannel("A").getextrema()
        if alpha_min == 255:
            frame = frame.convert("RGB")
        square = ImageOps.fit(frame, (AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS)
        square.info = {}  # nothing of the source's metadata may reach the encoder
        out = io.BytesIO()
        square.save(out, "WEBP", quality=85, method=4)
        return out.getvalue()


async def do_set_avatar(s: Services, user: User, data: bytes) -> None:
    """Replace your avatar with `data` (an uploaded image)."""
    limit = s.settings.avatar_max_bytes
    if len(data) > limit:
        raise ParlorError(413, Code.IMAGE_TOO_LARGE, f"An avatar is at most {limit:,} bytes.")
    if not data:
        raise _not_an_image()
    encoded = await asyncio.to_thread(reencode_avatar, data)
    digest = hashlib.sha256(encoded).hexdigest()
    async with s.db.engine.begin() as conn:
        await store.put_avatar(conn, user.id, digest, encoded, s.clock())
    s.live.avatar_changed(user.id, avatar_url(user.id, digest))  # room snapshots show it


async def do_delete_avatar(s: Services, user: User) -> None:
    """Remove your avatar (idempotent)."""
    async with s.db.engine.begin() as conn:
        await store.delete_avatar(conn, user.id)
    s.live.avatar_changed(user.id, None)


async def avatar(s: Services, user_id: str) -> tuple[str, bytes]:
    """(sha256, WebP bytes) of someone's avatar; 404 when they have none or don't exist."""
    async with s.db.engine.connect() as conn:
        found = await store.avatar(conn, user_id) if _ID.match(user_id) else None
    if found is None:
        raise ParlorError(404, Code.NO_AVATAR, "This person has no avatar.")
    return found
