/*  task_json.h - a POST /api/tasks body -> proto_task_t, validated.

    Accepted form (the same as the "task" of a record, which
    common/task_to_json.h writes):
      {"argv": ["prog", "arg", ...]}                       or
      {"lang": "sh"|"bash"|"python3", "code": "..."}       ("code_b64": base64)
    optional: "stdin" | "stdin_b64", "env" {NAME: value},
      "files" {relpath: text}, "files_b64" {relpath: base64},
      "limits" {"wall_ms", "cpu_ms", "memory_bytes", "processes",
                "output_bytes", "file_bytes": positive integers,
                "network": bool},
      "collect" [relpath, ...]
    Validation follows proto's rules (same limits, same path and env-name
    rules); every error names its field the way proto does: "argv",
    "argv[2]", "env[NAME]", "files[a/b]", "limits.wall_ms", "collect[0]".
    Unknown top-level or limits keys are errors (typos must not pass).
*/
#ifndef ORCH_TASK_JSON_H_INCLUDED
#define ORCH_TASK_JSON_H_INCLUDED

#include <jansson.h>

#include "orch.h"
#include "proto.h"
#include "stats.h"

/*  Deepest nesting of arrays and objects a request body may have. A task
    needs 2 ({"files": {...}}); jansson's own limit (2048 levels) is far
    beyond anything we accept, and its parser recurses once per level.    */
#define ORCH_JSON_DEPTH_MAX 32

/*  A task parsed from JSON. task points into root's strings and into the
    decoded buffers this struct owns.                                       */
typedef struct {
    proto_task_t task;                  /* the result (id NULL, attempt 0) */
    json_t *root;                       /* a reference to the parsed body */
    void **blocks;                      /* owned allocations */
    size_t block_count;
    size_t block_cap;
} orch_task_in_t;

/*  Parse and validate. Returns 0, or -1 with err (400, "bad_request",
    field) filled. Always call orch_task_in_free afterwards.                */
int orch_task_in_parse (orch_task_in_t *self, json_t *root, orch_err_t *err);
void orch_task_in_free (orch_task_in_t *self);

/*  0 when text nests arrays and objects at most max levels deep (strings
    are skipped, escapes honoured); -1 with *at the offset of the first
    bracket one level too deep. Linear, no recursion, no allocation.      */
int orch_json_depth_check (const char *text, size_t len, size_t max, size_t *at);

/*  A request body as JSON (flags for json_loadb): nesting checked first,
    then parsed. NULL with err (400 bad_request) and *why (the rejection
    to count: json_too_deep, invalid_utf8 or invalid_json) filled.          */
json_t *orch_json_body (const char *body, size_t len, size_t flags, orch_err_t *err,
                        orch_reject_t *why);

#endif
