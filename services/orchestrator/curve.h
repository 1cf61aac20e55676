/*  curve.h - CURVE on the worker link: keys, the ZAP handler, refusals.

    The orchestrator is the CURVE server of its tasks, results and control
    sockets; a worker proves who it is with a certificate whose public key
    is in ORCH_KEYS_DIR/workers/. The keys directory (`orchestrator keygen
    DIR` writes it; README.md "The worker link: CURVE", docs/DOCKER.md "Keys"):

        DIR/server.key_secret     the orchestrator's secret certificate (0600)
        DIR/server.key            its public certificate: give it to workers
        DIR/workers/NAME.key      public certificates of the allowed workers
        DIR/worker.key_secret     a worker's secret certificate (0600): for
                                  agent-sandbox only, never the orchestrator

    The orchestrator needs server.key_secret and workers/ only.

    Who may connect is decided by a ZAP handler (RFC 27) that this class
    binds on inproc://zeromq.zap.01 in the orchestrator's own context and
    that the main loop polls: libzmq asks it about every CURVE handshake
    and the answer (200 or 400) comes from the allowed set. A refused peer
    never gets a pipe: no task is pushed to it, no frame of its reaches the
    results socket, no control frame reaches it. Peers that fail before
    ZAP (no CURVE at all, or the wrong server key) are seen by a socket
    monitor. Each refusal is logged once per client key (or per socket and
    reason when there is no key), not per frame or per reconnect.
*/
#ifndef ORCH_CURVE_H_INCLUDED
#define ORCH_CURVE_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

typedef struct orch_curve_t orch_curve_t;

#define ORCH_CURVE_POLL_MAX 4           /* sockets to poll: ZAP + 3 monitors */

/*  `orchestrator keygen DIR`: create DIR (0700) and DIR/workers, then the
    server certificate and one worker certificate named "worker". Replaces
    nothing: when any of the four files exists, nothing is written. Lists
    what it wrote on out. 0, or -1 with err.                                */
int orch_curve_keygen (const char *dir, FILE *out, char *err, size_t err_size);

/*  Load DIR/server.key_secret and every DIR/workers/NAME.key, and bind the
    ZAP handler in zctx. Call before binding the worker sockets: without
    a ZAP handler libzmq would let every CURVE client in. NULL with err
    naming ORCH_KEYS_DIR, the file and what to do.                          */
orch_curve_t *orch_curve_new (void *zctx, const char *keys_dir, char *err, size_t err_size);
void orch_curve_destroy (orch_curve_t **self_p);

/*  Make socket (not yet bound) a CURVE server with our secret key, in ZAP
    domain "cleudo.NAME", and watch its failed handshakes. 0 or -1.        */
int orch_curve_secure (orch_curve_t *self, void *socket, const char *name);

/*  Allowed worker keys loaded.                                             */
size_t orch_curve_allowed (const orch_curve_t *self);

/*  The sockets to poll for ZMQ_POLLIN (up to ORCH_CURVE_POLL_MAX).        */
size_t orch_curve_sockets (orch_curve_t *self, void **sockets, size_t max);

/*  Answer pending ZAP requests and read monitor events (never blocks).   */
void orch_curve_drain (orch_curve_t *self);

#endif
