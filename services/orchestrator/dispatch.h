/*  dispatch.h - the queue of tasks to send and credit-based dispatch.

    Tasks wait in an in-memory FIFO of ids (rebuilt from the store at start:
    status queued, oldest first; tasks given back by recovery go to the
    front). The orchestrator never has more tasks dispatched-but-not-started
    than live workers have free slots:

        credit = sum of free slots of live workers
               - dispatched leases that hold credit (leases.h)

    so no task sits in a dead or busy worker's socket buffer for long (the
    PUSH socket round-robins and cannot address a worker, hence counting).
    A dispatch batch is committed to the store (queued -> dispatched,
    attempt + 1; with the event loop's other changes of that turn, loop.c)
    before its frames are sent; a frame that cannot be sent
    (EAGAIN) is undone and stays at the head of the queue. Every frame sent
    gets a lease.

    An id may stay in the FIFO after its task left "queued" (cancelled,
    started by a worker that reclaimed it): orch_dispatch_forget () keeps
    the count of waiting tasks right, and the stale entry is dropped when
    it comes up.
*/
#ifndef ORCH_DISPATCH_H_INCLUDED
#define ORCH_DISPATCH_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.h"

orch_dispatch_t *orch_dispatch_new (void);
void orch_dispatch_destroy (orch_dispatch_t **self_p);

/*  Fill the queue from the store (queued tasks, oldest first). Tasks left
    "dispatched" by a previous run are counted into *in_doubt and logged,
    but hold back no credit (see dispatch.c). 0 or -1.                      */
int orch_dispatch_rebuild (orch_dispatch_t *self, orch_store_t *store, size_t *in_doubt);

/*  A task was accepted (committed as queued): queue it. 0 or -1.           */
int orch_dispatch_enqueue (orch_dispatch_t *self, const char *id);

/*  A task went back to the queue (recovery): it goes first. 0 or -1.      */
int orch_dispatch_requeue (orch_dispatch_t *self, const char *id);

/*  Task id, queued, left the queue by another way than dispatch.          */
void orch_dispatch_forget (orch_dispatch_t *self, const char *id);

/*  Tasks waiting in the queue (stale entries not counted).                 */
size_t orch_dispatch_queued (const orch_dispatch_t *self);

/*  Free slots minus outstanding dispatches (may be <= 0).                 */
int64_t orch_dispatch_credit (const orch_t *orch);

/*  Send as many queued tasks as the credit allows. Returns how many (sent,
    or recorded to be sent: inside an outer batch the frames go when it
    has committed, orch_batch_commit calls orch_dispatch_flush). Does
    nothing while a recorded batch waits to be sent.                      */
size_t orch_dispatch_run (orch_t *orch);

/*  Send the recorded batch (committed) or give its ids back to the head of
    the queue (the transaction failed: nothing was recorded). How many went. */
size_t orch_dispatch_flush (orch_t *orch, bool committed);

#endif
