"""What the Teach page's capture component sends, checked before anything is decoded: a burst (photos held to record,
or one recording) and a live-preview frame arrive as data URLs; their number and lengths are capped first, then each
one is base64-decoded on its own, so a bad frame is refused by number and the rest of the burst kept."""

from __future__ import annotations

import base64
import binascii

from core.families.teach.data import TeachError
from core.families.teach.projects import MAX_UPLOAD_BYTES

# The component records at most MAX_BURST_FRAMES photos (8 s at 6 a second) or MAX_CLIP_SECONDS of sound per hold.
# A photo frame is a centre square of FRAME_SIDE pixels as JPEG (~5-10 KB; 4x the model's 32 pixels, so the
# server's resize still averages, as for an upload); a live-preview photo is PREVIEW_SIDE pixels.
BURST_FPS = 6
MAX_BURST_FRAMES = 48
MAX_CLIP_SECONDS = 20
FRAME_SIDE = 128
PREVIEW_SIDE = 64
PREVIEW_EVERY_MS = 400  # the component sends a live frame this often, and never while one is still being classified
MIN_PREVIEW_GAP_S = 0.2  # the server classifies at most one live frame per session in this time, whatever is sent
MAX_FRAME_CHARS = 256 * 1024  # one photo's data URL; a 128-px JPEG is ~10 KB, even a PNG of it ~50 KB
MAX_BURST_CHARS = 4 * 2**20  # all the photos of one burst together
MAX_CLIP_CHARS = (MAX_UPLOAD_BYTES * 4) // 3 + 100  # one recording's data URL: the upload cap, base64-encoded
MAX_PREVIEW_CHARS = 200_000  # a live frame: a 64-px photo (~3 KB) or one second of 16 kHz WAV (~43 KB)
MEDIA = {"image": ("image/jpeg", "image/png"), "sound": ("audio/wav", "audio/wave", "audio/x-wav")}


def data_url_bytes(url, kind: str, max_chars: int, what: str = "frame") -> bytes:
    """The bytes of one `data:<type>;base64,...` URL of the kind's media types; its length is checked before any
    decoding. Anything else is a TeachError in plain words."""
    if not isinstance(url, str) or not url.startswith("data:") or ";base64," not in url[:64]:
        raise TeachError(f"The {what} is not a data URL of a {'photo' if kind == 'image' else 'recording'}.")
    if len(url) > max_chars:
        raise TeachError(f"The {what} is {len(url) / 1024:,.0f} KB; at most {max_chars / 1024:,.0f} KB is accepted.")
    media, payload = url[5:].split(";base64,", 1)
    if media.lower() not in MEDIA[kind]:
        raise TeachError(f"The {what} is {media or 'untyped'!r}; expected one of {', '.join(MEDIA[kind])}.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise TeachError(f"The {what} is not valid base64.") from None


def burst_items(value, kind: str) -> list[bytes | TeachError]:
    """A burst from the component -> one item per photo (its bytes, or the TeachError that refused it) or the one
    recording. The burst as a whole is refused, nothing decoded, when it is not a list of strings, holds too many
    photos, or is too long all together; a single bad frame only refuses itself."""
    frames = value.get("frames") if isinstance(value, dict) else None
    if not isinstance(frames, list) or not frames:
        raise TeachError("The capture sent no frames: hold the record button a little longer. Nothing was added.")
    if kind == "sound":
        if len(frames) != 1:
            raise TeachError(f"A recording is sent as one clip (got {len(frames)}). Nothing was added.")
        return [data_url_bytes(frames[0], kind, MAX_CLIP_CHARS, "recording")]
    if len(frames) > MAX_BURST_FRAMES:
        raise TeachError(
            f"The burst holds {len(frames)} photos; at most {MAX_BURST_FRAMES} are taken at once. Nothing was added."
        )
    total = sum(len(f) if isinstance(f, str) else 0 for f in frames)
    if total > MAX_BURST_CHARS:
        raise TeachError(
            f"The burst is {total / 2**20:.1f} MB; at most {MAX_BURST_CHARS / 2**20:g} MB is accepted at once. "
            "Nothing was added."
        )
    items: list[bytes | TeachError] = []
    for frame in frames:
        try:
            items.append(data_url_bytes(frame, kind, MAX_FRAME_CHARS, "photo"))
        except TeachError as exc:
            items.append(exc)
    return items


def preview_bytes(value, kind: str) -> tuple[int, bytes]:
    """A live-preview frame from the component -> (its sequence number, its bytes), checked like a burst's."""
    seq = value.get("seq") if isinstance(value, dict) else None
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise TeachError("The live preview sent a frame without its number.")
    return seq, data_url_bytes(value.get("url"), kind, MAX_PREVIEW_CHARS, "live frame")
