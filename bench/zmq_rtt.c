/*  zmq_rtt.c - ZeroMQ PUSH/PULL round trip over TCP loopback between two
    processes, with frames the size of ours: a real task frame out, a real
    result frame back (both encoded by proto once, sent as bytes: this is
    the transport's limit, not the codec's).

    zmq_rtt SECONDS     one JSON line: rate (round trips/s), p50/p95/p99 µs

    Two processes, each with its own context, as orchestrator and sandbox
    are: the far one PULLs and PUSHes each frame straight back.
*/
#define _GNU_SOURCE
#include "bench_util.h"
#include "proto.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define WARMUP 2000

static void
s_die (const char *what)
{
    fprintf (stderr, "zmq_rtt: %s: %s\n", what, zmq_strerror (zmq_errno ()));
    exit (1);
}

/*  A PULL bound on an ephemeral loopback port; its endpoint in ep.        */
static void *
s_bound_pull (void *ctx, char *ep, size_t ep_size)
{
    void *s = zmq_socket (ctx, ZMQ_PULL);
    if (!s || zmq_bind (s, "tcp://127.0.0.1:*"))
        s_die ("bind");
    if (zmq_getsockopt (s, ZMQ_LAST_ENDPOINT, ep, &ep_size))
        s_die ("endpoint");
    return s;
}

static void *
s_connected_push (void *ctx, const char *ep)
{
    void *s = zmq_socket (ctx, ZMQ_PUSH);
    int linger = 0;
    if (!s || zmq_setsockopt (s, ZMQ_LINGER, &linger, sizeof linger) || zmq_connect (s, ep))
        s_die ("connect");
    return s;
}

static void
s_send_ep (int fd, const char *ep)
{
    char buf[256] = "";
    snprintf (buf, sizeof buf, "%s", ep);
    if (write (fd, buf, sizeof buf) != (ssize_t) sizeof buf)
        exit (1);
}

static void
s_recv_ep (int fd, char *ep)
{
    size_t got = 0;
    while (got < 256) {
        ssize_t n = read (fd, ep + got, 256 - got);
        if (n <= 0)
            exit (1);
        got += (size_t) n;
    }
    ep[255] = '\0';
}

/*  The far end: send every frame back as the result, until an empty one. */
static void
s_echo (int to_parent, int from_parent, const uint8_t *reply, size_t reply_size)
{
    void *ctx = zmq_ctx_new ();
    char ep[256];
    void *pull = s_bound_pull (ctx, ep, sizeof ep);
    s_send_ep (to_parent, ep);
    s_recv_ep (from_parent, ep);
    void *push = s_connected_push (ctx, ep);
    char buf[65536];
    for (;;) {
        int n = zmq_recv (pull, buf, sizeof buf, 0);
        if (n < 0 && zmq_errno () == EINTR)
            continue;
        if (n <= 0)
            break;
        if (zmq_send (push, reply, reply_size, 0) < 0)
            break;
    }
    zmq_close (pull);
    zmq_close (push);
    zmq_ctx_term (ctx);
    _exit (0);
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: zmq_rtt SECONDS\n");
        return 2;
    }
    double seconds = bu_arg_num ("SECONDS", argv[1]);

    /*  The frames: a task (`true`) and its result, as the wire carries them. */
    const char *targv[] = { "true", NULL };
    proto_msg_t task = { .type = PROTO_TASK };
    task.u.task.id = "0190f3a1c2d4-5e6f7a8b";
    task.u.task.attempt = 1;
    task.u.task.argv = targv;
    task.u.task.argc = 1;
    task.u.task.limits.network = -1;
    proto_msg_t result = { .type = PROTO_RESULT };
    result.u.result.id = task.u.task.id;
    result.u.result.attempt = 1;
    result.u.result.worker = "bench-host-12345-abcdef";
    result.u.result.status = PROTO_STATUS_SUCCEEDED;
    result.u.result.has_exit_code = true;
    result.u.result.wall_ms = 1;
    result.u.result.max_rss_kb = 6292;
    uint8_t *tframe, *rframe;
    size_t tsize, rsize;
    if (proto_encode (&task, &tframe, &tsize) || proto_encode (&result, &rframe, &rsize)) {
        fprintf (stderr, "zmq_rtt: proto_encode failed\n");
        return 1;
    }

    int up[2], down[2];
    if (pipe (up) || pipe (down))
        return 1;
    pid_t pid = fork ();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        close (up[0]);
        close (down[1]);
        s_echo (up[1], down[0], rframe, rsize);
    }
    close (up[1]);
    close (down[0]);
    void *ctx = zmq_ctx_new ();
    char ep[256], far[256];
    void *pull = s_bound_pull (ctx, ep, sizeof ep);
    s_send_ep (down[1], ep);
    s_recv_ep (up[0], far);
    void *push = s_connected_push (ctx, far);

    char buf[65536];
    bu_result_t res;
    memset (&res, 0, sizeof res);
    int64_t start = 0, now = 0, end = 0;
    for (long i = 0;; i++) {
        if (i == WARMUP) {
            start = now = bu_now_ns ();
            end = start + (int64_t) (seconds * 1e9);
        }
        if (zmq_send (push, tframe, tsize, 0) < 0 || zmq_recv (pull, buf, sizeof buf, 0) < 0)
            s_die ("round trip");
        if (i < WARMUP)
            continue;
        int64_t t = bu_now_ns ();
        bu_samples_add (&res.lat, (double) (t - now) / 1000.0);
        res.count++;
        now = t;
        if (now >= end)
            break;
    }
    res.seconds = (double) (now - start) / 1e9;
    res.rate = (double) res.count / res.seconds;
    zmq_send (push, "", 0, 0);
    waitpid (pid, NULL, 0);
    zmq_close (pull);
    zmq_close (push);
    zmq_ctx_term (ctx);
    char extra[96];
    snprintf (extra, sizeof extra, ",\"task_bytes\":%zu,\"result_bytes\":%zu", tsize, rsize);
    bu_print_result (&res, 1, extra);
    bu_samples_free (&res.lat);
    free (tframe);
    free (rframe);
    return 0;
}
