/*  loop.h - the one event loop and its periodic housekeeping ("cron").

    One zmq_poll over the results PULL socket, the submit ROUTER, MHD's
    epoll fd and the signalfd; after each poll: drain what is readable, let
    MHD run, dispatch what the credit allows; every ORCH_CRON_MS: expire
    waiters and silent workers (their tasks are given back), expired
    leases (recovery.h), and, once a second, prune finished tasks older
    than ORCH_RETENTION. Redis' ae.c/serverCron is the model.
*/
#ifndef ORCH_LOOP_H_INCLUDED
#define ORCH_LOOP_H_INCLUDED

#include <stdint.h>

#include "orch.h"

#define ORCH_CRON_MS 100

/*  Run until SIGTERM/SIGINT arrives on signal_fd (a signalfd). Then stop
    accepting (new connections refused, POSTs on open ones get 503),
    answer every waiting request with the current state, let the answers
    go out (at most ~2 s), note what was done in orch->stop_summary and
    return the signal number. Every batch is committed as it goes, so
    there is nothing left to commit.                                        */
int orch_loop_run (orch_t *orch, int signal_fd);

/*  Housekeeping, called every ORCH_CRON_MS (exposed for tests).           */
void orch_cron (orch_t *orch, int64_t mono);

#endif
