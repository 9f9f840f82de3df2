/* The fan-out's inner loop in C (DESIGN §4 fast path; media/fanout.py is its Python twin).
 *
 * For one admitted speaker packet, for every listener route of the room: stamp the
 * listener's slot SSRC / sequence / timestamp / payload type into a copy of the
 * template, SRTP-protect it with the listener's outbound libsrtp context, sendto() it
 * on the listener's socket. The same steps as the Python loop, without the
 * interpreter's per-listener overhead; measured in docs/BENCHMARKS.md.
 *
 * Safety rules, all enforced here:
 * - libsrtp is reached through the function pointer and context pylibsrtp gives
 *   (aiortc_private.fanout_srtp checks the pointer's C type first); a Route holds a
 *   reference to the pylibsrtp Session that owns the context, so it cannot be freed
 *   while the Route lives.
 * - a Route sends on its own dup() of the socket: when aioice closes its descriptor,
 *   the number cannot be reused under us; close() releases ours.
 * - one call runs on the event loop's thread, start to end, holding the GIL; the
 *   scratch buffer is on the stack.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SLOTS 16
#define MAX_PACKET 1500
#define SRTP_TRAILER 144 /* pylibsrtp's SRTP_MAX_TRAILER_LEN */
#define MIN_TS_GAP 960u  /* 20 ms at 48 kHz between two speakers on one slot */
#define FRAME_TS 960u    /* one 20 ms Opus frame */
#define TURN_S 0.12      /* sfu.py's _SlotOut.rebase: 2 * _TURN_S */

typedef int (*protect_fn)(void *ctx, void *packet, int *length);

typedef struct {
    uint32_t ssrc;
    uint64_t generation;
    uint16_t seq_offset;
    uint32_t ts_offset;
    uint16_t last_seq;
    uint32_t last_ts;
    double last_time;
} SlotOut;

typedef struct {
    PyObject_HEAD
    int fd;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    void *ctx;
    protect_fn protect;
    PyObject *session; /* owns ctx */
    PyObject *key;     /* the caller's name for this route (a user id) */
    int payload_type;
    int slots;
    SlotOut out[MAX_SLOTS];
    unsigned long long sent;
    unsigned long long would_block;
} Route;

static void Route_release(Route *self) {
    if (self->fd >= 0) {
        close(self->fd);
        self->fd = -1;
    }
}

static void Route_dealloc(Route *self) {
    Route_release(self);
    Py_XDECREF(self->session);
    Py_XDECREF(self->key);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Route(key, fd, host, port, ctx, protect, session, payload_type, ssrcs, seqs, tss, now) */
static int Route_init(Route *self, PyObject *args, PyObject *kwargs) {
    PyObject *key, *session, *ssrcs, *seqs, *tss;
    int fd, port, payload_type;
    const char *host;
    unsigned long long ctx, protect;
    double now;
    if (!PyArg_ParseTuple(args, "OisiKKOiOOOd", &key, &fd, &host, &port, &ctx, &protect, &session,
                          &payload_type, &ssrcs, &seqs, &tss, &now))
        return -1;
    if (!ctx || !protect) {
        PyErr_SetString(PyExc_ValueError, "no SRTP context");
        return -1;
    }
    if (payload_type < 0 || payload_type > 127) {
        PyErr_SetString(PyExc_ValueError, "payload type must be 0-127");
        return -1;
    }
    if (port <= 0 || port > 65535) {
        PyErr_SetString(PyExc_ValueError, "bad port");
        return -1;
    }
    Py_ssize_t n = PySequence_Length(ssrcs);
    if (n < 1 || n > MAX_SLOTS || PySequence_Length(seqs) != n || PySequence_Length(tss) != n) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "one ssrc, seq and ts per slot (1-16)");
        return -1;
    }
    memset(&self->addr, 0, sizeof(self->addr));
    struct sockaddr_in *v4 = (struct sockaddr_in *)&self->addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&self->addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        self->addrlen = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        self->addrlen = sizeof(*v6);
    } else {
        PyErr_SetString(PyExc_ValueError, "host must be a numeric IP address");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PySequence_GetItem(ssrcs, i), *q = PySequence_GetItem(seqs, i),
                 *t = PySequence_GetItem(tss, i);
        unsigned long ssrc = s ? PyLong_AsUnsignedLong(s) : 0, seq = q ? PyLong_AsUnsignedLong(q) : 0,
                      ts = t ? PyLong_AsUnsignedLong(t) : 0;
        Py_XDECREF(s);
        Py_XDECREF(q);
        Py_XDECREF(t);
        if (PyErr_Occurred()) return -1;
        self->out[i] = (SlotOut){(uint32_t)ssrc, 0, 0, 0, (uint16_t)seq, (uint32_t)ts, now};
    }
    int own = dup(fd);
    if (own < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    Route_release(self);
    self->fd = own;
    self->slots = (int)n;
    self->ctx = (void *)(uintptr_t)ctx;
    self->protect = (protect_fn)(uintptr_t)protect;
    self->payload_type = payload_type;
    Py_INCREF(session);
    Py_XSETREF(self->session, session);
    Py_INCREF(key);
    Py_XSETREF(self->key, key);
    return 0;
}

static PyObject *Route_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    Route *self = (Route *)type->tp_alloc(type, 0);
    if (self) self->fd = -1;
    return (PyObject *)self;
}

static PyObject *Route_close(Route *self, PyObject *unused) {
    Route_release(self);
    Py_RETURN_NONE;
}

static PyObject *Route_get_key(Route *self, void *closure) {
    Py_INCREF(self->key);
    return self->key;
}

static PyObject *Route_get_closed(Route *self, void *closure) { return PyBool_FromLong(self->fd < 0); }

static PyObject *Route_get_fd(Route *self, void *closure) { return PyLong_FromLong(self->fd); }

static PyObject *Route_get_sent(Route *self, void *closure) { return PyLong_FromUnsignedLongLong(self->sent); }

static PyObject *Route_get_would_block(Route *self, void *closure) {
    return PyLong_FromUnsignedLongLong(self->would_block);
}

static PyGetSetDef Route_getset[] = {
    {"key", (getter)Route_get_key, NULL, "the caller's name for this route", NULL},
    {"closed", (getter)Route_get_closed, NULL, "whether the route's socket is released", NULL},
    {"fd", (getter)Route_get_fd, NULL, "the route's own descriptor (a dup), -1 once closed", NULL},
    {"sent", (getter)Route_get_sent, NULL, "packets sent", NULL},
    {"would_block", (getter)Route_get_would_block, NULL, "packets the kernel refused for now (dropped)", NULL},
    {NULL},
};

static PyMethodDef Route_methods[] = {
    {"close", (PyCFunction)Route_close, METH_NOARGS, "release the route's socket"},
    {NULL},
};

static PyTypeObject RouteType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parlor.media._fanout.Route",
    .tp_basicsize = sizeof(Route),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One listener: its socket, address, SRTP context, payload type and slot state.",
    .tp_new = Route_new,
    .tp_init = (initproc)Route_init,
    .tp_dealloc = (destructor)Route_dealloc,
    .tp_methods = Route_methods,
    .tp_getset = Route_getset,
};

/* fan_out(routes, skip, slot, generation, template, marker, in_seq, in_ts, now, turn)
 *   -> (sent, failed routes)
 * `turn`: a new holder takes the slot's stream over without a pause; its first frame is
 * stamped one frame after the last (sfu.py's _SlotOut.rebase).
 * `skip` (a Route or None) is the speaker's own route; `failed` are routes whose
 * protect or send failed (their socket is gone, say): the caller drops them. A send the
 * kernel refuses for now (a full buffer) is a lost packet, as on any UDP path. */
static PyObject *fan_out(PyObject *module, PyObject *args) {
    PyObject *routes, *skip;
    int slot, marker;
    unsigned long long generation;
    unsigned int in_seq, in_ts;
    Py_buffer template;
    double now;
    int turn = 0;
    if (!PyArg_ParseTuple(args, "O!OiKy*iIId|p", &PyList_Type, &routes, &skip, &slot, &generation, &template,
                          &marker, &in_seq, &in_ts, &now, &turn))
        return NULL;
    PyObject *failed = NULL;
    Py_ssize_t n = template.len;
    if (n < 12 || n > MAX_PACKET - SRTP_TRAILER) {
        PyBuffer_Release(&template);
        PyErr_SetString(PyExc_ValueError, "template must be an RTP packet of 12 to 1356 bytes");
        return NULL;
    }
    if (slot < 0 || slot >= MAX_SLOTS) {
        PyBuffer_Release(&template);
        PyErr_SetString(PyExc_ValueError, "bad slot");
        return NULL;
    }
    failed = PyList_New(0);
    if (!failed) {
        PyBuffer_Release(&template);
        return NULL;
    }
    unsigned char packet[MAX_PACKET];
    long sent = 0;
    Py_ssize_t count = PyList_GET_SIZE(routes);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(routes, i);
        if (item == skip || Py_TYPE(item) != &RouteType) continue;
        Route *r = (Route *)item;
        int ok = 0;
        if (r->fd >= 0 && slot < r->slots) {
            SlotOut *o = &r->out[slot];
            if (o->generation != generation) {
                double since = now - o->last_time;
                uint32_t gap;
                if (turn && since < TURN_S) {
                    gap = FRAME_TS;
                } else { /* real time, in whole frames */
                    double frames = since > 0 ? since * 48000.0 / FRAME_TS : 0;
                    gap = (uint32_t)(frames + 0.5) * FRAME_TS;
                    if (gap < MIN_TS_GAP) gap = MIN_TS_GAP;
                }
                o->seq_offset = (uint16_t)(o->last_seq + 1u - in_seq);
                o->ts_offset = (uint32_t)(o->last_ts + gap - in_ts);
                o->generation = generation;
            }
            uint16_t seq = (uint16_t)(in_seq + o->seq_offset);
            uint32_t ts = (uint32_t)(in_ts + o->ts_offset);
            memcpy(packet, template.buf, (size_t)n);
            packet[1] = (unsigned char)((marker & 0x80) | r->payload_type);
            packet[2] = (unsigned char)(seq >> 8);
            packet[3] = (unsigned char)seq;
            packet[4] = (unsigned char)(ts >> 24);
            packet[5] = (unsigned char)(ts >> 16);
            packet[6] = (unsigned char)(ts >> 8);
            packet[7] = (unsigned char)ts;
            packet[8] = (unsigned char)(o->ssrc >> 24);
            packet[9] = (unsigned char)(o->ssrc >> 16);
            packet[10] = (unsigned char)(o->ssrc >> 8);
            packet[11] = (unsigned char)o->ssrc;
            int length = (int)n;
            if (r->protect(r->ctx, packet, &length) == 0 && length > 0 && length <= MAX_PACKET) {
                ssize_t w = sendto(r->fd, packet, (size_t)length, MSG_DONTWAIT, (struct sockaddr *)&r->addr,
                                   r->addrlen);
                if (w >= 0) {
                    o->last_seq = seq;
                    o->last_ts = ts;
                    o->last_time = now;
                    r->sent++;
                    sent++;
                    ok = 1;
                } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                    r->would_block++;
                    ok = 1;
                } else if (errno == EBADF) {
                    r->fd = -1; /* not ours any more: never close it */
                }
            }
        }
        if (!ok && PyList_Append(failed, item) < 0) {
            Py_DECREF(failed);
            PyBuffer_Release(&template);
            return NULL;
        }
    }
    PyBuffer_Release(&template);
    PyObject *result = Py_BuildValue("(lN)", sent, failed);
    return result;
}

static PyMethodDef module_methods[] = {
    {"fan_out", fan_out, METH_VARARGS, "Stamp, protect and send one packet to every route but `skip`."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "parlor.media._fanout",
    .m_doc = "The fan-out's inner loop in C (see media/fanout.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__fanout(void) {
    if (PyType_Ready(&RouteType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&RouteType);
    if (PyModule_AddObject(m, "Route", (PyObject *)&RouteType) < 0) {
        Py_DECREF(&RouteType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "MAX_SLOTS", MAX_SLOTS);
    return m;
}
