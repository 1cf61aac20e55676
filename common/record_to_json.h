/*  record_to_json.h - a task record as the JSON clients see.

    One schema for GET /api/tasks/{id} (and POST answers) and for
    `cleudo --json`:
      {"id", "status", "attempt", "worker" (null until started),
       "created_ms", "dispatched_ms", "started_ms", "finished_ms" (null
       until reached), "summary" (task_summary.h), "task" (task_to_json.h),
       "exit_code", "signal" (int or null),
       "stdout", "stderr" (text; when the bytes are not text: the lossy
       text AND an exact "stdout_b64" / "stderr_b64"),
       "stdout_truncated", "stderr_truncated" (bool),
       "wall_ms", "cpu_ms", "max_rss_kb" (int),
       "error" (string or null),
       "files" {path: text} (the collected files that are text),
       "files_b64" {path: base64} (the others; only when there are some),
       "file_refs" [paths left in the shared volume]}
    Every result key, from "exit_code" on, is null until the status is
    terminal (and "files_b64" is then null too, not absent).
    List item (GET /api/tasks): the same without "task", "stdout",
    "stderr", their _b64 twins, "files", "files_b64" and "file_refs".

    Text means utf8_is_text (utf8.h): valid UTF-8, NUL included.
*/
#ifndef RECORD_TO_JSON_H_INCLUDED
#define RECORD_TO_JSON_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>

#include "proto.h"

typedef struct {
    bool list_item;                     /* the short form, else the full record */
    bool no_usage;                      /* terminal, but wall_ms, cpu_ms and
                                           max_rss_kb were never measured:
                                           null (the wire cannot say so) */
    const char *summary;                /* NULL: task_summary (&record->task) */
} record_json_opts_t;

/*  A new JSON object; NULL when out of memory. opts may be NULL (a full
    record, usage measured, summary computed).                              */
json_t *record_to_json (const proto_record_t *record, const record_json_opts_t *opts);

#endif
