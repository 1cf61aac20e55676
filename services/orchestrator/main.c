/*  main.c - orchestrator: configure, start, run the loop, stop.

    Start-up order matters:
      1. configuration (bad value: exit 1 naming it);
      2. signals blocked BEFORE the ZeroMQ context exists, so libzmq's
         threads inherit the mask and SIGTERM reaches only our signalfd;
      3. data directory, token, store (the queue is rebuilt from it, and
         the tasks left in flight get fresh leases: recovery.h);
      4. the CURVE keys and the ZAP handler (curve.h) BEFORE the worker
         sockets are bound: libzmq lets every CURVE client in while no ZAP
         handler is bound;
      5. sockets and HTTP bound, then exactly one "event=ready" line with
         the real ports (tests parse it).

    `orchestrator keygen DIR` only writes the keys (curve.h) and exits.
*/
#include "heap.h"
#include "cert.h"
#include "config.h"
#include "control.h"
#include "curve.h"
#include "dispatch.h"
#include "events.h"
#include "http.h"
#include "live.h"
#include "log.h"
#include "loop.h"
#include "orch.h"
#include "orch_config.h"
#include "leases.h"
#include "monitor.h"
#include "recovery.h"
#include "sessions.h"
#include "stats.h"
#include "store.h"
#include "submit.h"
#include "token.h"
#include "waiters.h"
#include "workers.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define WORKERS_MAX 4096
#define SESSIONS_MAX 1024               /* dashboard logins at once */
#define LIVE_BUDGET ((size_t) 256 << 20)  /* live output of all running tasks */

static void
s_die (const char *fmt, const char *detail)
{
    fprintf (stderr, "orchestrator: ");
    fprintf (stderr, fmt, detail);
    fprintf (stderr, "\n");
    exit (1);
}

/*  mkdir -p with mode 0700 for what we create.                             */
static int
s_make_dirs (const char *path, char *err, size_t err_size)
{
    char buf[4096];
    if (snprintf (buf, sizeof buf, "%s", path) >= (int) sizeof buf) {
        snprintf (err, err_size, "ORCH_DATA_DIR is too long");
        return -1;
    }
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir (buf, 0700) && errno != EEXIST) {
                snprintf (err, err_size, "cannot create ORCH_DATA_DIR=%.400s (%.400s): %s", path, buf,
                          strerror (errno));
                return -1;
            }
            *p = saved;
            if (!saved)
                break;
        }
    }
    struct stat st;
    if (stat (path, &st) || !S_ISDIR (st.st_mode)) {
        snprintf (err, err_size, "ORCH_DATA_DIR=%s is not a directory", path);
        return -1;
    }
    if (st.st_mode & 077)
        log_event (CLOG_WARN, "data_dir_open", "data_dir=%s mode=%03o (0700 recommended)", path,
                   (unsigned) (st.st_mode & 0777));
    return 0;
}

static void *
s_bind (orch_t *orch, int type, const char *endpoint, const char *name, const char *link)
{
    void *sock = zmq_socket (orch->zctx, type);
    int linger = 1000;
    /*  ZMQ_MAXMSGSIZE on every socket, whatever it reads: any peer may
        send, and a PUB reads its subscribers' subscriptions.              */
    int64_t max = orch->cfg->max_frame + (orch->curve ? CERT_CURVE_OVERHEAD : 0);
    if (sock && orch->curve && orch_curve_secure (orch->curve, sock, link)) {
        fprintf (stderr, "orchestrator: cannot set up CURVE on %s=%s: %s\n", name, endpoint,
                 zmq_strerror (zmq_errno ()));
        exit (1);
    }
    if (!sock
        || zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &max, sizeof max)
        || zmq_bind (sock, endpoint)) {
        fprintf (stderr, "orchestrator: cannot bind %s=%s: %s\n", name, endpoint,
                 zmq_strerror (zmq_errno ()));
        exit (1);
    }
    return sock;
}

static void
s_last_endpoint (void *sock, char *buf, size_t size)
{
    size_t len = size;
    if (zmq_getsockopt (sock, ZMQ_LAST_ENDPOINT, buf, &len))
        snprintf (buf, size, "?");
}

static log_level_t
s_level (const char *name)
{
    return !strcmp (name, "debug") ? CLOG_DEBUG : !strcmp (name, "warn") ? CLOG_WARN
         : !strcmp (name, "error") ? CLOG_ERROR : CLOG_INFO;
}

/*  `orchestrator keygen DIR` (or --keygen DIR, --keygen=DIR).             */
static int
s_keygen (int argc, char **argv)
{
    const char *dir = NULL;
    if (!strncmp (argv[1], "--keygen=", 9))
        dir = argv[1] + 9;
    else if (argc == 3)
        dir = argv[2];
    if (!dir || !*dir || argc > 3 || (argc == 3 && !strncmp (argv[1], "--keygen=", 9))) {
        fprintf (stderr, "usage: orchestrator keygen DIR   (e.g. orchestrator keygen keys/)\n");
        return 1;
    }
    char err[8192];
    if (orch_curve_keygen (dir, stdout, err, sizeof err)) {
        fprintf (stderr, "orchestrator: %s\n", err);
        return 1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    umask (077);
    heap_keep_freed ();
    if (argc >= 2 && (!strcmp (argv[1], "keygen") || !strcmp (argv[1], "--keygen")
                      || !strncmp (argv[1], "--keygen=", 9)))
        return s_keygen (argc, argv);
    log_set_component ("orchestrator");
    orch_config_t cfg;
    char err[8192];
    int rc = orch_config_load (&cfg, argc, argv, err, sizeof err);
    if (rc > 0)
        return 0;
    if (rc < 0)
        s_die ("%s", err);
    log_set_level (s_level (cfg.log_level));

    sigset_t mask;
    sigemptyset (&mask);
    sigaddset (&mask, SIGTERM);
    sigaddset (&mask, SIGINT);
    sigprocmask (SIG_BLOCK, &mask, NULL);
    signal (SIGPIPE, SIG_IGN);
    int sig_fd = signalfd (-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0)
        s_die ("signalfd: %s", strerror (errno));

    orch_t orch = { .cfg = &cfg };
    if (s_make_dirs (cfg.data_dir, err, sizeof err))
        s_die ("%s", err);
    char token_path[4200] = "";
    if (cfg.api_token)
        snprintf (orch.token, sizeof orch.token, "%s", cfg.api_token);
    else {
        bool created;
        if (orch_token_load_or_create (cfg.data_dir, orch.token, sizeof orch.token, token_path,
                                       sizeof token_path, &created, err, sizeof err))
            s_die ("%s", err);
        char masked[32];
        cfg_mask_secret (orch.token, masked, sizeof masked);
        log_event (CLOG_INFO, created ? "token_generated" : "token_loaded", "token=%s file=%s",
                   masked, token_path);
    }
    orch.token_len = strlen (orch.token);

    orch.store = orch_store_new (cfg.data_dir, strcmp (cfg.durability, "full") == 0, err,
                                 sizeof err);
    if (!orch.store)
        s_die ("%s", err);
    orch.dispatch = orch_dispatch_new ();
    orch.workers = orch_workers_new (WORKERS_MAX);
    orch.waiters = orch_waiters_new ((size_t) cfg.max_waiters);
    orch.leases = orch_leases_new ();
    /*  Event ids start at the boot time in microseconds (events.h).       */
    orch.events = orch_events_new ((size_t) cfg.event_history,
                                   (uint64_t) orch_now_ms () * 1000);
    orch.stats = orch_stats_new ();
    orch.sessions = orch_sessions_new (SESSIONS_MAX);
    orch.live = orch_live_new ((size_t) cfg.max_output_stored, LIVE_BUDGET);
    if (!orch.dispatch || !orch.workers || !orch.waiters || !orch.leases || !orch.events
        || !orch.stats || !orch.sessions || !orch.live || orch_monitor_start (&orch))
        s_die ("%s", "out of memory");
    size_t in_doubt = 0;
    if (orch_dispatch_rebuild (orch.dispatch, orch.store, &in_doubt)
        || orch_recovery_rebuild (&orch, orch_mono_ms ()))
        s_die ("%s", "cannot read the task queue from the database");
    uint64_t counts[PROTO_STATUS_COUNT_];
    if (orch_store_count (orch.store, counts) == 0)
        log_event (CLOG_INFO, "store_opened", "db=%s queued=%llu dispatched=%llu running=%llu",
                   orch_store_path (orch.store),
                   (unsigned long long) counts[PROTO_STATUS_QUEUED],
                   (unsigned long long) counts[PROTO_STATUS_DISPATCHED],
                   (unsigned long long) counts[PROTO_STATUS_RUNNING]);

    orch.zctx = zmq_ctx_new ();
    if (!orch.zctx)
        s_die ("zmq_ctx_new: %s", zmq_strerror (zmq_errno ()));
    if (strcmp (cfg.curve, "off") == 0)
        log_event (CLOG_WARN, "worker_link_plain", "curve=off note=\"ORCH_CURVE=off: the"
                   " tasks, results and control sockets take ANY peer, unencrypted; for"
                   " tests only\"");
    else {
        orch.curve = orch_curve_new (orch.zctx, cfg.keys_dir, err, sizeof err);
        if (!orch.curve)
            s_die ("%s", err);
        log_event (CLOG_INFO, "worker_link_secured", "curve=on keys_dir=%s allowed_workers=%zu",
                   cfg.keys_dir, orch_curve_allowed (orch.curve));
    }
    orch.tasks = s_bind (&orch, ZMQ_PUSH, cfg.tasks_endpoint, "ORCH_TASKS_ENDPOINT", "tasks");
    orch.results = s_bind (&orch, ZMQ_PULL, cfg.results_endpoint, "ORCH_RESULTS_ENDPOINT",
                           "results");
    orch.control = orch_control_new (s_bind (&orch, ZMQ_PUB, cfg.control_endpoint,
                                             "ORCH_CONTROL_ENDPOINT", "control"));
    if (!orch.control)
        s_die ("%s", "out of memory");
    orch.submit = orch_submit_new (&orch, cfg.submit_endpoint, err, sizeof err);
    if (!orch.submit)
        s_die ("%s", err);
    orch.http = orch_http_new (&orch, cfg.http_addr, err, sizeof err);
    if (!orch.http)
        s_die ("%s", err);

    char submit[256], tasks[256], results[256], control[256];
    s_last_endpoint (orch_submit_socket (orch.submit), submit, sizeof submit);
    s_last_endpoint (orch.tasks, tasks, sizeof tasks);
    s_last_endpoint (orch.results, results, sizeof results);
    s_last_endpoint (orch_control_socket (orch.control), control, sizeof control);
    /*  Start and stop lines are printed whatever ORCH_LOG_LEVEL says:
        tests and supervisors read them.                                    */
    log_set_level (CLOG_INFO);
    log_event (CLOG_INFO, "ready", "http=%s:%d submit=%s tasks=%s results=%s control=%s"
               " data_dir=%s", orch_http_host (orch.http), orch_http_port (orch.http), submit,
               tasks, results, control, cfg.data_dir);
    log_set_level (s_level (cfg.log_level));

    int signo = orch_loop_run (&orch, sig_fd);

    orch_http_destroy (&orch.http);
    orch_submit_destroy (&orch.submit);
    zmq_close (orch.tasks);
    zmq_close (orch.results);
    zmq_close (orch_control_socket (orch.control));
    orch_control_destroy (&orch.control);
    orch_curve_destroy (&orch.curve);
    zmq_ctx_term (orch.zctx);
    orch_waiters_destroy (&orch.waiters);
    orch_workers_destroy (&orch.workers);
    orch_dispatch_destroy (&orch.dispatch);
    orch_leases_destroy (&orch.leases);
    orch_monitor_stop (&orch);
    orch_store_destroy (&orch.store);
    orch_live_destroy (&orch.live);
    orch_sessions_destroy (&orch.sessions);
    orch_stats_destroy (&orch.stats);
    orch_events_destroy (&orch.events);
    close (sig_fd);
    log_set_level (CLOG_INFO);
    log_event (CLOG_INFO, "stopped", "signal=%s %s", signo == SIGINT ? "SIGINT"
                                                   : signo == SIGTERM ? "SIGTERM" : "none",
               orch.stop_summary);
    return signo ? 0 : 1;
}
