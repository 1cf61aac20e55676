/*  run.h - one task from frame to result: workspace, input files, the child,
    its pipes and deadlines, collected files, and the result.

    A run is driven by its owner's event loop and never blocks: the owner
    asks for the descriptors to watch (sbx_run_pollfds) and the next timer
    (sbx_run_next_timer), and reports readiness (sbx_run_ready) and time
    (sbx_run_tick). When sbx_run_done () turns true the result is ready; it
    stays valid until the run is destroyed. sbx_run_wait () drives a run
    alone with poll (), for tests and tools.

    sbx_run_new () never fails for reasons of the task: a task that cannot
    start (bad file path, program not found, setup failure) yields a run
    that is done at once with the matching status.
*/
#ifndef SBX_RUN_H_INCLUDED
#define SBX_RUN_H_INCLUDED

#include "proto.h"
#include "spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SBX_POLL_IN  1
#define SBX_POLL_OUT 2
#define SBX_RUN_POLLFDS_MAX 4           /* pidfd, stdin, stdout, stderr */

/*  After the main process ended: how long to wait for the pipes' EOF.     */
#define SBX_DRAIN_GRACE_MS 100

typedef struct {
    int fd;                             /* descriptor to watch */
    int events;                         /* SBX_POLL_IN or SBX_POLL_OUT */
} sbx_pollfd_t;

typedef struct sbx_run_t sbx_run_t;

/*  Start task in slot (0..slots-1 of conf->iso: the slot's namespaces,
    cgroup, host uid and spawner thread; a slot runs one task at a time). It must stay valid
    until the run is destroyed; owner (may be NULL) is the decoded message
    holding it and is destroyed with the run. conf must outlive the run.
    NULL only when out of memory (owner is destroyed then too). A task that
    asks for network on a worker that does not allow it is rejected.        */
sbx_run_t *sbx_run_new (const sbx_run_conf_t *conf, size_t slot, const proto_task_t *task,
                        proto_msg_t *owner);

/*  Kill the task's process group if it still runs, reap it, remove the
    workspace, free everything. Safe on NULL; nulls the pointer.           */
void sbx_run_destroy (sbx_run_t **self_p);

const char *sbx_run_id (const sbx_run_t *self);
uint32_t sbx_run_attempt (const sbx_run_t *self);
/*  Pid of the task's main process (also its process group), 0 if none or
    not known yet: with conf->iso the slot's spawner thread starts it while
    the caller goes on, and the spawn ends when sbx_run_ready is called on
    the descriptor sbx_run_pollfds gives meanwhile (or sbx_run_settle).     */
pid_t sbx_run_pid (const sbx_run_t *self);

/*  Wait for a spawn in flight to end (well under a second); then the pid is
    known, or the run is done with the reason it could not start.          */
void sbx_run_settle (sbx_run_t *self);

/*  Descriptors to watch now (at most SBX_RUN_POLLFDS_MAX); returns how many. */
size_t sbx_run_pollfds (const sbx_run_t *self, sbx_pollfd_t *fds, size_t max);
/*  fd (one of those) is ready or has an error or hang-up.                 */
void sbx_run_ready (sbx_run_t *self, int fd, int64_t now_ms);
/*  Monotonic ms of the next deadline, or -1 when none is pending.          */
int64_t sbx_run_next_timer (const sbx_run_t *self);
void sbx_run_tick (sbx_run_t *self, int64_t now_ms);

bool sbx_run_done (const sbx_run_t *self);
/*  The result (views into the run); NULL until done.                       */
const proto_result_t *sbx_run_result (const sbx_run_t *self);

/*  Drive this run alone until done (poll based).                          */
void sbx_run_wait (sbx_run_t *self);

/*  CLOCK_MONOTONIC in milliseconds.                                        */
int64_t sbx_now_ms (void);

/*  ---- live output (conf->stream_output) --------------------------------- */

/*  Sends one chunk as an "output" frame: 0 when sent, -1 when it cannot be
    now (the chunk is kept and offered again later).                        */
typedef int (sbx_run_output_fn) (void *arg, const proto_output_t *chunk);

/*  Monotonic ms when a chunk of output is due, -1 when none is. Only while
    the main process runs: once it has ended, everything goes with the
    result, which is not delayed for a last chunk.                          */
int64_t sbx_run_next_flush (const sbx_run_t *self);
/*  Offer the chunks due at now_ms (stdout, then stderr) to send.           */
void sbx_run_stream (sbx_run_t *self, int64_t now_ms, sbx_run_output_fn *send, void *arg);

/*  Kill the task's process group because a client cancelled it: the run
    ends like any other, with status "cancelled" and the output captured
    so far. false when there is nothing left to kill (not running).        */
bool sbx_run_cancel (sbx_run_t *self);

#endif
