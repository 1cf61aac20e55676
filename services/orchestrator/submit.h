/*  submit.h - the CLI's submit socket (ROUTER, bound).

    Clients are DEALER ([identity][payload]) or REQ ([identity][empty]
    [payload]); every reply goes back with the request's own envelope. Each
    request carries req (echoed) and the API token (checked in constant
    time; wrong -> error "unauthorized").
      submit {task, key?, wait_ms?} -> accepted {id} after the commit (a
                                       key seen before: the id of its task);
                                       with wait_ms: task {record} when
                                       terminal or when wait_ms passed
      get {id}                      -> task {record} | error not_found
      wait {id, timeout_ms}         -> task {record} when terminal or at
                                       the timeout (current record)
      list {status?, limit?}        -> tasks {items} newest first (limit
                                       default 50, at most 1000; items
                                       without outputs, files and stdin)
      workers {}                    -> workers {items}
      cancel {id}                   -> task {record}: cancelled now, or
                                       still running while its worker
                                       kills it (cancel.h); error conflict
                                       when it has finished
      rerun {id}                    -> accepted {id}: the same task again
      stream {id, stdout_from?, stderr_from?}
                                    -> output {id, attempt, stream, offset,
                                       data} for every byte the client lacks
                                       (live, see live.h), an empty one as a
                                       keepalive every 4 s, then task {record}
                                       when the task has finished. Offsets
                                       restart at 0 when the attempt changes.
    Errors: bad_request (field named), unauthorized, not_found, conflict,
    busy (too many waiters), queue_full (ORCH_MAX_QUEUED tasks wait; retry
    later), too_large (record above the frame cap: use HTTP), internal.
*/
#ifndef ORCH_SUBMIT_H_INCLUDED
#define ORCH_SUBMIT_H_INCLUDED

#include <stddef.h>

#include "orch.h"

/*  Bind the ROUTER on endpoint; NULL with err on failure.                  */
orch_submit_t *orch_submit_new (orch_t *orch, const char *endpoint, char *err, size_t err_size);
void orch_submit_destroy (orch_submit_t **self_p);

/*  The socket, for the poll set and for ZMQ_LAST_ENDPOINT.                 */
void *orch_submit_socket (orch_submit_t *self);

/*  Keepalives for clients following output.                               */
void orch_submit_cron (orch_submit_t *self, int64_t mono);
size_t orch_submit_streams (const orch_submit_t *self);

/*  Receive and answer up to max requests without blocking.                 */
size_t orch_submit_drain (orch_submit_t *self, size_t max);

/*  The submits of the batch that has just committed (stored) or failed:
    answer them ("accepted", parked, the record; or an error). Called by
    orch_batch_commit after the outermost commit.                          */
void orch_submit_flush (orch_submit_t *self, bool stored);

#endif
