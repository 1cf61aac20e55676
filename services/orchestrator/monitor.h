/*  monitor.h - from what happened to what people see.

    Every committed change of a task (the store's change listener) and every
    worker joining or leaving becomes:
      * an event in the SSE history (events.h): "task" and "worker";
      * a count or a latency in the statistics (stats.h);
      * for live output (live.h): a new attempt restarts a task's buffers,
        the end drops them; a task lost with its worker keeps the output
        streamed so far as its stdout/stderr.
*/
#ifndef ORCH_MONITOR_H_INCLUDED
#define ORCH_MONITOR_H_INCLUDED

#include "orch.h"

/*  Register with the store. Call once, after orch has events, stats, live.
    0, or -1 when out of memory.                                            */
int orch_monitor_start (orch_t *orch);
/*  Unregister and free (before the store goes). Safe when not started.    */
void orch_monitor_stop (orch_t *orch);

/*  A worker joined (1) or left (0).                                        */
void orch_monitor_worker (orch_t *orch, const char *worker, bool joined, uint32_t slots,
                          const char *why);

/*  Sample the queue depth into the statistics (cron).                      */
void orch_monitor_cron (orch_t *orch);

#endif
