/*  record_json.h - a stored task as the JSON clients see.

    Full record (GET /api/tasks/{id}, POST answers; the CLI's --json mirrors
    it):
      {"id", "status", "attempt", "worker" (null until started),
       "created_ms", "dispatched_ms", "started_ms", "finished_ms" (null
       until reached), "summary", "task" {accepted form, see task_json.h},
       "exit_code", "signal" (int or null), "stdout", "stderr" (text, null
       until terminal; when the bytes are not UTF-8: the text with U+FFFD
       replacements AND an exact "stdout_b64"/"stderr_b64"),
       "stdout_truncated", "stderr_truncated" (bool, null until terminal),
       "wall_ms", "cpu_ms", "max_rss_kb" (null until terminal),
       "error" (string or null), "files" {name: text}, "files_b64"
       {name: base64} (only when some collected file is not UTF-8),
       "file_refs" [names left in the shared volume]}
    List item (GET /api/tasks): the same without "task", "stdout",
    "stderr", their _b64 twins, "files", "files_b64" and "file_refs".
*/
#ifndef ORCH_RECORD_JSON_H_INCLUDED
#define ORCH_RECORD_JSON_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>

#include "store.h"

/*  full: the whole record (rec must have been loaded full); else a list
    item. NULL when out of memory or the stored spec is unreadable.        */
json_t *orch_record_to_json (orch_record_t *rec, bool full);

#endif
