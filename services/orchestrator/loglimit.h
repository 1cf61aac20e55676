/*  loglimit.h - at most so many log lines a second for one kind of event.

    Hostile traffic must not turn into a flood of log lines: everything
    dropped or refused is counted in /metrics, the log keeps a sample.
    Each line printed says how many were left out before it (suppressed=N).
*/
#ifndef ORCH_LOGLIMIT_H_INCLUDED
#define ORCH_LOGLIMIT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t second;                     /* monotonic second being counted */
    unsigned lines;                     /* lines printed in it */
    uint64_t suppressed;                /* lines not printed since the last one */
} orch_loglimit_t;

/*  True when a line may be printed now (at mono_ms); *suppressed then says
    how many were not since the previous one. False: count it, print nothing. */
static inline bool
orch_loglimit_ok (orch_loglimit_t *self, unsigned per_second, int64_t mono_ms,
                  unsigned long long *suppressed)
{
    int64_t second = mono_ms / 1000;
    if (second != self->second) {
        self->second = second;
        self->lines = 0;
    }
    if (self->lines >= per_second) {
        self->suppressed++;
        return false;
    }
    self->lines++;
    *suppressed = (unsigned long long) self->suppressed;
    self->suppressed = 0;
    return true;
}

#endif
