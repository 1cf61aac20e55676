/*  results.h - frames from workers on the results socket.

    hello / heartbeat keep the worker table (heartbeats also reconcile the
    tasks in flight, recovery.h); started moves a task to running (a start
    that is not wanted any more is answered with a control "cancel");
    result records the outcome: the first terminal result wins (see the
    guard in store.h); a result for an unknown task, a superseded attempt
    or a task already terminal is logged and ignored, never overwrites.
    Every result that was recorded or refused for good is acknowledged
    (control "ack"), duplicates too, so the worker stops re-sending it.
    bye: the worker leaves; its remaining tasks go back to the queue.
    A frame that does not decode is logged (reason quoted) and dropped.

    Frames are taken in batches and committed together; waiters of tasks
    that finished in the batch are woken, and the batch's acks sent, only
    after the commit.
*/
#ifndef ORCH_RESULTS_H_INCLUDED
#define ORCH_RESULTS_H_INCLUDED

#include <stddef.h>

#include "orch.h"

/*  Handle one frame (inside the caller's transaction). When it finished a
    task, the id is copied to finished (PROTO_ID_MAX + 1 bytes) and 1 is
    returned; otherwise 0.                                                  */
int orch_results_handle (orch_t *orch, const void *data, size_t size, char *finished);

/*  Receive and handle up to max frames without blocking, commit, then wake
    waiters. Returns how many frames were taken.                           */
size_t orch_results_drain (orch_t *orch, size_t max);

#endif
