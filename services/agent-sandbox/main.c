/*  main.c - agent-sandbox: configuration, start, stop.                    */
#define _GNU_SOURCE
#include "heap.h"
#include "isolation.h"
#include "log.h"
#include "sbx_config.h"
#include "worker.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/*  Never runs (the signals stay blocked; the signalfd takes them), but a
    handler must exist: as PID 1 of a container the kernel drops any signal
    whose disposition is SIG_DFL, and `docker stop` would go unheard.      */
static void
s_never_called (int sig)
{
    (void) sig;
}

static log_level_t
s_level (const char *name)
{
    if (strcmp (name, "debug") == 0)
        return CLOG_DEBUG;
    if (strcmp (name, "warn") == 0)
        return CLOG_WARN;
    if (strcmp (name, "error") == 0)
        return CLOG_ERROR;
    return CLOG_INFO;
}

int
main (int argc, char **argv)
{
    heap_keep_freed ();
    /*  Descriptors 0-2 must exist: task pipes must never land on them.    */
    for (int fd = 0; fd < 3; fd++)
        if (fcntl (fd, F_GETFD) < 0 && open ("/dev/null", O_RDWR) < 0)
            return 1;
    log_set_component ("agent-sandbox");

    static sbx_config_t cfg;
    char err[8192];
    int rc = sbx_config_load (&cfg, argc, argv, err, sizeof err);
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf (stderr, "agent-sandbox: %s\n", err);
        return 1;
    }
    log_set_level (s_level (cfg.log_level));
    /*  The link's keys: a missing or bad file stops the start here.       */
    static sbx_link_curve_t keys;
    rc = sbx_config_load_keys (&cfg, &keys, err, sizeof err);
    if (rc < 0) {
        fprintf (stderr, "agent-sandbox: %s\n", err);
        return 1;
    }
    if (rc == 1)
        log_event (CLOG_WARN, "worker_link_plain", "curve=off note=\"SANDBOX_CURVE=off: the"
                   " worker link is unauthenticated and unencrypted; for tests only\"");

    /*  Isolation first, while this is the only thread (the capability
        bounding set is per thread; the namespace probe clones): one log
        line per layer, then SANDBOX_REQUIRE.                              */
    sbx_iso_config_t iso_cfg;
    sbx_config_iso (&cfg, &iso_cfg);
    sbx_iso_t *iso = sbx_iso_new (&iso_cfg, err, sizeof err);
    if (!iso) {
        fprintf (stderr, "agent-sandbox: %s\n", err);
        return 1;
    }
    sbx_iso_log (iso);
    if (sbx_iso_check_required (iso, err, sizeof err)) {
        char q[600];
        log_event (CLOG_ERROR, "refused", "reason=%s", log_quote (q, sizeof q, err, strlen (err)));
        fprintf (stderr, "agent-sandbox: %s\n", err);
        sbx_iso_destroy (&iso);
        return 1;
    }

    /*  Block the stop signals before the ZeroMQ context exists, so its
        threads inherit the mask and the signalfd alone receives them.
        A task writing to a closed pipe must not kill the worker: EPIPE.   */
    sigset_t stop;
    sigemptyset (&stop);
    sigaddset (&stop, SIGTERM);
    sigaddset (&stop, SIGINT);
    sigprocmask (SIG_BLOCK, &stop, NULL);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_never_called;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    int sigfd = signalfd (-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) {
        perror ("agent-sandbox: signalfd");
        sbx_iso_destroy (&iso);
        return 1;
    }

    sbx_worker_t *worker = sbx_worker_new (&cfg, iso, sigfd, rc == 0 ? &keys : NULL, err,
                                           sizeof err);
    /*  The sockets have their copies.                                      */
    explicit_bzero (&keys, sizeof keys);
    if (!worker) {
        fprintf (stderr, "agent-sandbox: %s\n", err);
        close (sigfd);
        sbx_iso_destroy (&iso);
        return 1;
    }
    sbx_worker_run (worker);            /* logs event=worker_stopped */
    sbx_worker_destroy (&worker);
    sbx_iso_destroy (&iso);
    close (sigfd);
    return 0;
}
