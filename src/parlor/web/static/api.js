// REST client: JSON in and out, cookie auth, errors as ApiError {status, code, message}.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// `options`: extra `headers` (e.g. X-Waitlist-Token) and `credentials` ('omit' to leave
// the session cookie out of a call made on someone else's behalf).
export async function api(method, path, body, { headers = {}, credentials = 'same-origin' } = {}) {
  const init = { method, credentials, headers: { Accept: 'application/json', ...headers } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(`/api${path}`, init);
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error;
    if (err && err.code) {
      const error = new ApiError(res.status, err.code, err.message || 'Something went wrong.');
      // Seconds to wait (429, slow mode, a chat timeout), when the server says.
      error.retryAfter = Number(res.headers.get('Retry-After')) || null;
      throw error;
    }
    // FastAPI's own 422 validation answer, in case a route lets one through.
    if (data && Array.isArray(data.detail)) {
      throw new ApiError(res.status, 'invalid_input', data.detail.map((d) => d.msg).join('; '));
    }
    throw new ApiError(res.status, 'http_' + res.status, `The server answered ${res.status}.`);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body = {}) => api('POST', path, body);
export const del = (path) => api('DELETE', path);
export const patch = (path, body) => api('PATCH', path, body);

// --- named calls -----------------------------------------------------------

const r = (id) => `/rooms/${encodeURIComponent(id)}`;

export const Api = {
  setupNeeded: () => get('/setup'),
  setup: (body) => post('/setup', body),
  signup: (body) => post('/signup', body),
  login: (body) => post('/login', body),
  logout: () => post('/logout'),
  me: () => get('/me'),
  createInvite: () => post('/invites'),

  rooms: () => get('/rooms'),
  createRoom: (title) => post('/rooms', { title }),
  room: (id) => get(r(id)),
  audience: (id, offset = 0, limit = 100) => get(`${r(id)}/audience?offset=${offset}&limit=${limit}`),
  join: (id) => post(`${r(id)}/join`),
  leave: (id) => post(`${r(id)}/leave`),
  hand: (id, raised) => post(`${r(id)}/hand`, { raised }),
  inviteToSpeak: (id, userId) => post(`${r(id)}/speak-invites`, { user_id: userId }),
  acceptInvite: (id) => post(`${r(id)}/speak-invite/accept`),
  declineInvite: (id) => post(`${r(id)}/speak-invite/decline`),
  toAudience: (id, userId) => post(`${r(id)}/audience`, { user_id: userId }),
  mute: (id, muted) => post(`${r(id)}/mute`, { muted }),
  muteSpeaker: (id, userId, lock = false) => post(`${r(id)}/mute-speaker`, { user_id: userId, lock }),
  unlockMute: (id, userId) => post(`${r(id)}/unlock-mute`, { user_id: userId }),
  makeModerator: (id, userId) => post(`${r(id)}/moderators`, { user_id: userId }),
  revokeModerator: (id, userId) => del(`${r(id)}/moderators/${encodeURIComponent(userId)}`),
  remove: (id, userId, block = false) => post(`${r(id)}/remove`, { user_id: userId, block }),
  withdrawInvite: (id, userId) => del(`${r(id)}/speak-invites/${encodeURIComponent(userId)}`),
  muteAll: (id) => post(`${r(id)}/mute-all`),
  lowerHands: (id) => post(`${r(id)}/lower-hands`),
  openUp: (id) => patch(r(id), { kind: 'open' }),
  roomAudit: (id, limit = 30, before = null) => get(`${r(id)}/audit?limit=${limit}${before ? `&before=${before}` : ''}`),
  end: (id) => post(`${r(id)}/end`),
};
