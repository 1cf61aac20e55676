/*  cli_stream.c - "stream" request, output replies, the final record.     */
#include "cli_stream.h"
#include "cli_output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    cli_client_t *client;               /* the connection */
    const char *id;                     /* the task */
    const cli_stream_opts_t *opts;      /* where to write */
    uint32_t attempt;                   /* attempt the offsets belong to */
    uint64_t have[2];                   /* bytes written of stdout, stderr */
    bool err_at_line_start;             /* the task's stderr ends a line */
    bool progress_shown;                /* the progress line is on screen */
    bool progress_ok;                   /* err_fd is a terminal for it */
    int64_t queued_since;               /* when we started waiting */
    unsigned spin;                      /* frame of the spinner */
    bool write_failed;                  /* stdout is gone: stop writing */
} s_follow_t;

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*  ---- the progress line (stderr is a terminal, the task is queued) ------ */

static void
s_progress_clear (s_follow_t *self)
{
    if (!self->progress_shown)
        return;
    static const char clear[] = "\r\033[K";
    cli_write_all (self->opts->err_fd, clear, sizeof clear - 1);
    self->progress_shown = false;
}

static void
s_progress_tick (s_follow_t *self)
{
    /*  Only while nothing ran yet; and not for the first half second, so
        that a task that starts at once does not make the line flicker.    */
    if (!self->progress_ok || self->attempt > 0 || self->have[0] || self->have[1])
        return;
    int64_t waited = s_now_ms () - self->queued_since;
    if (waited < 500)
        return;
    static const char frames[] = "|/-\\";
    char line[160];
    int n = snprintf (line, sizeof line, "\r\033[Kcleudo: %c task %s is queued, waiting for a "
                      "worker (%lld s)", frames[self->spin++ % 4], self->id,
                      (long long) (waited / 1000));
    if (n > 0)
        cli_write_all (self->opts->err_fd, line, (size_t) n < sizeof line ? (size_t) n
                                                                          : sizeof line - 1);
    self->progress_shown = true;
}

/*  ---- writing ------------------------------------------------------------ */

static void
s_note (s_follow_t *self, const char *text)
{
    if (self->opts->quiet)
        return;
    s_progress_clear (self);
    char line[256];
    int n = snprintf (line, sizeof line, "%scleudo: %s\n",
                      self->err_at_line_start ? "" : "\n", text);
    if (n > 0)
        cli_write_all (self->opts->err_fd, line, (size_t) n < sizeof line ? (size_t) n
                                                                          : sizeof line - 1);
    self->err_at_line_start = true;
}

/*  The attempt grew: what we wrote belonged to a run that is over.        */
static void
s_new_attempt (s_follow_t *self, uint32_t attempt)
{
    if (self->attempt >= 1) {
        char text[128];
        snprintf (text, sizeof text, "task restarted (attempt %u); output starts over",
                  (unsigned) attempt);
        s_note (self, text);
    }
    self->attempt = attempt;
    self->have[0] = self->have[1] = 0;
}

/*  Bytes [offset, offset + size) of stream s: write the part not written
    yet. A chunk that starts after what we have leaves a gap: skipped, the
    final record fills it in.                                               */
static void
s_place (s_follow_t *self, proto_stream_t s, uint64_t offset, const uint8_t *data,
         size_t size)
{
    uint64_t have = self->have[s];
    if (size == 0 || offset > have || offset + size <= have)
        return;
    size_t skip = (size_t) (have - offset);
    int fd = s == PROTO_STREAM_STDOUT ? self->opts->out_fd : self->opts->err_fd;
    s_progress_clear (self);
    if (!self->write_failed && cli_write_all (fd, data + skip, size - skip))
        self->write_failed = true;
    self->have[s] = offset + size;
    if (s == PROTO_STREAM_STDERR)
        self->err_at_line_start = data[size - 1] == '\n';
}

static void
s_chunk (s_follow_t *self, const proto_rep_output_t *chunk)
{
    if (chunk->attempt < self->attempt)
        return;                 /* from a run that is over */
    if (chunk->attempt > self->attempt)
        s_new_attempt (self, chunk->attempt);
    s_place (self, chunk->stream, chunk->offset, chunk->data.data, chunk->data.size);
}

/*  The terminal record: write what it has beyond what we wrote.           */
static void
s_finish (s_follow_t *self, const proto_record_t *record)
{
    if (record->attempt > self->attempt)
        s_new_attempt (self, record->attempt);
    const proto_result_t *r = &record->result;
    s_place (self, PROTO_STREAM_STDOUT, 0, r->stdout_data.data, r->stdout_data.size);
    s_place (self, PROTO_STREAM_STDERR, 0, r->stderr_data.data, r->stderr_data.size);
}

/*  ---- the request ----------------------------------------------------------- */

static int
s_send (s_follow_t *self, uint64_t *req)
{
    proto_msg_t request;
    memset (&request, 0, sizeof request);
    request.type = PROTO_REQ_STREAM;
    request.u.stream.id = self->id;
    request.u.stream.stdout_from = self->have[0];
    request.u.stream.stderr_from = self->have[1];
    int rc = cli_client_send (self->client, &request);
    *req = request.req;
    return rc;
}

int
cli_stream_follow (cli_client_t *client, const char *id, const cli_stream_opts_t *opts,
                   proto_msg_t **reply, bool *at_line_start)
{
    s_follow_t self = {
        .client = client, .id = id, .opts = opts, .err_at_line_start = true,
        .queued_since = s_now_ms (),
    };
    const char *term = getenv ("TERM");
    self.progress_ok = opts->progress && !opts->quiet && isatty (opts->err_fd) == 1
                       && !(term && strcmp (term, "dumb") == 0);
    *reply = NULL;
    uint64_t req = 0;
    int misses = 0;
    int64_t start = s_now_ms ();
    int64_t silent_since = start;
    int rc = s_send (&self, &req);
    while (rc == 0 || rc == CLI_CLIENT_SILENT) {
        int64_t now = s_now_ms ();
        /*  Before the first answer of this connection the connect timeout
            applies: nobody may be there at all.                            */
        int64_t patience = cli_client_answered (client) ? CLI_STREAM_SILENCE_MS
                                                        : cli_client_connect_timeout (client);
        if (rc == CLI_CLIENT_SILENT || now - silent_since >= patience) {
            if (!cli_client_answered (client) || ++misses >= CLI_MAX_MISSES) {
                s_progress_clear (&self);
                cli_client_report_silence (client, now - start);
                rc = CLI_EXIT_UNREACHABLE;
                break;
            }
            /*  A restarted orchestrator never saw the request: again, with
                the offsets we have; answers to the old one are dropped.   */
            silent_since = now;
            rc = s_send (&self, &req);
            continue;
        }
        s_progress_tick (&self);
        proto_msg_t *msg;
        rc = cli_client_recv (client, req, CLI_SLICE_MS, &msg);
        if (rc == CLI_CLIENT_SILENT) {
            rc = 0;             /* one quiet slice; silence is judged above */
            continue;
        }
        if (rc)
            break;
        silent_since = s_now_ms ();
        misses = 0;
        if (msg->type == PROTO_REP_OUTPUT) {
            s_chunk (&self, &msg->u.chunk);
            proto_msg_destroy (&msg);
            continue;
        }
        if (msg->type == PROTO_REP_TASK && proto_status_is_terminal (msg->u.record.status)) {
            s_finish (&self, &msg->u.record);
            *reply = msg;
            break;
        }
        if (msg->type == PROTO_REP_TASK) {
            /*  The orchestrator let go of the request before the end (it
                is shutting down): ask again, without spinning.             */
            proto_msg_destroy (&msg);
            usleep (200 * 1000);
            rc = s_send (&self, &req);
            continue;
        }
        s_progress_clear (&self);
        if (cli_client_unsupported (msg) && !self.have[0] && !self.have[1])
            rc = CLI_STREAM_UNSUPPORTED;
        else
            rc = cli_client_report (client, msg, "stream", id);
        proto_msg_destroy (&msg);
        break;
    }
    s_progress_clear (&self);
    *at_line_start = self.err_at_line_start;
    if (self.write_failed && rc == 0) {
        cli_error ("cannot write the task's output (stdout or stderr closed?)");
        proto_msg_destroy (reply);
        rc = CLI_EXIT_INTERNAL;
    }
    return rc;
}
