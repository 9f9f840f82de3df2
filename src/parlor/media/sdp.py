"""SDP munging for the server's offer (pure text functions)."""

from __future__ import annotations

import re

OPUS_FMTP = "minptime=10;useinbandfec=1;usedtx=1"
OPUS_FMTP_NO_DTX = "minptime=10;useinbandfec=1"

_OPUS_RTPMAP = re.compile(r"^a=rtpmap:(\d+) opus/48000(?:/2)?$", re.IGNORECASE)


def with_opus_fmtp(sdp: str, params: str = OPUS_FMTP) -> str:
    """Give every Opus payload type the fmtp `params` (in-band FEC and DTX by default).

    An existing fmtp line for that payload type is replaced.
    """
    lines = sdp.splitlines()
    opus_pts = {m.group(1) for line in lines if (m := _OPUS_RTPMAP.match(line))}
    out: list[str] = []
    for line in lines:
        if line.startswith("a=fmtp:") and line[7:].split(" ", 1)[0] in opus_pts:
            continue
        out.append(line)
        m = _OPUS_RTPMAP.match(line)
        if m:
            out.append(f"a=fmtp:{m.group(1)} {params}")
    return "\r\n".join(out) + "\r\n"


def answer_problem(sdp: str) -> str | None:
    """What makes an SDP answer unusable before aiortc sees it, or None.

    aiortc accepts an answer without a DTLS fingerprint or ICE credentials and fails
    later, in a background task (an assertion nobody handles): refuse it here instead.
    Each is needed at session level or in every media section.
    """
    session: list[str] = []
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        (sections[-1] if sections else session).append(line)
    if not sections:
        return "no media section"
    for needed, name in (
        ("a=fingerprint:", "DTLS fingerprint"),
        ("a=ice-ufrag:", "ICE credentials"),
        ("a=ice-pwd:", "ICE credentials"),
    ):
        if any(line.startswith(needed) for line in session):
            continue
        if not all(any(line.startswith(needed) for line in section) for section in sections):
            return f"no {name}"
    return None
