// Frame encryption for an end-to-end encrypted room (docs/E2EE.md §4), in a worker:
// every RTCRtpScriptTransform of the room's connection runs here, the sender's
// (options {side: 'send'}) and each receiver's ({side: 'receive'}).
//
// Page → worker: {type: 'key', epoch, key (16 bytes)}: decrypt with it from now on
// (the last 4 epochs are kept); `send: true` also makes it the key we encrypt with.
// {type: 'forget'}: drop every key (the page left the room).
// Worker → page: {type: 'stats', decrypted, noKey, bad, replayed, sent, unsent}: running
// totals, posted at most every STATS_MS while they change.
//
// The sender encrypts every frame the encoder gives, and sends nothing until it holds
// a key (never a plain frame). Receivers drop what does not decrypt; a 1–2 byte frame
// is the DTX the server inserts itself and goes to the decoder as is.
import { SFrameReceiver, SFrameSender } from './e2ee_crypto.js';

const STATS_MS = 250;

let sender = null; // SFrameSender of the newest sending key
let sending = Promise.resolve(); // a key being set up
const receiver = new SFrameReceiver();
const stats = { decrypted: 0, noKey: 0, bad: 0, replayed: 0, sent: 0, unsent: 0 };
let statsTimer = null;

function counted(name) {
  stats[name] += 1;
  if (statsTimer === null) {
    statsTimer = setTimeout(() => {
      statsTimer = null;
      self.postMessage({ type: 'stats', ...stats });
    }, STATS_MS);
  }
}

self.onmessage = (event) => {
  const msg = event.data || {};
  if (msg.type === 'key') {
    const key = new Uint8Array(msg.key);
    receiver.addKey(msg.epoch, key);
    if (msg.send) {
      sending = SFrameSender.create(key, msg.epoch).then((s) => {
        if (!sender || s.epoch >= sender.epoch) sender = s;
      });
    }
  } else if (msg.type === 'forget') {
    sender = null;
    receiver.roomKeys.clear();
    receiver.senders.clear();
  }
};

async function encrypt(frame, controller) {
  await sending;
  if (!sender) {
    counted('unsent');
    return;
  }
  frame.data = (await sender.encrypt(new Uint8Array(frame.data))).buffer;
  counted('sent');
  controller.enqueue(frame);
}

async function decrypt(frame, controller) {
  const data = new Uint8Array(frame.data);
  if (data.length <= 2) {
    controller.enqueue(frame); // empty, or the server's DTX: nothing to decrypt
    return;
  }
  try {
    frame.data = (await receiver.decrypt(data)).buffer;
  } catch (err) {
    counted(err.code === 'no_key' ? 'noKey' : err.code === 'replayed' ? 'replayed' : 'bad');
    return;
  }
  counted('decrypted');
  controller.enqueue(frame);
}

self.onrtctransform = (event) => {
  const transformer = event.transformer;
  const side = transformer.options && transformer.options.side;
  const transform = side === 'send' ? encrypt : decrypt;
  transformer.readable
    .pipeThrough(new TransformStream({ transform }))
    .pipeTo(transformer.writable)
    .catch(() => { /* the connection closed */ });
};
