/*  cli_client.h - cleudo's connection to the orchestrator's submit socket.

    One DEALER socket, connected (never bound), ZMQ_LINGER 0 so that an
    unanswered request never keeps cleudo alive at exit. Every request is
    one frame made by proto_encode () with "req" (increasing, from 1) and
    "token" filled in here; a reply is matched by its "req", and replies to
    older requests (answers that came after we gave up on them) are dropped.

    Errors are reported here, once, on stderr, in words that say what to do
    next; the functions return cleudo's exit status (cli.h) so a command can
    simply pass it on.
*/
#ifndef CLI_CLIENT_H_INCLUDED
#define CLI_CLIENT_H_INCLUDED

#include "cli.h"
#include "proto.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct cli_client_t cli_client_t;

/*  How long a "wait" request asks the orchestrator to hold it, and how much
    later than that its answer may come before we send it again.           */
#define CLI_WAIT_CHUNK_MS   10000
#define CLI_REPLY_GRACE_MS  5000
/*  Requests that go unanswered in a row (after the first answer) before we
    give up: an orchestrator restart costs one or two of them.              */
#define CLI_MAX_MISSES      3
/*  Replies may carry a task record with its output and files: allow more
    than one frame of the worker link.                                      */
#define CLI_MAX_REPLY       (4u * PROTO_MAX_FRAME_DEFAULT)

/*  cli_client_send / cli_client_recv: nothing came in time.               */
#define CLI_CLIENT_SILENT   (-1)
/*  Waiting is done in slices this long, checking for Ctrl-C in between.   */
#define CLI_SLICE_MS        200

/*  global->token must be set (cli_global_find_token). NULL when ZeroMQ
    cannot even create the socket (message printed).                        */
cli_client_t *cli_client_new (const cli_global_t *global);
void cli_client_destroy (cli_client_t **self_p);

/*  Send request (type and payload filled by the caller) and wait up to
    timeout_ms for its reply (before the first reply of this connection, at
    least the connect timeout). Returns 0 with *reply set (which may be an
    "error" reply: see cli_client_report), or an exit status with the
    message printed: CLI_EXIT_UNREACHABLE when no answer came in time,
    CLI_EXIT_INTERNAL for a reply that cannot be decoded.                   */
int cli_client_call (cli_client_t *self, proto_msg_t *request, int64_t timeout_ms,
                     proto_msg_t **reply);

/*  The two halves of cli_client_call, for requests with several replies
    ("stream"). send fills request->req and request->token; 0, or
    CLI_CLIENT_SILENT when nobody took the frame, or an exit status
    (message printed). recv waits up to timeout_ms for a reply to req
    (replies to other requests are dropped): 0 with *reply, or
    CLI_CLIENT_SILENT, CLI_EXIT_INTERRUPTED (Ctrl-C, see cli_interrupt.h),
    CLI_EXIT_INTERNAL (message printed). Neither reports silence: see
    cli_client_report_silence.                                              */
int cli_client_send (cli_client_t *self, proto_msg_t *request);
int cli_client_recv (cli_client_t *self, uint64_t req, int64_t timeout_ms,
                     proto_msg_t **reply);
/*  Any frame ever came back on this connection.                            */
bool cli_client_answered (const cli_client_t *self);
/*  "cannot reach orchestrator ..." or "... stopped answering".             */
void cli_client_report_silence (cli_client_t *self, int64_t waited_ms);
const char *cli_client_endpoint (const cli_client_t *self);
int64_t cli_client_connect_timeout (const cli_client_t *self);

/*  The reply is an "error" that means the orchestrator does not know the
    request's type (it is older than cleudo).                               */
bool cli_client_unsupported (const proto_msg_t *reply);

/*  The reply was not the one wanted (an "error", or an unexpected type):
    say so in words for a person, return the exit status. id: the task id
    the request was about, or NULL.                                         */
int cli_client_report (cli_client_t *self, const proto_msg_t *reply, const char *request,
                       const char *id);

/*  Submit a task; 0 with the new id copied into id (PROTO_ID_MAX + 1
    bytes), or an exit status (message printed; CLI_EXIT_QUEUE_FULL when
    the orchestrator's queue is full). key: idempotency key or NULL (the
    same key gives the same id, however often it is sent).                 */
int cli_client_submit (cli_client_t *self, const proto_task_t *task, const char *key,
                       char *id);

/*  Cancel a task: 0 with the "task" reply (its record after the cancel)
    in *reply, or an exit status (message printed; a finished task is
    CLI_EXIT_REFUSED).                                                      */
int cli_client_cancel (cli_client_t *self, const char *id, proto_msg_t **reply);

/*  cancel with a timeout of its own (Ctrl-C: wait briefly).                */
int cli_client_cancel_within (cli_client_t *self, const char *id, int64_t timeout_ms,
                              proto_msg_t **reply);

/*  Run task id again: 0 with the new task's id in new_id (PROTO_ID_MAX + 1
    bytes), or an exit status (message printed).                            */
int cli_client_rerun (cli_client_t *self, const char *id, char *new_id);

/*  list / workers: 0 with the "tasks" / "workers" reply in *reply, or an
    exit status (message printed). status NONE: any; limit 0: default.     */
int cli_client_list (cli_client_t *self, proto_status_t status, uint32_t limit,
                     proto_msg_t **reply);
int cli_client_workers (cli_client_t *self, proto_msg_t **reply);

/*  Fetch a task's record: 0 with a "task" reply in *reply, or an exit
    status (message printed).                                               */
int cli_client_get (cli_client_t *self, const char *id, proto_msg_t **reply);

/*  Wait until the task is terminal, with "wait" requests of bounded length
    (so a long task needs no long-lived request, and a restarted
    orchestrator costs one resend). timeout_ms 0: no limit. Ctrl-C gives
    CLI_EXIT_INTERRUPTED. Returns 0 with
    the terminal record in *reply; CLI_EXIT_WAIT_TIMEOUT with the last
    (non-terminal) record in *reply; or another exit status.                 */
int cli_client_wait (cli_client_t *self, const char *id, int64_t timeout_ms,
                     proto_msg_t **reply);

#endif
