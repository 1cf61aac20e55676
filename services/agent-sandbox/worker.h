/*  worker.h - the agent-sandbox's event loop: the worker link (tasks PULL,
    results PUSH, control SUB), slots of running tasks, heartbeats.

    One thread, one zmq_poll over the sockets, their monitors, the signal
    descriptor and every running task's descriptors (pidfd, stdin, stdout,
    stderr). Dispatch is credit-based: the tasks socket is read only while
    a slot is free, and every heartbeat says how many are.
*/
#ifndef SBX_WORKER_H_INCLUDED
#define SBX_WORKER_H_INCLUDED

#include "sbx_config.h"

#include <stddef.h>

#define SBX_VERSION "0.1.0"

typedef struct sbx_worker_t sbx_worker_t;

/*  Create the ZeroMQ context and connect the three sockets. sigfd is a
    signalfd for SIGTERM/SIGINT (blocked before this call, so libzmq's
    threads inherit the mask). iso holds the isolation layers every task
    gets (made before any thread exists: see isolation.h). cfg and iso
    must outlive the worker. curve: the CURVE keys of the link (copied into
    the sockets), NULL for a plain link. NULL with a message in err.       */
sbx_worker_t *sbx_worker_new (const sbx_config_t *cfg, const sbx_iso_t *iso, int sigfd,
                              const sbx_link_curve_t *curve, char *err, size_t err_size);

/*  Run until stopped: the first SIGTERM/SIGINT closes the tasks socket and
    lets running tasks finish and their results be acknowledged, for up to
    SANDBOX_GRACE; what still runs then is killed without a result (the
    orchestrator requeues it when our "bye" arrives); a second signal stops
    at once. Logs one event=worker_stopped line saying what it did.
    Returns 0.                                                              */
int sbx_worker_run (sbx_worker_t *self);

/*  Kill running tasks' process groups, remove their workspaces, close the
    sockets with a short linger. Safe on NULL.                              */
void sbx_worker_destroy (sbx_worker_t **self_p);

#endif
