"""The page-side halves of `parlor bench quality` (evaluated in Chromium by Playwright).

`pcs(mode)`: the listener's peer connections, the web client's one (`window.parlor.pc`)
through Parlor, or the ones the bench made (`window.__pcs`) for a direct call.
"""

_PCS = "const pcs = mode === 'parlor' ? [window.parlor && window.parlor.pc].filter(Boolean) : (window.__pcs || []);"

# Sums the listener's inbound audio counters (every slot / every direct connection).
STATS = (
    "async (mode) => {" + _PCS + """
  const keys = ['packetsReceived', 'packetsLost', 'concealedSamples', 'silentConcealedSamples',
                'concealmentEvents', 'insertedSamplesForDeceleration', 'removedSamplesForAcceleration',
                'jitterBufferDelay', 'jitterBufferEmittedCount', 'totalSamplesReceived'];
  const out = {streams: 0, jitter: 0};
  for (const k of keys) out[k] = 0;
  for (const pc of pcs) {
    (await pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
      out.streams += 1;
      for (const k of keys) out[k] += s[k] || 0;
      out.jitter = Math.max(out.jitter, s.jitter || 0);  // RFC 3550 interarrival jitter, s
    });
  }
  return out;
}"""
)

# Records the sum of every received audio track, as rendered, at 48 kHz. Chromium only
# feeds a remote track to WebAudio while a media element plays it: the web client has
# its <audio> elements, the direct listener gets its own (LISTEN below).
RECORD_START = (
    "async (mode) => {" + _PCS + """
  const ctx = new AudioContext({sampleRate: 48000});
  const proc = ctx.createScriptProcessor(4096, 1, 1);
  const rec = {ctx, proc, chunks: [], frames: 0, on: true, sources: []};
  proc.onaudioprocess = (e) => {
    if (!rec.on) return;
    const d = e.inputBuffer.getChannelData(0);
    rec.chunks.push(new Float32Array(d));
    rec.frames += d.length;
  };
  for (const pc of pcs) {
    for (const r of pc.getReceivers()) {
      if (!r.track || r.track.kind !== 'audio') continue;
      const src = ctx.createMediaStreamSource(new MediaStream([r.track]));
      src.connect(proc);
      rec.sources.push(src);
    }
  }
  const mute = ctx.createGain();
  mute.gain.value = 0;
  proc.connect(mute);
  mute.connect(ctx.destination);
  await ctx.resume();
  window.__rec = rec;
  return rec.sources.length;
}"""
)

FRAMES = "() => window.__rec ? window.__rec.frames : 0"

# Stops the recording; returns it as base64 little-endian int16.
RECORD_STOP = """async () => {
  const rec = window.__rec;
  rec.on = false;
  await rec.ctx.close();
  const n = rec.chunks.reduce((a, c) => a + c.length, 0);
  const pcm = new Int16Array(n);
  let i = 0;
  for (const c of rec.chunks) for (const v of c) pcm[i++] = Math.max(-32768, Math.min(32767, Math.round(v * 32768)));
  const bytes = new Uint8Array(pcm.buffer);
  let s = '';
  for (let j = 0; j < bytes.length; j += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(j, j + 0x8000));
  window.__rec = null;
  return btoa(s);
}"""

_GATHER = """
  const gathered = (pc) => new Promise((resolve) => {
    if (pc.iceGatheringState === 'complete') return resolve();
    const t = setTimeout(resolve, 2000);
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') { clearTimeout(t); resolve(); }
    });
  });
"""

# A direct call's speaker: the microphone as the web client asks for it, one offer.
SPEAK_OFFER = (
    "async () => {" + _GATHER + """
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  const track = stream.getAudioTracks()[0];
  pc.addTrack(track, stream);
  window.__speak = {pc, track};
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  return pc.localDescription.sdp;
}"""
)

SPEAK_ANSWERED = "async (sdp) => { await window.__speak.pc.setRemoteDescription({type: 'answer', sdp}); }"

# A speaker falls silent (on=false) or talks again: its microphone track off / on, on
# the direct call's connection or the web client's (which is left unmuted).
MIC_ENABLE = """(on) => {
  const pcs = [window.__speak && window.__speak.pc, window.parlor && window.parlor.pc].filter(Boolean);
  for (const pc of pcs) for (const s of pc.getSenders()) if (s.track) s.track.enabled = on;
}"""

# A direct call's listener: answers an offer, plays what it receives in an <audio>.
# With `dtx`, its answer asks the speaker for Opus DTX (`usedtx=1`, as the node's answer
# does), so the direct call can be measured with the same encoder settings as Parlor.
LISTEN = (
    "async ([sdp, dtx]) => {" + _GATHER + """
  const pc = new RTCPeerConnection({bundlePolicy: 'max-bundle'});
  (window.__pcs = window.__pcs || []).push(pc);
  pc.addEventListener('track', (e) => {
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.srcObject = new MediaStream([e.track]);
    document.body.append(audio);
    audio.play().catch(() => null);
  });
  await pc.setRemoteDescription({type: 'offer', sdp});
  const answer = await pc.createAnswer();
  if (dtx) answer.sdp = answer.sdp.replace(/^(a=fmtp:[0-9]+ .*useinbandfec=1.*)$/m, '$1;usedtx=1');
  await pc.setLocalDescription(answer);
  await gathered(pc);
  return pc.localDescription.sdp;
}"""
)

# The web client's microphone is on its connection and not muted (after the API unmuted it).
MIC_LIVE = """() => {
  const pc = window.parlor && window.parlor.pc;
  return !!pc && pc.getSenders().some((s) => s.track && s.track.enabled && s.track.readyState === 'live');
}"""

CONNECTED = "(mode) => {" + _PCS + " return pcs.length > 0 && pcs.every((pc) => pc.connectionState === 'connected'); }"

# What a page's side of a call looks like, for a failure message: its peer connections'
# states, its microphone track, and what it sent and received.
DIAGNOSE = """async () => {
  const pcs = [];
  if (window.parlor && window.parlor.pc) pcs.push(['parlor', window.parlor.pc]);
  if (window.__speak) pcs.push(['speak', window.__speak.pc]);
  for (const pc of window.__pcs || []) pcs.push(['listen', pc]);
  const out = [];
  for (const [role, pc] of pcs) {
    const d = {role, connection: pc.connectionState, ice: pc.iceConnectionState, signaling: pc.signalingState,
               tracks: [], sent: 0, received: 0, pair: null};
    for (const s of pc.getSenders()) {
      if (s.track) d.tracks.push({kind: s.track.kind, state: s.track.readyState, muted: s.track.muted,
                                  enabled: s.track.enabled});
    }
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'outbound-rtp') d.sent += s.packetsSent || 0;
      if (s.type === 'inbound-rtp') d.received += s.packetsReceived || 0;
      if (s.type === 'candidate-pair' && s.nominated) {
        d.pair = {state: s.state, sent: s.packetsSent, received: s.packetsReceived};
      }
      if (s.type === 'media-source' && s.kind === 'audio') d.mic_level = s.audioLevel;
    });
    out.push(d);
  }
  return out;
}"""
