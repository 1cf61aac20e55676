/*  link.h - one connecting ZeroMQ socket of the worker link, with a monitor
    that tells when it comes up and makes sure it comes back.

    libzmq closes a connection that delivers a frame over ZMQ_MAXMSGSIZE and
    treats it as a protocol error: the session is terminated and a
    connecting socket does NOT reconnect by itself. The monitor sees the
    disconnect; when no reconnect attempt follows within a second, the link
    disconnects and connects the endpoint again. (After an ordinary
    connection loss libzmq retries on its own and we leave it alone, so no
    queued frame is dropped.)

    A refused CURVE handshake (the orchestrator does not allow our
    certificate, or we have the wrong server key) is a protocol error too:
    it is logged once per link and retried the same way, every second, so
    a worker whose key is added to the allowed directory comes in.
*/
#ifndef SBX_LINK_H_INCLUDED
#define SBX_LINK_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sbx_link_t sbx_link_t;

/*  CURVE client keys: the orchestrator's public key and our certificate.  */
typedef struct {
    uint8_t server_key[32];             /* the orchestrator's public key */
    uint8_t public_key[32];             /* ours */
    uint8_t secret_key[32];             /* ours */
} sbx_link_curve_t;

/*  Socket of type (ZMQ_PULL, ZMQ_PUSH, ZMQ_SUB) connected to endpoint.
    name is for logs ("tasks"). max_frame caps received frames; linger_ms is
    how long unsent frames may delay closing. curve: the CURVE client keys,
    or NULL for a plain link. NULL with err filled.                         */
sbx_link_t *sbx_link_new (void *ctx, int type, const char *name, const char *endpoint,
                          int64_t max_frame, int linger_ms, const sbx_link_curve_t *curve,
                          char *err, size_t err_size);
void sbx_link_destroy (sbx_link_t **self_p);

void *sbx_link_socket (sbx_link_t *self);
/*  The monitor's PAIR socket, to poll for ZMQ_POLLIN.                      */
void *sbx_link_monitor (sbx_link_t *self);

/*  Drain monitor events. Returns how many times the link came up (TCP
    connected), so the caller can announce itself again.                    */
int sbx_link_on_monitor (sbx_link_t *self, int64_t now_ms);

/*  Reconnect check: next due time (-1 none) and the check itself.          */
int64_t sbx_link_next_timer (const sbx_link_t *self);
void sbx_link_tick (sbx_link_t *self, int64_t now_ms);

/*  Set the linger (e.g. shorter at shutdown).                              */
void sbx_link_set_linger (sbx_link_t *self, int linger_ms);

/*  Up as far as the monitor knows (connected, no disconnect since).       */
bool sbx_link_connected (const sbx_link_t *self);

/*  Close the socket for good (linger 0: what waits in it is dropped) but
    keep the object: sbx_link_socket () is NULL afterwards, the monitor
    stays pollable and quiet, timers are off. For a graceful stop: a closed
    PULL makes the peer's PUSH stop routing frames to us.                   */
void sbx_link_stop (sbx_link_t *self);

#endif
