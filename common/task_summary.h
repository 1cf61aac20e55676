/*  task_summary.h - a task in one line, for listings.

    The orchestrator stores it with the task ("summary" of a list item);
    `cleudo --json` computes the same from the record's task, so both show
    the same text.
*/
#ifndef TASK_SUMMARY_H_INCLUDED
#define TASK_SUMMARY_H_INCLUDED

#include "proto.h"

/*  argv joined with spaces, or "LANG: first line of code" (leading blank
    lines skipped); at most ~200 bytes, cut on a character boundary,
    control characters shown as spaces, valid UTF-8. malloc'd; NULL when
    out of memory.                                                          */
char *task_summary (const proto_task_t *task);

#endif
