/*  submit_client.c - load on the orchestrator's submit socket: one DEALER
    per client thread, one `submit` (with wait_ms) in flight on each, every
    frame built and checked by proto like the CLI's.

    submit_client -e ENDPOINT -t TOKEN [-c CLIENTS] [-d SECONDS] [-n TOTAL]
                  [-W WAIT_MS] [-w WARMUP] -- PROGRAM ARG...

    With WAIT_MS (default 30000) a request counts when the reply is the
    finished task with status succeeded; with -W 0 when it is `accepted`.
    One JSON line (bench_util.h).
*/
#define _GNU_SOURCE
#include "loadgen.h"
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    void *ctx;                          /* one context, a socket per thread */
    const char *endpoint;
    const char *token;
    const char **argv;                  /* the task */
    size_t argc;
    uint64_t wait_ms;                   /* 0: no wait, expect accepted */
} s_cfg_t;

typedef struct {
    s_cfg_t *cfg;
    void *sock;                         /* DEALER */
    uint64_t req;                       /* last request number */
} s_conn_t;

static void *
s_open (void *cfg_, int index)
{
    (void) index;
    s_cfg_t *cfg = cfg_;
    s_conn_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    c->cfg = cfg;
    c->sock = zmq_socket (cfg->ctx, ZMQ_DEALER);
    int linger = 0, timeout = (int) cfg->wait_ms + 30000;
    if (!c->sock || zmq_setsockopt (c->sock, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_setsockopt (c->sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout)
        || zmq_connect (c->sock, cfg->endpoint)) {
        bu_fail ("DEALER to %s: %s", cfg->endpoint, zmq_strerror (zmq_errno ()));
        if (c->sock)
            zmq_close (c->sock);
        free (c);
        return NULL;
    }
    return c;
}

static void
s_close (void *conn)
{
    s_conn_t *c = conn;
    zmq_close (c->sock);
    free (c);
}

static int
s_request (void *conn)
{
    s_conn_t *c = conn;
    s_cfg_t *cfg = c->cfg;
    proto_msg_t msg = { .type = PROTO_REQ_SUBMIT, .req = ++c->req, .token = cfg->token };
    msg.u.submit.task.argv = cfg->argv;
    msg.u.submit.task.argc = cfg->argc;
    msg.u.submit.task.limits.network = -1;
    msg.u.submit.has_wait = cfg->wait_ms > 0;
    msg.u.submit.wait_ms = cfg->wait_ms;
    uint8_t *frame;
    size_t size;
    if (proto_encode (&msg, &frame, &size)) {
        bu_fail ("proto_encode failed");
        return -1;
    }
    int rc = zmq_send (c->sock, frame, size, 0);
    free (frame);
    if (rc < 0) {
        bu_fail ("send: %s", zmq_strerror (zmq_errno ()));
        return -1;
    }
    for (;;) {
        zmq_msg_t reply;
        zmq_msg_init (&reply);
        if (zmq_msg_recv (&reply, c->sock, 0) < 0) {
            bu_fail ("no reply: %s", zmq_strerror (zmq_errno ()));
            zmq_msg_close (&reply);
            return -2;
        }
        proto_error_t err;
        proto_msg_t *rep = proto_decode (PROTO_CH_REPLY, zmq_msg_data (&reply),
                                         zmq_msg_size (&reply), 0, &err);
        zmq_msg_close (&reply);
        if (!rep) {
            bu_fail ("bad reply: %s: %s", err.field, err.message);
            return -1;
        }
        if (rep->req != c->req) {       /* a late answer to an abandoned request */
            proto_msg_destroy (&rep);
            continue;
        }
        int ok = -1;
        if (cfg->wait_ms == 0 && rep->type == PROTO_REP_ACCEPTED)
            ok = 0;
        else if (cfg->wait_ms > 0 && rep->type == PROTO_REP_TASK
                 && rep->u.record.status == PROTO_STATUS_SUCCEEDED)
            ok = 0;
        else if (rep->type == PROTO_REP_ERROR)
            bu_fail ("error reply: %s: %s", rep->u.error.code, rep->u.error.message);
        else if (rep->type == PROTO_REP_TASK)
            bu_fail ("task ended %s", proto_status_name (rep->u.record.status));
        else
            bu_fail ("unexpected reply %s", proto_type_name (rep->type));
        proto_msg_destroy (&rep);
        return ok;
    }
}

int
main (int argc, char **argv)
{
    s_cfg_t cfg = { .wait_ms = 30000 };
    int clients = 1;
    double seconds = 1;
    uint64_t total = 0;
    lg_client_t client = { .open = s_open, .request = s_request, .close = s_close,
                           .cfg = &cfg, .warmup = 5 };
    int i;
    for (i = 1; i < argc && strcmp (argv[i], "--") != 0; i++) {
        const char *opt = argv[i];
        if (strcmp (opt, "-e") == 0)
            cfg.endpoint = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-t") == 0)
            cfg.token = lg_next_arg (argc, argv, &i);
        else if (strcmp (opt, "-c") == 0)
            clients = (int) bu_arg_num ("-c", lg_next_arg (argc, argv, &i));
        else if (strcmp (opt, "-d") == 0)
            seconds = bu_arg_num ("-d", lg_next_arg (argc, argv, &i));
        else if (strcmp (opt, "-n") == 0)
            total = (uint64_t) bu_arg_num ("-n", lg_next_arg (argc, argv, &i));
        else if (strcmp (opt, "-W") == 0)
            cfg.wait_ms = strtoull (lg_next_arg (argc, argv, &i), NULL, 10);
        else if (strcmp (opt, "-w") == 0)
            client.warmup = atoi (lg_next_arg (argc, argv, &i));
        else
            break;
    }
    if (i + 1 >= argc || strcmp (argv[i], "--") != 0 || !cfg.endpoint || !cfg.token) {
        fprintf (stderr, "usage: submit_client -e ENDPOINT -t TOKEN [-c CLIENTS] [-d SECONDS] "
                         "[-n TOTAL] [-W WAIT_MS] [-w WARMUP] -- PROGRAM ARG...\n");
        return 2;
    }
    cfg.argv = (const char **) argv + i + 1;
    cfg.argc = (size_t) (argc - i - 1);
    cfg.ctx = zmq_ctx_new ();
    bu_result_t res;
    int rc = lg_run (&client, clients, seconds, total, &res);
    bu_print_result (&res, clients, NULL);
    if (res.first_error[0])
        fprintf (stderr, "submit_client: first error: %s\n", res.first_error);
    bu_samples_free (&res.lat);
    zmq_ctx_term (cfg.ctx);
    return rc ? 1 : 0;
}
