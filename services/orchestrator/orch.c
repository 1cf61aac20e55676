/*  orch.c - clocks, task ids, randomness and the client error type.       */
#include "orch.h"
#include "dispatch.h"
#include "submit.h"
#include "control.h"
#include "store.h"
#include "waiters.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int
orch_err (orch_err_t *err, int status, const char *code, const char *field,
          const char *fmt, ...)
{
    err->status = status;
    snprintf (err->code, sizeof err->code, "%s", code);
    snprintf (err->field, sizeof err->field, "%s", field ? field : "");
    size_t at = 0;
    if (field && *field) {
        int n = snprintf (err->message, sizeof err->message, "%s: ", field);
        at = n < 0 ? 0 : (size_t) n;
        if (at >= sizeof err->message)
            at = sizeof err->message - 1;
    }
    va_list args;
    va_start (args, fmt);
    vsnprintf (err->message + at, sizeof err->message - at, fmt, args);
    va_end (args);
    return -1;
}

static int64_t
s_clock_ms (clockid_t id)
{
    struct timespec ts;
    clock_gettime (id, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
orch_now_ms (void)
{
    return s_clock_ms (CLOCK_REALTIME);
}

int64_t
orch_mono_ms (void)
{
    return s_clock_ms (CLOCK_MONOTONIC);
}

void
orch_random (void *buf, size_t size)
{
    uint8_t *p = buf;
    while (size > 0) {
        ssize_t n = getrandom (p, size, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /*  No entropy source means no safe tokens or ids: stop here
                rather than hand out predictable values.                    */
            fprintf (stderr, "orchestrator: getrandom failed: %s\n", strerror (errno));
            abort ();
        }
        p += n;
        size -= (size_t) n;
    }
}

void
orch_new_task_id (char *out, size_t size)
{
    uint32_t r;
    orch_random (&r, sizeof r);
    unsigned long long ms = (unsigned long long) orch_now_ms () & 0xffffffffffffull;
    snprintf (out, size, "%012llx-%08x", ms, (unsigned) r);
}

int
orch_batch_begin (orch_t *orch)
{
    return orch_store_begin (orch->store);
}

int
orch_batch_commit (orch_t *orch)
{
    int rc = orch_store_commit (orch->store);
    if (orch_store_in_transaction (orch->store))
        return rc;                      /* an outer batch commits later */
    orch_waiters_flush_deferred (orch->waiters, rc == 0);
    orch_control_flush (orch->control, rc == 0);
    if (orch->submit)
        orch_submit_flush (orch->submit, rc == 0);
    if (orch->dispatch)
        orch_dispatch_flush (orch, rc == 0);
    return rc;
}

void
orch_batch_finished (orch_t *orch, const char *id)
{
    orch_waiters_defer (orch->waiters, id);
}
