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
