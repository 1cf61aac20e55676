/*  live.h - output of running tasks, as the workers stream it.

    Workers send "output" frames while a task runs (a batch every 50 ms or
    16 KiB). Here they are appended to the task's buffers for its current
    attempt, so that a subscriber (GET /api/tasks/{id}/stream, cleudo run)
    can be given everything produced so far and then each new chunk. The
    result frame carries the whole (capped) output anyway: what is kept
    here is only ever a prefix of it, and readers take the rest from the
    stored record by byte offset once the task has finished.

    Bounds: each stream keeps at most ORCH_MAX_OUTPUT_STORED bytes (what
    the record would keep), all tasks together at most `budget` bytes; a
    chunk beyond either, or after a gap in the sequence numbers, stops the
    buffering of that attempt (the subscribers then wait for the result).

    Watchers: anyone may watch a task id (before it has output, even before
    it runs); they are called on every new chunk, restart and end.
*/
#ifndef ORCH_LIVE_H_INCLUDED
#define ORCH_LIVE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orch.h"
#include "proto.h"

typedef struct orch_live_watch_t orch_live_watch_t;
typedef void (orch_live_fn) (void *arg);

orch_live_t *orch_live_new (size_t cap_per_stream, size_t budget);
void orch_live_destroy (orch_live_t **self_p);

/*  An output frame (the caller checked that its worker runs that attempt).
    Returns 1 kept, 0 dropped (*why says why).                            */
int orch_live_output (orch_live_t *self, const proto_output_t *out, const char **why);

/*  The task's attempt started: buffers begin again for it.                */
void orch_live_started (orch_live_t *self, const char *id, uint32_t attempt);

/*  What is buffered for task id: the attempt and each stream's bytes
    (valid until the next call that changes self). false: nothing.        */
bool orch_live_peek (orch_live_t *self, const char *id, uint32_t *attempt,
                     const uint8_t **out, size_t *out_len, const uint8_t **err,
                     size_t *err_len);

/*  The task reached a terminal status: forget its buffers, tell watchers. */
void orch_live_end (orch_live_t *self, const char *id);

orch_live_watch_t *orch_live_watch (orch_live_t *self, const char *id, orch_live_fn *fn,
                                    void *arg);
void orch_live_unwatch (orch_live_t *self, orch_live_watch_t **watch_p);
/*  Call every watcher of id. A watcher's function may unwatch itself, not
    others.                                                                 */
void orch_live_notify (orch_live_t *self, const char *id);

/*  Bytes buffered over all tasks; tasks with buffers.                     */
size_t orch_live_bytes (const orch_live_t *self);
size_t orch_live_tasks (const orch_live_t *self);

#endif
