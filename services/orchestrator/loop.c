/*  loop.c - zmq_poll over sockets, MHD and signals; cron.                  */
#include "loop.h"
#include "dispatch.h"
#include "http.h"
#include "log.h"
#include "orch_config.h"
#include "results.h"
#include "submit.h"
#include "waiters.h"
#include "workers.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <zmq.h>

#define DRAIN_MAX 1024                  /* frames per socket per turn */
#define FLUSH_MS 2000                   /* to answer waiters at shutdown */

static void
s_worker_dead (void *arg, const orch_dead_worker_t *dead)
{
    (void) arg;
    char worker[300];
    log_quote (worker, sizeof worker, dead->worker, strlen (dead->worker));
    /*  Re-queueing dead->running is the reliability issue's job; today the
        worker only stops counting towards the credit.                      */
    log_event (CLOG_WARN, "worker_dead", "worker=%s silent_ms=%lld running=%zu tasks_done=%llu",
               worker, (long long) dead->silent_ms, dead->running_count,
               (unsigned long long) dead->tasks_done);
}

void
orch_cron (orch_t *orch, int64_t mono)
{
    orch_waiters_expire (orch->waiters, mono);
    orch_workers_expire (orch->workers, mono, orch->cfg->worker_timeout, s_worker_dead, orch);
}

/*  Read one signal from the signalfd: its number, or 0.                    */
static int
s_signal (int fd)
{
    struct signalfd_siginfo info;
    ssize_t n = read (fd, &info, sizeof info);
    return n == (ssize_t) sizeof info ? (int) info.ssi_signo : 0;
}

/*  Stop accepting, wake every waiter (they answer with the current
    state), and give the HTTP answers time to leave.                       */
static void
s_shutdown (orch_t *orch)
{
    orch->stopping = true;
    orch_http_quiesce (orch->http);
    size_t woken = orch_waiters_fire_all (orch->waiters);
    int64_t deadline = orch_mono_ms () + FLUSH_MS;
    zmq_pollitem_t item = { NULL, orch_http_fd (orch->http), ZMQ_POLLIN, 0 };
    orch_http_run (orch->http);
    while (orch_http_pending (orch->http) > 0 && orch_mono_ms () < deadline) {
        zmq_poll (&item, 1, 20);
        orch_http_run (orch->http);
    }
    log_event (CLOG_INFO, "stopping", "waiters_answered=%zu unsent=%zu", woken,
               orch_http_pending (orch->http));
}

int
orch_loop_run (orch_t *orch, int signal_fd)
{
    zmq_pollitem_t items[] = {
        { orch->results, 0, ZMQ_POLLIN, 0 },
        { orch_submit_socket (orch->submit), 0, ZMQ_POLLIN, 0 },
        { NULL, orch_http_fd (orch->http), ZMQ_POLLIN, 0 },
        { NULL, signal_fd, ZMQ_POLLIN, 0 },
    };
    int64_t next_cron = orch_mono_ms () + ORCH_CRON_MS;
    int signo = 0;
    while (!signo) {
        int64_t now = orch_mono_ms ();
        long timeout = next_cron > now ? (long) (next_cron - now) : 0;
        int64_t mhd = orch_http_timeout (orch->http);
        if (mhd >= 0 && mhd < timeout)
            timeout = (long) mhd;
        int rc = zmq_poll (items, 4, timeout);
        if (rc < 0 && zmq_errno () != EINTR) {
            log_event (CLOG_ERROR, "poll_failed", "error=\"%s\"", zmq_strerror (zmq_errno ()));
            break;
        }
        if (rc > 0) {
            if (items[3].revents & ZMQ_POLLIN)
                signo = s_signal (signal_fd);
            if (items[0].revents & ZMQ_POLLIN)
                orch_results_drain (orch, DRAIN_MAX);
            if (items[1].revents & ZMQ_POLLIN)
                orch_submit_drain (orch->submit, DRAIN_MAX);
        }
        orch_http_run (orch->http);
        orch_dispatch_run (orch);
        now = orch_mono_ms ();
        if (now >= next_cron) {
            orch_cron (orch, now);
            next_cron = now + ORCH_CRON_MS;
        }
    }
    s_shutdown (orch);
    return signo;
}
