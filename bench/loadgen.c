/*  loadgen.c - closed-loop client threads (see loadgen.h).                */
#define _GNU_SOURCE
#include "loadgen.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLIENTS 1024

typedef struct {
    const lg_client_t *client;
    int index;                          /* thread number */
    pthread_barrier_t *start;           /* everyone connected and warm */
    const int64_t *end_p;               /* shared deadline */
    uint64_t total;                     /* stop after this many (0: time only) */
    uint64_t *done;                     /* shared success counter */
    bool connected;
    uint64_t count;                     /* this thread's successes */
    uint64_t errors;
    bu_samples_t lat;
} s_thread_t;

static void *
s_thread (void *arg)
{
    s_thread_t *t = arg;
    const lg_client_t *c = t->client;
    void *conn = c->open (c->cfg, t->index);
    t->connected = conn != NULL;
    for (int i = 0; conn && i < c->warmup; i++)
        if (c->request (conn) == -2) {
            c->close (conn);
            conn = c->open (c->cfg, t->index);
        }
    pthread_barrier_wait (t->start);    /* all warm */
    pthread_barrier_wait (t->start);    /* deadline set: go */
    if (!conn)
        return NULL;
    int64_t end = *t->end_p;
    int64_t now = bu_now_ns ();
    while (now < end) {
        if (t->total && __atomic_load_n (t->done, __ATOMIC_RELAXED) >= t->total)
            break;
        int rc = c->request (conn);
        int64_t after = bu_now_ns ();
        if (rc == 0) {
            t->count++;
            bu_samples_add (&t->lat, (double) (after - now) / 1000.0);
            __atomic_fetch_add (t->done, 1, __ATOMIC_RELAXED);
        }
        else {
            t->errors++;
            if (rc == -2) {
                c->close (conn);
                conn = c->open (c->cfg, t->index);
                if (!conn)
                    break;
            }
        }
        now = after;
    }
    if (conn)
        c->close (conn);
    return NULL;
}

int
lg_run (const lg_client_t *client, int clients, double seconds, uint64_t total,
        bu_result_t *res)
{
    memset (res, 0, sizeof *res);
    if (clients < 1 || clients > MAX_CLIENTS)
        return -1;
    s_thread_t *ts = calloc ((size_t) clients, sizeof *ts);
    pthread_t *ids = calloc ((size_t) clients, sizeof *ids);
    if (!ts || !ids)
        return -1;
    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, (unsigned) clients + 1);
    int64_t end = INT64_MAX;
    uint64_t done = 0;
    bu_fail_reset ();
    for (int i = 0; i < clients; i++) {
        ts[i] = (s_thread_t) { .client = client, .index = i, .start = &start, .end_p = &end,
                               .total = total, .done = &done };
        pthread_create (&ids[i], NULL, s_thread, &ts[i]);
    }
    /*  Two rounds of the barrier: everyone connected and warm, then the
        deadline is written (the second barrier orders it) and all go.     */
    pthread_barrier_wait (&start);
    int64_t begin = bu_now_ns ();
    end = begin + (int64_t) (seconds * 1e9);
    pthread_barrier_wait (&start);
    int connected = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join (ids[i], NULL);
        connected += ts[i].connected;
    }
    int64_t finish = bu_now_ns ();
    for (int i = 0; i < clients; i++) {
        res->count += ts[i].count;
        res->errors += ts[i].errors;
        for (size_t k = 0; k < ts[i].lat.n; k++)
            bu_samples_add (&res->lat, ts[i].lat.v[k]);
        bu_samples_free (&ts[i].lat);
    }
    res->seconds = (double) (finish - begin) / 1e9;
    res->rate = res->seconds > 0 ? (double) res->count / res->seconds : 0;
    snprintf (res->first_error, sizeof res->first_error, "%s", bu_first_error ());
    pthread_barrier_destroy (&start);
    free (ts);
    free (ids);
    return connected ? 0 : -1;
}

const char *
lg_next_arg (int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf (stderr, "%s: %s needs a value\n", argv[0], argv[*i]);
        exit (2);
    }
    return argv[++*i];
}
