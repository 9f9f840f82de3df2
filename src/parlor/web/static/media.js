// One RTCPeerConnection per room: answers the server's offer (non-trickle),
// sends the microphone only while on stage (replaceTrack, no renegotiation),
// and plays every received track in a hidden <audio autoplay>. In an end-to-end
// encrypted room every frame goes through e2ee_worker.js (an RTCRtpScriptTransform on
// the sender and on each receiver), with the keys of e2ee.js's RoomKeys.
import { get } from './api.js';
import { hook } from './session.js';

const ICE_WAIT_MS = 2000;
// How the link looks from here (getStats, every LINK_EVERY_MS): poor past these.
const LINK_EVERY_MS = 2000;
const POOR_LOSS = 0.05; // fraction of inbound packets lost since the last look
const POOR_JITTER_S = 0.1;
const POOR_RTT_S = 0.5;
// "Can't decrypt": frames dropped (no key, or one that does not open them) for at least
// CANT_AFTER_MS without a pause (a key rotation's gap of a few frames says nothing);
// it lasts CANT_DECRYPT_MS past the last one dropped.
const CANT_AFTER_MS = 1000;
const CANT_DECRYPT_MS = 2000;
const STATS_GAP_MS = 250; // how often e2ee_worker.js says its totals while frames flow

// TURN servers with short-lived credentials (GET /api/media/ice-servers), fetched
// again when half their lifetime is gone. Without them (none configured, or the
// request failed) media still connects wherever UDP reaches the node.
let iceCache = { servers: [], until: 0 };
async function iceServers() {
  if (performance.now() < iceCache.until) return iceCache.servers;
  try {
    const answer = await get('/media/ice-servers');
    const servers = Array.isArray(answer.ice_servers) ? answer.ice_servers : [];
    const ttlMs = answer.ttl_s ? answer.ttl_s * 1000 : 3_600_000;
    iceCache = { servers, until: performance.now() + ttlMs / 2 };
  } catch (err) {
    console.warn('media: no ICE servers:', err.message || err);
    return [];
  }
  return iceCache.servers;
}

export class RoomMedia extends EventTarget {
  /**
   * @param {import('./socket.js').ParlorSocket} socket
   * @param {string} roomId
   * @param {HTMLElement} sink  where the <audio> elements live (kept in the DOM, hidden)
   * @param {{keys?: import('./e2ee.js').RoomKeys | null}} [options]  keys: an encrypted room
   */
  constructor(socket, roomId, sink, { keys = null } = {}) {
    super();
    this.socket = socket;
    this.roomId = roomId;
    this.sink = sink;
    this.pc = null;
    this.transceiver = null;
    this.mic = null;
    this.want = { onStage: false, muted: true };
    this.chain = Promise.resolve();
    this.generation = 0;
    this.restarts = 0;
    this.restartTimer = null;
    this.stopped = false;
    this.audioBlocked = false;
    this.micError = null;
    this.acquiring = null;
    this.poorLink = false; // see _measureLink; 'change' fires when it flips
    this.linkSeen = null;
    this.linkTimer = setInterval(() => this._measureLink(), LINK_EVERY_MS);
    this._onOffer = (e) => {
      if (e.detail.room_id === this.roomId) this._enqueue(() => this._answer(e.detail.sdp));
    };
    socket.addEventListener('media.offer', this._onOffer);
    // The server lost our connection (e.g. a media worker died): ask for a new one.
    this._onRestart = (e) => {
      if (e.detail.room_id === this.roomId) this.start();
    };
    socket.addEventListener('media.restart', this._onRestart);
    this.keys = keys;
    this.worker = null;
    // Encrypted rooms: the worker's running totals, and whether frames are being dropped
    // for want of a key (or under a wrong one): `cantDecrypt`, 'change' when it flips.
    this.e2eeStats = null;
    this.cantDecrypt = false;
    this.cantTimer = null;
    this.droppingSince = null;
    if (keys) this._startWorker();
  }

  _startWorker() {
    const worker = new Worker('/static/e2ee_worker.js', { type: 'module', name: 'parlor-e2ee' });
    this.worker = worker;
    worker.addEventListener('message', (e) => this._onWorkerStats(e.data));
    worker.addEventListener('error', (e) => console.error('e2ee worker:', e.message || e));
    const post = (epoch, key) => worker.postMessage({ type: 'key', epoch, key: key.slice(), send: true });
    for (const [epoch, key] of [...this.keys.keys].sort((a, b) => a[0] - b[0])) post(epoch, key);
    this._onKeys = (e) => post(e.detail.epoch, e.detail.key);
    this.keys.addEventListener('keys', this._onKeys);
    hook.e2ee = { stats: null, keys: this.keys };
  }

  _onWorkerStats(stats) {
    if (!stats || stats.type !== 'stats') return;
    const before = this.e2eeStats || { noKey: 0, bad: 0 };
    this.e2eeStats = stats;
    if (hook.e2ee) hook.e2ee.stats = stats;
    const now = performance.now();
    const quietBetween = now - (this.statsAt || 0) > 3 * STATS_GAP_MS; // no frames for a while
    this.statsAt = now;
    if (stats.noKey + stats.bad <= before.noKey + before.bad) {
      this.droppingSince = null; // a stretch with nothing dropped
      return;
    }
    if (this.droppingSince === null || quietBetween) this.droppingSince = now;
    if (now - this.droppingSince >= CANT_AFTER_MS) {
      clearTimeout(this.cantTimer);
      this.cantTimer = setTimeout(() => {
        this.cantDecrypt = false;
        this._changed();
      }, CANT_DECRYPT_MS);
      if (!this.cantDecrypt) {
        this.cantDecrypt = true;
        this._changed();
      }
    }
  }

  /** Every frame of `pc` through the worker (an encrypted room). */
  _transform(pc) {
    if (!this.worker) return;
    for (const t of pc.getTransceivers()) {
      if (t.sender && !t.sender.transform) {
        t.sender.transform = new RTCRtpScriptTransform(this.worker, { side: 'send' });
      }
      if (t.receiver && !t.receiver.transform) {
        t.receiver.transform = new RTCRtpScriptTransform(this.worker, { side: 'receive' });
      }
    }
  }

  /** Ask the server for a media connection (again, after a reconnect). */
  start() {
    if (this.stopped) return;
    this.socket.send({ type: 'media.start', room_id: this.roomId });
  }

  /** Reconcile the microphone with the room state (on stage? muted?). */
  setStage(onStage, muted) {
    this.want = { onStage, muted };
    // Muting takes effect at once, before any await: nobody is live by surprise.
    if (this.mic && (muted || !onStage)) this.mic.enabled = false;
    this._enqueue(() => this._applyMic());
  }

  get connectionState() {
    return this.pc ? this.pc.connectionState : 'new';
  }

  /** Retry playing audio (after the autoplay policy blocked it; call from a click). */
  async resumeAudio() {
    const plays = [...this.sink.querySelectorAll('audio')].map((a) => a.play().catch(() => null));
    await Promise.all(plays);
    this.audioBlocked = false;
    this._changed();
  }

  stop() {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.linkTimer);
    this.socket.removeEventListener('media.offer', this._onOffer);
    this.socket.removeEventListener('media.restart', this._onRestart);
    this.socket.send({ type: 'media.stop', room_id: this.roomId });
    this._closePc();
    this._stopMic();
    this.sink.replaceChildren();
    if (this.worker) {
      this.keys.removeEventListener('keys', this._onKeys);
      clearTimeout(this.cantTimer);
      this.worker.terminate();
      this.worker = null;
      if (hook.e2ee && hook.e2ee.keys === this.keys) hook.e2ee = null;
    }
  }

  // --- internals -----------------------------------------------------------

  _enqueue(task) {
    this.chain = this.chain.then(task).catch((err) => {
      console.error('media:', err);
      this.dispatchEvent(new CustomEvent('error', { detail: err }));
    });
    return this.chain;
  }

  _changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }

  async _answer(sdp) {
    if (this.stopped) return;
    const generation = ++this.generation;
    const servers = await iceServers();
    if (this.stopped || generation !== this.generation) return;
    this._closePc();
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceServers: servers });
    this.pc = pc;
    hook.pc = pc;
    pc.addEventListener('track', (e) => {
      this._transform(pc);
      this._play(e.track, pc);
    });
    pc.addEventListener('connectionstatechange', () => this._onConnectionState(pc));
    await pc.setRemoteDescription({ type: 'offer', sdp });
    this._transform(pc); // before any frame flows: none goes out or is played unencrypted
    const [first] = pc.getTransceivers();
    if (first) {
      first.direction = 'sendonly';
      this.transceiver = first;
      if (this.mic) await first.sender.replaceTrack(this.mic);
    }
    await pc.setLocalDescription(await pc.createAnswer());
    await iceGathered(pc, ICE_WAIT_MS);
    if (this.stopped || generation !== this.generation) return;
    this.socket.send({ type: 'media.answer', room_id: this.roomId, sdp: pc.localDescription.sdp });
    this._changed();
  }

  async _applyMic() {
    const { onStage, muted } = this.want;
    if (onStage && !this.mic) {
      this._acquireMic(); // outside the queue: a permission prompt must not hold up offers
      return;
    }
    if (!onStage && this.mic) {
      if (this.transceiver && this.pc && this.pc.signalingState !== 'closed') {
        await this.transceiver.sender.replaceTrack(null);
      }
      this._stopMic();
    }
    if (this.mic) {
      this.mic.enabled = !muted;
      const sender = this.transceiver && this.transceiver.sender;
      if (sender && this.pc.signalingState !== 'closed' && sender.track !== this.mic) {
        await sender.replaceTrack(this.mic);
      }
    }
    this._changed();
  }

  _acquireMic() {
    if (this.acquiring || this.stopped) return;
    this.acquiring = navigator.mediaDevices
      .getUserMedia({ audio: true })
      .then((stream) => {
        const track = stream.getAudioTracks()[0];
        this.micError = null;
        if (!this.want.onStage || this.stopped || this.mic) {
          track.stop();
        } else {
          track.enabled = !this.want.muted;
          this.mic = track;
        }
      })
      .catch((err) => {
        this.micError = err;
      })
      .finally(() => {
        this.acquiring = null;
        this._changed();
        if (this.mic) this._enqueue(() => this._applyMic());
      });
  }

  _stopMic() {
    if (this.mic) this.mic.stop();
    this.mic = null;
  }

  _play(track, pc) {
    if (track.kind !== 'audio' || pc !== this.pc) return;
    const audio = document.createElement('audio');
    audio.autoplay = true;
    audio.dataset.trackId = track.id;
    audio.srcObject = new MediaStream([track]);
    this.sink.append(audio);
    audio.play().catch(() => {
      this.audioBlocked = true;
      this._changed();
    });
    track.addEventListener('ended', () => audio.remove());
  }

  _onConnectionState(pc) {
    if (pc !== this.pc) return;
    const state = pc.connectionState;
    if (state === 'connected') this.restarts = 0;
    if (state === 'failed' && !this.stopped) {
      // Ask for a fresh offer, backing off; the socket's reconnect also restarts media.
      const delay = Math.min(500 * 2 ** this.restarts, 5000);
      this.restarts += 1;
      clearTimeout(this.restartTimer);
      this.restartTimer = setTimeout(() => this.start(), delay);
    }
    this._changed();
  }

  /** Poor: the connection is disconnected or failed, or since the last look inbound
   *  audio lost more than POOR_LOSS of its packets, or jitter or the ICE round trip is long. */
  async _measureLink() {
    const pc = this.pc;
    if (!pc || this.stopped) return;
    let lost = 0;
    let got = 0;
    let jitter = 0;
    let rtt = 0;
    try {
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          lost += s.packetsLost || 0;
          got += s.packetsReceived || 0;
          jitter = Math.max(jitter, s.jitter || 0);
        } else if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
          rtt = Math.max(rtt, s.currentRoundTripTime || 0);
        }
      });
    } catch {
      return; // closed meanwhile
    }
    if (pc !== this.pc) return;
    const seen = this.linkSeen && this.linkSeen.pc === pc ? this.linkSeen : { lost, got };
    this.linkSeen = { pc, lost, got };
    const dLost = lost - seen.lost;
    const dGot = got - seen.got;
    const loss = dLost + dGot >= 20 ? dLost / (dLost + dGot) : 0;
    const state = pc.connectionState;
    const poor = state === 'disconnected' || state === 'failed'
      || loss > POOR_LOSS || jitter > POOR_JITTER_S || rtt > POOR_RTT_S;
    if (poor !== this.poorLink) {
      this.poorLink = poor;
      this._changed();
    }
  }

  _closePc() {
    if (this.pc) {
      this.pc.close();
      if (hook.pc === this.pc) hook.pc = null;
    }
    this.pc = null;
    this.transceiver = null;
    for (const audio of this.sink.querySelectorAll('audio')) {
      audio.srcObject = null;
      audio.remove();
    }
  }
}

function iceGathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      pc.removeEventListener('icecandidate', onCandidate);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const onCandidate = (e) => { if (!e.candidate) done(); };
    const timer = setTimeout(done, ms);
    pc.addEventListener('icegatheringstatechange', check);
    pc.addEventListener('icecandidate', onCandidate);
  });
}
