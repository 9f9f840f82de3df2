// Who is signed in, the tab's socket, and the window.parlor test hook.
import { Api, ApiError } from './api.js';
import { ParlorSocket } from './socket.js';

/** Test hook (DESIGN §7): Playwright reads window.parlor.pc.getStats() etc. */
export const hook = (window.parlor = {
  pc: null,
  room: null,
  socketState: 'closed',
  me: null,
  socket: null,
});

export const session = {
  me: null,
  socket: null,
};

const listeners = new Set();
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setMe(me) {
  session.me = me;
  hook.me = me;
  if (me) ensureSocket();
  else dropSocket();
  for (const fn of listeners) fn(me);
}

/** Loads /api/me once (or again with force). null when signed out. */
let mePromise = null;
export function loadMe(force = false) {
  if (!mePromise || force) {
    mePromise = Api.me()
      .then((me) => { setMe(me); return me; })
      .catch((err) => {
        if (err instanceof ApiError && err.status === 401) {
          setMe(null);
          return null;
        }
        mePromise = null;
        throw err;
      });
  }
  return mePromise;
}

export function signedIn(me) {
  mePromise = Promise.resolve(me);
  setMe(me);
}

export async function signOut() {
  try {
    await Api.logout();
  } finally {
    mePromise = Promise.resolve(null);
    setMe(null);
  }
}

function ensureSocket() {
  if (session.socket) return session.socket;
  const socket = new ParlorSocket();
  socket.addEventListener('state', (e) => { hook.socketState = e.detail; });
  socket.addEventListener('unauthorized', () => {
    mePromise = Promise.resolve(null);
    setMe(null);
  });
  session.socket = socket;
  hook.socket = socket;
  socket.connect();
  hook.socketState = socket.state;
  return socket;
}

function dropSocket() {
  if (!session.socket) return;
  session.socket.close();
  session.socket = null;
  hook.socket = null;
  hook.socketState = 'closed';
}
