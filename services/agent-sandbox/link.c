/*  link.c - connecting sockets that stay connected.                       */
#include "link.h"
#include "cert.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RECONNECT_IVL_MS 100
#define RECONNECT_IVL_MAX_MS 2000
#define RESTART_AFTER_MS 1000           /* no retry this long after a drop */
#define ZMTP_HEARTBEAT_MS 2000          /* detects a peer gone silent */
#define ZMTP_HEARTBEAT_TIMEOUT_MS 6000

struct sbx_link_t {
    void *socket;                       /* the socket itself */
    void *monitor;                      /* PAIR receiving its events */
    char name[16];                      /* "tasks", "results", "control" */
    char *endpoint;                     /* where it connects */
    bool awaiting_retry;                /* dropped; no retry seen yet */
    bool connected;                     /* CONNECTED seen, no DISCONNECTED */
    int64_t restart_at;                 /* when to reconnect by hand */
    bool refusal_logged;                /* a failed handshake was logged */
    bool handshaken;                    /* ZMTP handshake done since CONNECTED */
};

static int
s_setopt_int (void *socket, int option, int value)
{
    return zmq_setsockopt (socket, option, &value, sizeof value);
}

sbx_link_t *
sbx_link_new (void *ctx, int type, const char *name, const char *endpoint,
              int64_t max_frame, int linger_ms, const sbx_link_curve_t *curve,
              char *err, size_t err_size)
{
    static unsigned seq;
    sbx_link_t *self = calloc (1, sizeof *self);
    if (!self || !(self->endpoint = strdup (endpoint))) {
        free (self);
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    snprintf (self->name, sizeof self->name, "%s", name);
    self->socket = zmq_socket (ctx, type);
    if (!self->socket)
        goto fail;
    /*  Every socket: short linger, quick reconnects, ZMTP heartbeats so a
        silent peer (network cut) is noticed and the link re-established.  */
    s_setopt_int (self->socket, ZMQ_LINGER, linger_ms);
    s_setopt_int (self->socket, ZMQ_RECONNECT_IVL, RECONNECT_IVL_MS);
    s_setopt_int (self->socket, ZMQ_RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS);
    s_setopt_int (self->socket, ZMQ_HEARTBEAT_IVL, ZMTP_HEARTBEAT_MS);
    s_setopt_int (self->socket, ZMQ_HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS);
    /*  Every socket, whatever it reads: a peer may send on any of them.
        CURVE frames are larger on the wire by CERT_CURVE_OVERHEAD.        */
    int64_t max_wire = max_frame + (curve ? CERT_CURVE_OVERHEAD : 0);
    if (zmq_setsockopt (self->socket, ZMQ_MAXMSGSIZE, &max_wire, sizeof max_wire))
        goto fail;
    if (type == ZMQ_SUB && zmq_setsockopt (self->socket, ZMQ_SUBSCRIBE, "", 0))
        goto fail;
    /*  CURVE client: the orchestrator proves it holds the server key, we
        prove we hold our certificate; both before connect.                */
    if (curve
        && (zmq_setsockopt (self->socket, ZMQ_CURVE_SERVERKEY, curve->server_key, 32)
            || zmq_setsockopt (self->socket, ZMQ_CURVE_PUBLICKEY, curve->public_key, 32)
            || zmq_setsockopt (self->socket, ZMQ_CURVE_SECRETKEY, curve->secret_key, 32)))
        goto fail;

    char inproc[64];
    snprintf (inproc, sizeof inproc, "inproc://sbx-monitor-%s-%u", name, seq++);
    if (zmq_socket_monitor (self->socket, inproc,
                            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                            | ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_CONNECT_DELAYED
                            | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL))
        goto fail;
    self->monitor = zmq_socket (ctx, ZMQ_PAIR);
    if (!self->monitor)
        goto fail;
    s_setopt_int (self->monitor, ZMQ_LINGER, 0);
    if (zmq_connect (self->monitor, inproc))
        goto fail;
    if (zmq_connect (self->socket, endpoint))
        goto fail;
    return self;
fail:
    snprintf (err, err_size, "%s socket (%s): %s", name, endpoint, zmq_strerror (zmq_errno ()));
    sbx_link_destroy (&self);
    return NULL;
}

void
sbx_link_destroy (sbx_link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_link_t *self = *self_p;
    if (self->socket) {
        zmq_socket_monitor (self->socket, NULL, 0);
        zmq_close (self->socket);
    }
    if (self->monitor)
        zmq_close (self->monitor);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void *
sbx_link_socket (sbx_link_t *self)
{
    return self->socket;
}

void *
sbx_link_monitor (sbx_link_t *self)
{
    return self->monitor;
}

void
sbx_link_set_linger (sbx_link_t *self, int linger_ms)
{
    s_setopt_int (self->socket, ZMQ_LINGER, linger_ms);
}

int
sbx_link_on_monitor (sbx_link_t *self, int64_t now_ms)
{
    int ups = 0;
    for (int i = 0; i < 64; i++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            break;
        }
        /*  Event frame: uint16 event, uint32 value; then the address.     */
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size (&frame) >= 6) {
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
            memcpy (&value, (uint8_t *) zmq_msg_data (&frame) + 2, sizeof value);
        }
        bool more = zmq_msg_more (&frame);
        zmq_msg_close (&frame);
        while (more) {
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, self->monitor, ZMQ_DONTWAIT) < 0)
                more = false;
            else
                more = zmq_msg_more (&frame);
            zmq_msg_close (&frame);
        }
        switch (event) {
            case ZMQ_EVENT_CONNECTED:
                self->handshaken = false;
                self->awaiting_retry = false;
                self->connected = true;
                ups++;
                log_event (CLOG_INFO, "link_up", "socket=%s endpoint=%s", self->name, self->endpoint);
                break;
            case ZMQ_EVENT_DISCONNECTED:
                /*  Dropped before the handshake ended, and libzmq did not
                    say why (the orchestrator closed first): once.          */
                if (self->connected && !self->handshaken && !self->refusal_logged) {
                    self->refusal_logged = true;
                    log_event (CLOG_ERROR, "link_refused", "socket=%s endpoint=%s note=\"closed"
                               " during the handshake: SANDBOX_CURVE and ORCH_CURVE must agree,"
                               " SANDBOX_SERVER_KEY must be the orchestrator's server.key and"
                               " our certificate (SANDBOX_CERT) must be allowed there\"",
                               self->name, self->endpoint);
                }
                self->connected = false;
                self->awaiting_retry = self->socket != NULL;
                self->restart_at = now_ms + RESTART_AFTER_MS;
                log_event (CLOG_WARN, "link_down", "socket=%s endpoint=%s", self->name,
                           self->endpoint);
                break;
            case ZMQ_EVENT_CONNECT_RETRIED:
            case ZMQ_EVENT_CONNECT_DELAYED:
                self->awaiting_retry = false;
                break;
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                self->handshaken = true;
                if (self->refusal_logged)
                    log_event (CLOG_INFO, "link_accepted", "socket=%s endpoint=%s", self->name,
                               self->endpoint);
                self->refusal_logged = false;
                break;
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                /*  Once: the link retries every second (link_restarted).  */
                if (self->refusal_logged)
                    break;
                self->refusal_logged = true;
                log_event (CLOG_ERROR, "link_refused", "socket=%s endpoint=%s code=%u note=\"%s\"",
                           self->name, self->endpoint, (unsigned) value,
                           event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                           ? "the orchestrator does not allow our certificate (SANDBOX_CERT):"
                             " its public certificate must be in the orchestrator's"
                             " ORCH_KEYS_DIR/workers/"
                           : value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                           ? "CURVE on one side only: SANDBOX_CURVE and ORCH_CURVE must agree"
                           : value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
                           ? "CURVE handshake failed: is SANDBOX_SERVER_KEY the orchestrator's"
                             " server.key?"
                           : "handshake failed: SANDBOX_CURVE and ORCH_CURVE must agree,"
                             " SANDBOX_SERVER_KEY must be the orchestrator's server.key and our"
                             " certificate (SANDBOX_CERT) must be allowed there");
                break;
            default:
                break;
        }
    }
    return ups;
}

int64_t
sbx_link_next_timer (const sbx_link_t *self)
{
    return self->awaiting_retry ? self->restart_at : -1;
}

void
sbx_link_tick (sbx_link_t *self, int64_t now_ms)
{
    if (!self->socket || !self->awaiting_retry || now_ms < self->restart_at)
        return;
    /*  Dropped for a protocol error (e.g. an oversized frame): libzmq gave
        up on this endpoint, so start it over.                              */
    self->awaiting_retry = false;
    zmq_disconnect (self->socket, self->endpoint);
    if (zmq_connect (self->socket, self->endpoint))
        log_event (CLOG_ERROR, "link_restart_failed", "socket=%s endpoint=%s error=\"%s\"",
                   self->name, self->endpoint, zmq_strerror (zmq_errno ()));
    else
        log_event (CLOG_WARN, "link_restarted", "socket=%s endpoint=%s", self->name,
                   self->endpoint);
}

bool
sbx_link_connected (const sbx_link_t *self)
{
    return self->connected;
}

void
sbx_link_stop (sbx_link_t *self)
{
    if (!self->socket)
        return;
    zmq_socket_monitor (self->socket, NULL, 0);
    s_setopt_int (self->socket, ZMQ_LINGER, 0);
    zmq_close (self->socket);
    self->socket = NULL;
    self->connected = false;
    self->awaiting_retry = false;
    log_event (CLOG_INFO, "link_closed", "socket=%s endpoint=%s", self->name, self->endpoint);
}
