/*  loop.c - zmq_poll over sockets, MHD and signals; cron.                  */
#include "loop.h"
#include "curve.h"
#include "dispatch.h"
#include "http.h"
#include "leases.h"
#include "log.h"
#include "monitor.h"
#include "orch_config.h"
#include "recovery.h"
#include "results.h"
#include "store.h"
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
#define PRUNE_EVERY_MS 1000             /* retention pass */
#define PRUNE_BATCH 500                 /* tasks deleted per pass (short
                                           transactions, no long stall) */

static void
s_worker_dead (void *arg, const orch_dead_worker_t *dead)
{
    orch_t *orch = arg;
    char worker[300], reason[400];
    log_quote (worker, sizeof worker, dead->worker, strlen (dead->worker));
    log_event (CLOG_WARN, "worker_dead", "worker=%s silent_ms=%lld running=%zu tasks_done=%llu",
               worker, (long long) dead->silent_ms, dead->running_count,
               (unsigned long long) dead->tasks_done);
    snprintf (reason, sizeof reason, "worker %.256s went silent for %lld ms"
              " (ORCH_WORKER_TIMEOUT)", dead->worker, (long long) dead->silent_ms);
    orch_recovery_worker_gone (orch, dead->worker, reason, true);
    orch_monitor_worker (orch, dead->worker, false, 0, "silent");
}

/*  Retention: finished tasks older than ORCH_RETENTION go, a batch at a
    time; a full batch means more are due, so the next pass comes soon.   */
static void
s_prune (orch_t *orch, int64_t mono)
{
    static int64_t next;
    if (mono < next)
        return;
    int64_t n = orch_store_prune (orch->store, orch_now_ms () - orch->cfg->retention,
                                  PRUNE_BATCH);
    if (n > 0)
        log_event (CLOG_INFO, "tasks_pruned", "count=%lld older_than_ms=%lld", (long long) n,
                   (long long) orch->cfg->retention);
    next = mono + (n == PRUNE_BATCH ? ORCH_CRON_MS : PRUNE_EVERY_MS);
}

void
orch_cron (orch_t *orch, int64_t mono)
{
    orch_waiters_expire (orch->waiters, mono);
    orch_workers_expire (orch->workers, mono, orch->cfg->worker_timeout, s_worker_dead, orch);
    orch_recovery_cron (orch, mono);
    s_prune (orch, mono);
    orch_monitor_cron (orch);
    orch_http_cron (orch->http, mono);
    orch_submit_cron (orch->submit, mono);
}

/*  Read one signal from the signalfd: its number, or 0.                    */
static int
s_signal (int fd)
{
    struct signalfd_siginfo info;
    ssize_t n = read (fd, &info, sizeof info);
    return n == (ssize_t) sizeof info ? (int) info.ssi_signo : 0;
}

/*  Stop accepting (new connections are refused, a POST on a kept-alive
    one gets 503), wake every waiter (they answer with the current state),
    and give the HTTP answers time to leave. Every change is committed
    already: each batch commits before the loop goes on.                   */
static void
s_shutdown (orch_t *orch, int signo)
{
    orch->stopping = true;
    log_event (CLOG_INFO, "stopping", "signal=%s", signo == SIGINT ? "SIGINT"
                                                 : signo == SIGTERM ? "SIGTERM" : "none");
    orch_http_quiesce (orch->http);
    size_t woken = orch_waiters_fire_all (orch->waiters);
    int64_t deadline = orch_mono_ms () + FLUSH_MS;
    zmq_pollitem_t item = { NULL, orch_http_fd (orch->http), ZMQ_POLLIN, 0 };
    orch_http_run (orch->http);
    while (orch_http_pending (orch->http) > 0 && orch_mono_ms () < deadline) {
        log_flush ();
        zmq_poll (&item, 1, 20);
        orch_http_run (orch->http);
    }
    snprintf (orch->stop_summary, sizeof orch->stop_summary,
              "waiters_answered=%zu unsent=%zu queued=%zu in_flight=%zu"
              " note=\"new work refused; everything committed; a restart resumes it\"",
              woken, orch_http_pending (orch->http), orch_dispatch_queued (orch->dispatch),
              orch_leases_count (orch->leases));
}

int
orch_loop_run (orch_t *orch, int signal_fd)
{
    zmq_pollitem_t items[4 + ORCH_CURVE_POLL_MAX] = {
        { orch->results, 0, ZMQ_POLLIN, 0 },
        { orch_submit_socket (orch->submit), 0, ZMQ_POLLIN, 0 },
        { NULL, orch_http_fd (orch->http), ZMQ_POLLIN, 0 },
        { NULL, signal_fd, ZMQ_POLLIN, 0 },
    };
    /*  CURVE: the ZAP handler (every worker handshake waits for its answer)
        and the monitors of the worker sockets.                             */
    int count = 4;
    if (orch->curve) {
        void *socks[ORCH_CURVE_POLL_MAX];
        size_t n = orch_curve_sockets (orch->curve, socks, ORCH_CURVE_POLL_MAX);
        for (size_t i = 0; i < n; i++)
            items[count++] = (zmq_pollitem_t) { socks[i], 0, ZMQ_POLLIN, 0 };
    }
    int64_t next_cron = orch_mono_ms () + ORCH_CRON_MS;
    int signo = 0;
    log_hold ();                        /* one write per turn (log.h) */
    while (!signo) {
        log_flush ();
        int64_t now = orch_mono_ms ();
        long timeout = next_cron > now ? (long) (next_cron - now) : 0;
        int64_t mhd = orch_http_timeout (orch->http);
        if (mhd >= 0 && mhd < timeout)
            timeout = (long) mhd;
        int rc = zmq_poll (items, count, timeout);
        if (rc < 0 && zmq_errno () != EINTR) {
            log_event (CLOG_ERROR, "poll_failed", "error=\"%s\"", zmq_strerror (zmq_errno ()));
            break;
        }
        if (rc > 0) {
            if (items[3].revents & ZMQ_POLLIN)
                signo = s_signal (signal_fd);
            /*  One transaction for what the worker and submit sockets
                brought and the dispatch it allows (slots freed, tasks
                queued): one commit, and every page they share written to
                the WAL once. Acks, answers and task frames leave after it
                (orch_batch_commit).                                       */
            bool batch = (items[0].revents | items[1].revents) & ZMQ_POLLIN;
            if (batch && orch_batch_begin (orch))
                batch = false;          /* each part commits on its own */
            if (items[0].revents & ZMQ_POLLIN)
                orch_results_drain (orch, DRAIN_MAX);
            if (items[1].revents & ZMQ_POLLIN)
                orch_submit_drain (orch->submit, DRAIN_MAX);
            if (batch) {
                orch_dispatch_run (orch);
                if (orch_batch_commit (orch))
                    log_event (CLOG_ERROR, "commit_failed", "what=\"event loop batch\"");
            }
            for (int i = 4; i < count; i++)
                if (items[i].revents & ZMQ_POLLIN) {
                    orch_curve_drain (orch->curve);
                    break;
                }
        }
        orch_http_run (orch->http);
        orch_dispatch_run (orch);
        now = orch_mono_ms ();
        if (now >= next_cron) {
            orch_cron (orch, now);
            next_cron = now + ORCH_CRON_MS;
        }
    }
    s_shutdown (orch, signo);
    return signo;
}
