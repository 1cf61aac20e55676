/*  loadgen.h - closed-loop load from C client threads: each thread holds
    one connection and keeps exactly one request in flight, so "clients"
    is the concurrency. Used by http_client and submit_client.

    Stops after `seconds`, or after `total` successful requests when total
    is not 0 (whichever comes first). Latency of every successful request
    is kept (µs) for the percentiles.
*/
#ifndef LOADGEN_H_INCLUDED
#define LOADGEN_H_INCLUDED

#include "bench_util.h"

typedef struct {
    /*  Per thread: a connection (NULL: the thread fails, with bu_fail). */
    void *(*open) (void *cfg, int index);
    /*  One request on it: 0, or -1 (bu_fail says why; the thread may
        reconnect by returning -2, which closes and reopens).          */
    int (*request) (void *conn);
    void (*close) (void *conn);
    void *cfg;                          /* passed to open */
    int warmup;                         /* untimed requests per thread */
} lg_client_t;

/*  0, or -1 when no thread could connect.                                 */
int lg_run (const lg_client_t *client, int clients, double seconds, uint64_t total,
            bu_result_t *res);

/*  "-c CLIENTS -d SECONDS [-n TOTAL]" style parsing help: the value after
    argv[*i], advancing *i, or exit (2).                                    */
const char *lg_next_arg (int argc, char **argv, int *i);

#endif
