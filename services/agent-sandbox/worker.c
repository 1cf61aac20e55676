/*  worker.c - sockets, slots, heartbeats: the agent-sandbox's one loop.   */
#define _GNU_SOURCE
#include "worker.h"
#include "isolation.h"
#include "link.h"
#include "log.h"
#include "outbox.h"
#include "proto.h"
#include "run.h"
#include "utf8.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define TASK_SOCKET_LINGER_MS 0         /* nothing of ours is queued there */
#define RESULT_SOCKET_LINGER_MS 2000    /* let queued results leave */
#define SHUTDOWN_LINGER_MS 500          /* "short linger" at stop */
#define CONTROL_BATCH 64                /* control frames per loop turn */
#define CANCEL_MEMO 128                 /* cancels remembered for tasks not
                                           (yet) here */
#define CANCEL_MEMO_MS 60000            /* ... for this long */

/*  A cancel for a task this worker does not run (yet): its frame may still
    be on the way (cancelled while dispatched).                            */
typedef struct {
    char id[PROTO_ID_MAX + 1];          /* "" when the entry is free */
    uint32_t attempt;                   /* 0: any */
    int64_t at;                         /* monotonic ms it came */
} s_cancel_memo_t;

struct sbx_worker_t {
    const sbx_config_t *cfg;            /* settings (not owned) */
    sbx_run_conf_t run_conf;            /* what every run gets */
    const sbx_iso_t *iso;               /* isolation layers (not owned) */
    void *ctx;                          /* ZeroMQ context */
    sbx_link_t *tasks;                  /* PULL: task frames */
    sbx_link_t *results;                /* PUSH: hello, heartbeat, started, output, result */
    sbx_link_t *control;                /* SUB: cancel, ack */
    int sigfd;                          /* signalfd for SIGTERM/SIGINT */
    sbx_run_t **runs;                   /* one entry per slot, NULL: free */
    size_t slots;                       /* entries in runs */
    size_t busy;                        /* non-NULL entries */
    sbx_outbox_t *outbox;               /* results until acked, frames in order */
    int64_t next_heartbeat;             /* monotonic ms */
    bool stop;                          /* leave the loop now */
    bool draining;                      /* SIGTERM: finish, flush, then stop */
    int64_t drain_deadline;             /* monotonic ms: SANDBOX_GRACE ends */
    size_t drained;                     /* tasks finished while draining */
    s_cancel_memo_t memo[CANCEL_MEMO];  /* cancels for tasks not here */
    size_t memo_next;                   /* ring position */
    zmq_pollitem_t *items;              /* poll set, rebuilt every turn */
    sbx_run_t **item_run;               /* run owning items[i], or NULL */
    size_t items_max;                   /* entries in both arrays */
    uint64_t output_sent;               /* live output frames sent */
    uint64_t output_deferred;           /* ... that could not go (kept, retried) */
};

/*  ---- sending ------------------------------------------------------------- */

static int
s_send_frame (void *arg, const uint8_t *frame, size_t size)
{
    sbx_worker_t *self = arg;
    return zmq_send (sbx_link_socket (self->results), frame, size, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/*  Send what the outbox has due (never-sent frames; re-sends only while
    the results link is up: re-sending into a dead link only piles copies
    into libzmq's queue).                                                   */
static void
s_flush (sbx_worker_t *self, int64_t now)
{
    sbx_outbox_flush (self->outbox, s_send_frame, self, now,
                      sbx_link_connected (self->results));
}

/*  Send an encoded frame (owned) on the results socket. Frames that matter
    go through the outbox: "started" (keep) leaves in order behind anything
    waiting; results are kept there until acknowledged (s_keep_result).
    Heartbeats and hellos are simply dropped when the socket is full: the
    next one says the same.                                                 */
static void
s_send_frame_owned (sbx_worker_t *self, proto_type_t type, uint8_t *frame, size_t size,
                    bool keep)
{
    if (keep) {
        if (sbx_outbox_add_once (self->outbox, frame, size) == 0)
            s_flush (self, sbx_now_ms ());
        return;
    }
    if (s_send_frame (self, frame, size) == 0) {
        free (frame);
        return;
    }
    log_event (CLOG_DEBUG, "send_failed", "type=%s error=\"%s\"", proto_type_name (type),
               zmq_strerror (zmq_errno ()));
    free (frame);
}

static void
s_send (sbx_worker_t *self, const proto_msg_t *msg, bool keep)
{
    uint8_t *frame = NULL;
    size_t size = 0;
    if (proto_encode (msg, &frame, &size)) {
        log_event (CLOG_ERROR, "encode_failed", "type=%s", proto_type_name (msg->type));
        return;
    }
    s_send_frame_owned (self, msg->type, frame, size, keep);
}

static void
s_send_hello (sbx_worker_t *self)
{
    /*  What every task gets, as detected at start (isolation.h).          */
    proto_layer_t layers[SBX_ISO_LAYER_COUNT];
    proto_msg_t msg = { .type = PROTO_HELLO };
    msg.u.hello.worker = self->cfg->worker_id;
    msg.u.hello.slots = (uint32_t) self->slots;
    msg.u.hello.version = SBX_VERSION;
    msg.u.hello.isolation = layers;
    msg.u.hello.isolation_count = sbx_iso_hello (self->iso, layers);
    s_send (self, &msg, false);
    log_event (CLOG_DEBUG, "hello_sent", "slots=%zu", self->slots);
}

/*  Slots the orchestrator may fill: none while stopping or while the
    outbox is full (results we could not keep).                            */
static size_t
s_free_slots (const sbx_worker_t *self)
{
    if (self->draining || sbx_outbox_full (self->outbox))
        return 0;
    return self->slots - self->busy;
}

static void
s_send_heartbeat (sbx_worker_t *self)
{
    const char *running[256];
    uint32_t attempts[256];
    size_t n = 0;
    for (size_t i = 0; i < self->slots && n < 256; i++)
        if (self->runs[i]) {
            attempts[n] = sbx_run_attempt (self->runs[i]);
            running[n++] = sbx_run_id (self->runs[i]);
        }
    proto_msg_t msg = { .type = PROTO_HEARTBEAT };
    msg.u.heartbeat.worker = self->cfg->worker_id;
    msg.u.heartbeat.free = (uint32_t) s_free_slots (self);
    msg.u.heartbeat.running = running;
    msg.u.heartbeat.running_count = n;
    msg.u.heartbeat.attempts = attempts;
    s_send (self, &msg, false);
}

/*  A result goes into the outbox, kept (and re-sent) until acknowledged. */
static void
s_keep_result (sbx_worker_t *self, const proto_result_t *result, uint8_t *frame, size_t size)
{
    if (sbx_outbox_add_result (self->outbox, result->id, result->attempt, frame, size)) {
        log_event (CLOG_ERROR, "result_dropped", "id=%s attempt=%u reason=\"out of memory\"",
                   result->id, result->attempt);
        return;
    }
    s_flush (self, sbx_now_ms ());
}

static void
s_send_result (sbx_worker_t *self, const proto_result_t *result)
{
    proto_msg_t msg = { .type = PROTO_RESULT };
    msg.u.result = *result;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (proto_encode (&msg, &frame, &size)) {
        log_event (CLOG_ERROR, "encode_failed", "type=result id=%s", result->id);
        return;
    }
    if (size > (size_t) self->cfg->max_frame) {
        /*  Cannot happen with the start-up budget check; if it does, the
            orchestrator still learns the task's fate.                      */
        free (frame);
        char why[160];
        snprintf (why, sizeof why, "result of %zu bytes exceeds SANDBOX_MAX_FRAME", size);
        proto_result_t small = *result;
        small.status = PROTO_STATUS_INTERNAL_ERROR;
        small.stdout_data = small.stderr_data = (proto_bytes_t) { NULL, 0 };
        small.files = NULL;
        small.file_count = 0;
        small.error = why;
        msg.u.result = small;
        if (proto_encode (&msg, &frame, &size)) {
            log_event (CLOG_ERROR, "encode_failed", "type=result id=%s", result->id);
            return;
        }
    }
    s_keep_result (self, result, frame, size);
}

/*  Live output: one chunk, best effort. Never queued in the outbox (the
    result carries every byte anyway) and never ahead of it: while frames
    wait there ("started" first of all), or the link is down, or the socket
    would block, the chunk stays with the run and is offered again later.  */
static int
s_send_output (void *arg, const proto_output_t *chunk)
{
    sbx_worker_t *self = arg;
    if (!sbx_link_connected (self->results) || sbx_outbox_pending (self->outbox)) {
        self->output_deferred++;
        return -1;
    }
    proto_msg_t msg = { .type = PROTO_OUTPUT };
    msg.u.output = *chunk;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (proto_encode (&msg, &frame, &size)) {
        log_event (CLOG_ERROR, "encode_failed", "type=output id=%s", chunk->id);
        return -1;
    }
    int rc = s_send_frame (self, frame, size);
    free (frame);
    if (rc)
        self->output_deferred++;
    else
        self->output_sent++;
    return rc;
}

static void
s_stream_output (sbx_worker_t *self, int64_t now)
{
    for (size_t i = 0; i < self->slots; i++)
        if (self->runs[i])
            sbx_run_stream (self->runs[i], now, s_send_output, self);
}

/*  ---- tasks --------------------------------------------------------------- */

/*  Without a PID namespace and a cgroup (isolation.h), whatever a task
    left behind has been re-parented to the worker (a child subreaper):
    before any result is sent, every such orphan dies. The main processes
    of the other runs are kept; their orphans die too (they left their
    task's process tree, which is all that can tell them apart here).     */
static void
s_sweep (sbx_worker_t *self)
{
    pid_t keep[256], spawners[256];
    size_t n = 0;
    for (size_t i = 0; i < self->slots && n < 256; i++)
        if (self->runs[i] && sbx_run_pid (self->runs[i]) > 0)
            keep[n++] = sbx_run_pid (self->runs[i]);
    /*  Orphans are re-parented to the main thread (the kernel gives them
        to the subreaper's first live thread). A spawner thread's children
        are the tasks it started, one of which the loop may not know yet
        (a spawn in flight): its "children" file is not read at all.       */
    size_t skip = sbx_iso_spawner_tids (self->iso, spawners, 256);
    int killed = sbx_reap_descendants_except (keep, n, spawners, skip, 1000);
    if (killed != 0)
        log_event (killed < 0 ? CLOG_ERROR : CLOG_DEBUG, "orphans_killed", "count=%d%s",
                   killed, killed < 0 ? " error=\"some survived\"" : "");
}

static void
s_finish_runs (sbx_worker_t *self)
{
    bool swept = !sbx_iso_needs_sweep (self->iso);
    for (size_t i = 0; i < self->slots; i++) {
        sbx_run_t *run = self->runs[i];
        if (!run || !sbx_run_done (run))
            continue;
        if (!swept) {
            s_sweep (self);
            swept = true;
        }
        const proto_result_t *r = sbx_run_result (run);
        s_send_result (self, r);
        char exit_text[24] = "-", sig_text[24] = "-";
        if (r->has_exit_code)
            snprintf (exit_text, sizeof exit_text, "%lld", (long long) r->exit_code);
        if (r->has_signal)
            snprintf (sig_text, sizeof sig_text, "%lld", (long long) r->signal);
        char q[600];
        log_event (CLOG_INFO, "task_finished",
                   "id=%s attempt=%u status=%s exit=%s signal=%s wall_ms=%llu cpu_ms=%llu error=%s",
                   r->id, r->attempt, proto_status_name (r->status), exit_text, sig_text,
                   (unsigned long long) r->wall_ms, (unsigned long long) r->cpu_ms,
                   r->error ? log_quote (q, sizeof q, r->error, strlen (r->error)) : "-");
        sbx_run_destroy (&self->runs[i]);
        self->busy--;
        if (self->draining)
            self->drained++;
    }
}

static void
s_reject (sbx_worker_t *self, const proto_error_t *err, size_t size)
{
    char text[300];
    if (err->field[0])
        snprintf (text, sizeof text, "%s: %s", err->field, err->message);
    else
        snprintf (text, sizeof text, "%s", err->message);
    utf8_fix (text);                    /* may quote a name from the frame */
    char q[700];
    log_quote (q, sizeof q, text, strlen (text));
    if (!err->id[0]) {
        log_event (CLOG_WARN, "frame_dropped", "size=%zu reason=%s", size, q);
        return;
    }
    /*  The decoder reports the attempt when it could read one (0 when not):
        answer for that attempt, so the orchestrator's same-attempt guard
        accepts the rejection of a redispatched task; 1 otherwise.         */
    proto_result_t r = {
        .id = err->id,
        .attempt = err->attempt ? err->attempt : 1,
        .worker = self->cfg->worker_id,
        .status = PROTO_STATUS_REJECTED,
        .error = text,
    };
    s_send_result (self, &r);
    log_event (CLOG_WARN, "task_rejected", "id=%s size=%zu error=%s", err->id, size, q);
}

/*  Was (id, attempt) cancelled before its frame arrived? Forgets it.      */
static bool
s_memo_take (sbx_worker_t *self, const char *id, uint32_t attempt, int64_t now)
{
    for (size_t i = 0; i < CANCEL_MEMO; i++) {
        s_cancel_memo_t *m = &self->memo[i];
        if (m->id[0] && now - m->at <= CANCEL_MEMO_MS && strcmp (m->id, id) == 0
            && (!m->attempt || m->attempt == attempt)) {
            m->id[0] = '\0';
            return true;
        }
    }
    return false;
}

static void
s_start_task (sbx_worker_t *self, proto_msg_t *msg)
{
    if (s_memo_take (self, msg->u.task.id, msg->u.task.attempt, sbx_now_ms ())) {
        /*  Cancelled while it was on its way: do not run it at all.        */
        proto_result_t r = { .id = msg->u.task.id, .attempt = msg->u.task.attempt,
                             .worker = self->cfg->worker_id,
                             .status = PROTO_STATUS_CANCELLED,
                             .error = "cancelled before it started" };
        s_send_result (self, &r);
        log_event (CLOG_INFO, "task_finished", "id=%s attempt=%u status=cancelled"
                   " error=\"cancelled before it started\"", r.id, r.attempt);
        proto_msg_destroy (&msg);
        return;
    }
    size_t slot = 0;
    while (slot < self->slots && self->runs[slot])
        slot++;
    const proto_task_t *task = &msg->u.task;
    char id[PROTO_ID_MAX + 1];
    snprintf (id, sizeof id, "%s", task->id);
    uint32_t attempt = task->attempt;

    proto_msg_t started = { .type = PROTO_STARTED };
    started.u.started.id = id;
    started.u.started.attempt = attempt;
    started.u.started.worker = self->cfg->worker_id;
    s_send (self, &started, true);

    sbx_run_t *run = sbx_run_new (&self->run_conf, slot, task, msg);
    if (!run) {
        proto_result_t r = { .id = id, .attempt = attempt, .worker = self->cfg->worker_id,
                             .status = PROTO_STATUS_INTERNAL_ERROR, .error = "out of memory" };
        s_send_result (self, &r);
        log_event (CLOG_ERROR, "task_finished", "id=%s attempt=%u status=internal_error "
                   "error=\"out of memory\"", id, attempt);
        return;
    }
    self->runs[slot] = run;
    self->busy++;
    log_event (CLOG_INFO, "task_started", "id=%s attempt=%u slot=%zu pid=%ld", id, attempt, slot,
               (long) sbx_run_pid (run));
}

/*  Read task frames while a slot is free: the orchestrator sends no more
    than the free slots we announced, so anything beyond waits in libzmq.  */
static void
s_take_tasks (sbx_worker_t *self)
{
    void *socket = sbx_link_socket (self->tasks);
    while (socket && s_free_slots (self) > 0) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        size_t size = zmq_msg_size (&frame);
        if (zmq_msg_more (&frame)) {
            /*  One frame per message is the contract: drop the whole lot. */
            bool more = true;
            while (more) {
                zmq_msg_close (&frame);
                zmq_msg_init (&frame);
                more = zmq_msg_recv (&frame, socket, ZMQ_DONTWAIT) >= 0 && zmq_msg_more (&frame);
            }
            zmq_msg_close (&frame);
            log_event (CLOG_WARN, "frame_dropped", "size=%zu reason=\"multipart message\"", size);
            continue;
        }
        proto_error_t err;
        memset (&err, 0, sizeof err);
        proto_msg_t *msg = proto_decode (PROTO_CH_TASKS, zmq_msg_data (&frame), size,
                                         (size_t) self->cfg->max_frame, &err);
        zmq_msg_close (&frame);
        if (!msg)
            s_reject (self, &err, size);
        else if (msg->type != PROTO_TASK) {
            log_event (CLOG_WARN, "frame_dropped", "size=%zu reason=\"unexpected type %s\"", size,
                       proto_type_name (msg->type));
            proto_msg_destroy (&msg);
        }
        else
            s_start_task (self, msg);
    }
}

/*  cancel {id, attempt?, worker?}: kill the run if it is ours, else
    remember it for a frame still on its way.                              */
static void
s_on_cancel (sbx_worker_t *self, const proto_cancel_t *c)
{
    if (c->worker && strcmp (c->worker, self->cfg->worker_id) != 0)
        return;
    for (size_t i = 0; i < self->slots; i++) {
        sbx_run_t *run = self->runs[i];
        if (!run || strcmp (sbx_run_id (run), c->id) != 0
            || (c->attempt && sbx_run_attempt (run) != c->attempt))
            continue;
        if (sbx_run_cancel (run))
            log_event (CLOG_INFO, "task_cancelling", "id=%s attempt=%u", c->id,
                       sbx_run_attempt (run));
        return;
    }
    s_cancel_memo_t *m = &self->memo[self->memo_next++ % CANCEL_MEMO];
    snprintf (m->id, sizeof m->id, "%s", c->id);
    m->attempt = c->attempt;
    m->at = sbx_now_ms ();
}

static void
s_on_ack (sbx_worker_t *self, const proto_ack_t *ack)
{
    size_t freed = 0;
    for (size_t i = 0; i < ack->id_count; i++)
        freed += sbx_outbox_ack (self->outbox, ack->ids[i],
                                 ack->attempts ? ack->attempts[i] : 0);
    if (freed)
        log_event (CLOG_DEBUG, "results_acked", "count=%zu kept=%zu", freed,
                   sbx_outbox_results (self->outbox));
}

/*  Control messages: "ack" (results the orchestrator has on disk) and
    "cancel". The SUB subscribes to everything ("", link.c).               */
static void
s_take_control (sbx_worker_t *self)
{
    void *socket = sbx_link_socket (self->control);
    for (int i = 0; i < CONTROL_BATCH; i++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        proto_error_t err;
        memset (&err, 0, sizeof err);
        proto_msg_t *msg = proto_decode (PROTO_CH_CONTROL, zmq_msg_data (&frame),
                                         zmq_msg_size (&frame), (size_t) self->cfg->max_frame,
                                         &err);
        if (msg && msg->type == PROTO_ACK)
            s_on_ack (self, &msg->u.ack);
        else
        if (msg && msg->type == PROTO_CANCEL)
            s_on_cancel (self, &msg->u.cancel);
        else
        if (msg)
            log_event (CLOG_DEBUG, "control_ignored", "type=%s", proto_type_name (msg->type));
        else {
            char q[400];
            log_event (CLOG_DEBUG, "control_unknown", "size=%zu reason=%s", zmq_msg_size (&frame),
                       log_quote (q, sizeof q, err.message, strlen (err.message)));
        }
        proto_msg_destroy (&msg);
        zmq_msg_close (&frame);
    }
}

/*  Reap children that are not ours. When the worker is a container's PID 1
    (or a subreaper), processes a task left behind are re-parented to it;
    unreaped they would fill the pid space. A zombie that belongs to a run
    is left for the run, which reaps it through its pidfd with rusage.     */
static void
s_reap_orphans (sbx_worker_t *self)
{
    /*  A task a spawner thread has just started may have exited before
        the loop learnt its pid: it is not an orphan. Next heartbeat.       */
    if (sbx_iso_spawning (self->iso))
        return;
    for (int i = 0; i < 256; i++) {
        siginfo_t info;
        memset (&info, 0, sizeof info);
        if (waitid (P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) || info.si_pid == 0)
            return;
        for (size_t j = 0; j < self->slots; j++)
            if (self->runs[j] && sbx_run_pid (self->runs[j]) == info.si_pid)
                return;
        waitpid (info.si_pid, NULL, WNOHANG);
        log_event (CLOG_DEBUG, "orphan_reaped", "pid=%ld", (long) info.si_pid);
    }
}

/*  ---- the loop ------------------------------------------------------------ */

static int64_t
s_earliest (int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/*  The first SIGTERM/SIGINT starts a graceful stop: take no more tasks
    (the tasks socket is closed, so the orchestrator's PUSH routes no more
    frames here; a heartbeat says no slot is free), let the running tasks
    finish and their results be acknowledged, for up to SANDBOX_GRACE. A
    second signal stops at once.                                           */
static void
s_on_signal (sbx_worker_t *self)
{
    struct signalfd_siginfo info;
    ssize_t n = read (self->sigfd, &info, sizeof info);
    if (n != (ssize_t) sizeof info)
        return;
    const char *name = info.ssi_signo == SIGINT ? "INT" : "TERM";
    if (self->draining) {
        log_event (CLOG_INFO, "worker_stopping", "signal=%s again=yes running=%zu", name,
                   self->busy);
        self->stop = true;
        return;
    }
    self->draining = true;
    self->drain_deadline = sbx_now_ms () + self->cfg->grace_ms;
    sbx_link_stop (self->tasks);
    s_send_heartbeat (self);
    log_event (CLOG_INFO, "worker_stopping", "signal=%s running=%zu unacked=%zu grace_ms=%lld",
               name, self->busy, sbx_outbox_results (self->outbox),
               (long long) self->cfg->grace_ms);
}

/*  Draining is over when nothing runs and every result is acknowledged,
    or when the grace is up.                                                */
static void
s_check_drained (sbx_worker_t *self, int64_t now)
{
    if (!self->draining)
        return;
    if ((self->busy == 0 && sbx_outbox_results (self->outbox) == 0)
        || now >= self->drain_deadline)
        self->stop = true;
}

/*  After the loop: tasks still running are abandoned (killed, no result:
    the orchestrator gives them back on our "bye", without counting it
    against their attempts), the orchestrator is told we leave, one line
    says what the stop did.                                                 */
static void
s_leave (sbx_worker_t *self)
{
    size_t abandoned = 0;
    for (size_t i = 0; i < self->slots; i++)
        if (self->runs[i]) {
            log_event (CLOG_INFO, "task_abandoned", "id=%s attempt=%u",
                       sbx_run_id (self->runs[i]), sbx_run_attempt (self->runs[i]));
            sbx_run_destroy (&self->runs[i]);
            self->busy--;
            abandoned++;
        }
    s_flush (self, sbx_now_ms ());
    proto_msg_t bye = { .type = PROTO_BYE };
    bye.u.bye.worker = self->cfg->worker_id;
    s_send (self, &bye, false);
    log_event (CLOG_INFO, "worker_stopped", "finished_in_grace=%zu abandoned=%zu"
               " unacked_results=%zu graceful=%s output_frames=%llu output_deferred=%llu",
               self->drained, abandoned, sbx_outbox_results (self->outbox),
               self->draining ? "yes" : "no", (unsigned long long) self->output_sent,
               (unsigned long long) self->output_deferred);
}

int
sbx_worker_run (sbx_worker_t *self)
{
    size_t tasks_at = 0, control_at = 0;
    size_t mon_at[3];
    sbx_link_t *links[3] = { self->tasks, self->results, self->control };
    log_hold ();                        /* one write per turn (log.h) */
    while (!self->stop) {
        log_flush ();
        zmq_pollitem_t *it = self->items;
        size_t n = 0;
        memset (self->item_run, 0, self->items_max * sizeof *self->item_run);
        it[n++] = (zmq_pollitem_t) { NULL, self->sigfd, ZMQ_POLLIN, 0 };
        tasks_at = control_at = SIZE_MAX;
        if (s_free_slots (self) > 0 && sbx_link_socket (self->tasks)) {
            tasks_at = n;
            it[n++] = (zmq_pollitem_t) { sbx_link_socket (self->tasks), 0, ZMQ_POLLIN, 0 };
        }
        control_at = n;
        it[n++] = (zmq_pollitem_t) { sbx_link_socket (self->control), 0, ZMQ_POLLIN, 0 };
        if (sbx_outbox_pending (self->outbox))   /* wake when it takes more */
            it[n++] = (zmq_pollitem_t) { sbx_link_socket (self->results), 0, ZMQ_POLLOUT, 0 };
        for (size_t l = 0; l < 3; l++) {
            mon_at[l] = n;
            it[n++] = (zmq_pollitem_t) { sbx_link_monitor (links[l]), 0, ZMQ_POLLIN, 0 };
        }
        int64_t next = self->next_heartbeat;
        for (size_t l = 0; l < 3; l++)
            next = s_earliest (next, sbx_link_next_timer (links[l]));
        if (sbx_link_connected (self->results))
            next = s_earliest (next, sbx_outbox_next_resend (self->outbox));
        if (self->draining)
            next = s_earliest (next, self->drain_deadline);
        for (size_t i = 0; i < self->slots; i++) {
            sbx_run_t *run = self->runs[i];
            if (!run)
                continue;
            sbx_pollfd_t fds[SBX_RUN_POLLFDS_MAX];
            size_t k = sbx_run_pollfds (run, fds, SBX_RUN_POLLFDS_MAX);
            for (size_t j = 0; j < k; j++) {
                self->item_run[n] = run;
                it[n++] = (zmq_pollitem_t) { NULL, fds[j].fd,
                    (short) (fds[j].events == SBX_POLL_OUT ? ZMQ_POLLOUT : ZMQ_POLLIN), 0 };
            }
            next = s_earliest (next, sbx_run_next_timer (run));
            next = s_earliest (next, sbx_run_next_flush (run));
        }
        int64_t wait = next - sbx_now_ms ();
        long timeout = wait < 0 ? 0 : wait;
        if (zmq_poll (it, (int) n, timeout) < 0 && zmq_errno () != EINTR) {
            log_event (CLOG_ERROR, "poll_failed", "error=\"%s\"", zmq_strerror (zmq_errno ()));
            usleep (10000);
            continue;
        }
        int64_t now = sbx_now_ms ();

        if (it[0].revents)
            s_on_signal (self);
        for (size_t l = 0; l < 3; l++)
            if (it[mon_at[l]].revents && sbx_link_on_monitor (links[l], now) > 0
                && links[l] == self->results) {
                s_send_hello (self);
                /*  Maybe a new orchestrator: it has none of our results. */
                sbx_outbox_resend_all (self->outbox, now);
            }
        for (size_t i = 0; i < n; i++)
            if (self->item_run[i] && it[i].revents)
                sbx_run_ready (self->item_run[i], it[i].fd, now);
        for (size_t i = 0; i < self->slots; i++)
            if (self->runs[i])
                sbx_run_tick (self->runs[i], now);
        s_finish_runs (self);
        for (size_t l = 0; l < 3; l++)
            sbx_link_tick (links[l], now);
        if (it[control_at].revents)
            s_take_control (self);
        if (tasks_at != SIZE_MAX && it[tasks_at].revents && !self->stop && !self->draining) {
            s_take_tasks (self);
            s_finish_runs (self);       /* tasks that ended at once */
        }
        s_flush (self, now);            /* first sends, due re-sends */
        s_stream_output (self, now);    /* after: runs that ended are gone */
        if (now >= self->next_heartbeat) {
            s_reap_orphans (self);
            s_send_heartbeat (self);
            self->next_heartbeat += self->cfg->heartbeat_ms;
            if (self->next_heartbeat <= now)
                self->next_heartbeat = now + self->cfg->heartbeat_ms;
        }
        s_check_drained (self, now);
    }
    s_leave (self);
    return 0;
}

sbx_worker_t *
sbx_worker_new (const sbx_config_t *cfg, const sbx_iso_t *iso, int sigfd,
                const sbx_link_curve_t *curve, char *err, size_t err_size)
{
    sbx_worker_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    self->cfg = cfg;
    self->sigfd = sigfd;
    self->slots = (size_t) cfg->slots;
    sbx_config_run_conf (cfg, &self->run_conf);
    self->iso = iso;
    self->run_conf.iso = iso;
    self->items_max = 8 + self->slots * SBX_RUN_POLLFDS_MAX;
    self->runs = calloc (self->slots, sizeof *self->runs);
    self->items = calloc (self->items_max, sizeof *self->items);
    self->item_run = calloc (self->items_max, sizeof *self->item_run);
    self->outbox = sbx_outbox_new ((size_t) cfg->outbox_results, (size_t) cfg->outbox_bytes,
                                   cfg->resend_ms);
    self->ctx = zmq_ctx_new ();
    if (!self->runs || !self->items || !self->item_run || !self->outbox || !self->ctx) {
        snprintf (err, err_size, "out of memory");
        goto fail;
    }
    self->tasks = sbx_link_new (self->ctx, ZMQ_PULL, "tasks", cfg->tasks_endpoint,
                                cfg->max_frame, TASK_SOCKET_LINGER_MS, curve, err,
                                err_size);
    if (!self->tasks)
        goto fail;
    self->results = sbx_link_new (self->ctx, ZMQ_PUSH, "results", cfg->results_endpoint,
                                  cfg->max_frame, RESULT_SOCKET_LINGER_MS, curve, err,
                                  err_size);
    if (!self->results)
        goto fail;
    self->control = sbx_link_new (self->ctx, ZMQ_SUB, "control", cfg->control_endpoint,
                                  cfg->max_frame, TASK_SOCKET_LINGER_MS, curve, err,
                                  err_size);
    if (!self->control)
        goto fail;

    char q[600];
    log_event (CLOG_INFO, "worker_started",
               "worker=%s slots=%zu tasks=%s results=%s control=%s work_dir=%s version=%s",
               log_quote (q, sizeof q, cfg->worker_id, strlen (cfg->worker_id)), self->slots,
               cfg->tasks_endpoint, cfg->results_endpoint, cfg->control_endpoint, cfg->work_dir,
               SBX_VERSION);
    /*  Queued until the link is up; sent again whenever it (re)connects.  */
    s_send_hello (self);
    s_send_heartbeat (self);
    self->next_heartbeat = sbx_now_ms () + cfg->heartbeat_ms;
    return self;
fail:
    sbx_worker_destroy (&self);
    return NULL;
}

void
sbx_worker_destroy (sbx_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sbx_worker_t *self = *self_p;
    for (size_t i = 0; self->runs && i < self->slots; i++)
        if (self->runs[i]) {
            log_event (CLOG_INFO, "task_abandoned", "id=%s attempt=%u",
                       sbx_run_id (self->runs[i]), sbx_run_attempt (self->runs[i]));
            sbx_run_destroy (&self->runs[i]);
        }
    if (self->iso && sbx_iso_needs_sweep (self->iso))
        sbx_reap_descendants (NULL, 0, 1000);
    if (self->results)
        sbx_link_set_linger (self->results, SHUTDOWN_LINGER_MS);
    sbx_link_destroy (&self->tasks);
    sbx_link_destroy (&self->results);
    sbx_link_destroy (&self->control);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    sbx_outbox_destroy (&self->outbox);
    free (self->runs);
    free (self->items);
    free (self->item_run);
    free (self);
    *self_p = NULL;
}
