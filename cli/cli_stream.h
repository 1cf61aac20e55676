/*  cli_stream.h - follow a task's output as it is produced.

    One "stream" request; its "output" replies are written raw, each to its
    own file descriptor, as they come; the final "task" reply ends it. The
    bytes on the terminal equal the final record's: chunks are placed by
    their byte offsets (repeats are skipped, a chunk after a gap waits for
    the record), and after the record whatever it holds beyond what was
    written is written too. When the attempt grows (the task was run again
    after its worker was lost) the offsets start over and a note says so.

    Liveness: the orchestrator sends a keepalive at least every 5 s; after
    CLI_STREAM_SILENCE_MS without any frame the request is sent again with
    the offsets we have (a restarted orchestrator never saw it), and after
    CLI_MAX_MISSES of those in a row cleudo gives up (exit 4).
*/
#ifndef CLI_STREAM_H_INCLUDED
#define CLI_STREAM_H_INCLUDED

#include "cli_client.h"

#include <stdbool.h>

#define CLI_STREAM_SILENCE_MS   15000

/*  cli_stream_follow: the orchestrator does not know "stream" (nothing
    was written): fall back to wait.                                        */
#define CLI_STREAM_UNSUPPORTED  (-1)

typedef struct {
    int out_fd;                         /* the task's stdout goes here */
    int err_fd;                         /* its stderr, and cleudo's notes */
    bool quiet;                         /* no notes (restarts) */
    bool progress;                      /* a progress line on err_fd while
                                           queued (only if it is a tty) */
} cli_stream_opts_t;

/*  Follow task id to its end. Returns 0 with the terminal record in
    *reply (all its output written); CLI_STREAM_UNSUPPORTED; or an exit
    status with the message printed (CLI_EXIT_INTERRUPTED on Ctrl-C,
    nothing printed for it). *at_line_start tells whether the task's stderr
    as written so far ends a line (for the notes that follow).             */
int cli_stream_follow (cli_client_t *client, const char *id, const cli_stream_opts_t *opts,
                       proto_msg_t **reply, bool *at_line_start);

/*  cli_cmd_run.c: after Ctrl-C, cancel task id (waiting briefly for the
    answer), say what happened; returns CLI_EXIT_INTERRUPTED.               */
int cli_cancel_after_interrupt (cli_client_t *client, const char *id);

/*  What run does once the task is accepted (rerun --follow too): follow
    its output (json: wait, then print the record), the notes, and the
    exit status of the task; Ctrl-C cancels it (exit 130).                  */
int cli_run_follow (cli_client_t *client, const char *id, bool json, bool quiet);

#endif
