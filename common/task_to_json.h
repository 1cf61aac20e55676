/*  task_to_json.h - a task as JSON, in the POST /api/tasks body form.

      {"argv": ["prog", "arg", ...]}                      or
      {"lang": "sh"|"bash"|"python3", "code": "..."}      ("code_b64")
    then only what was given: "stdin" ("stdin_b64"), "env" {NAME: value},
    "files" {relpath: text}, "files_b64" {relpath: base64}, "limits"
    {"wall_ms", "cpu_ms", "memory_bytes", "processes", "output_bytes",
    "file_bytes": integers (0, the worker's default, is left out),
    "network": bool (left out when not given)}, "collect" [relpath, ...].

    A byte field goes out as text when it is text (utf8_is_text), else as
    its "_b64" twin alone, never both, so the output can be posted back
    unchanged. This is the "task" of a record in the HTTP API and in
    `cleudo --json`; parsing a body is the orchestrator's (task_json.h).
*/
#ifndef TASK_TO_JSON_H_INCLUDED
#define TASK_TO_JSON_H_INCLUDED

#include <jansson.h>

#include "proto.h"

/*  A new JSON object; NULL when out of memory.                             */
json_t *task_to_json (const proto_task_t *task);

#endif
