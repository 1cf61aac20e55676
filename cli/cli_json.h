/*  cli_json.h - the task record as JSON, in the HTTP API's shape.

    {"id","status","attempt","worker","created_ms","dispatched_ms",
     "started_ms","finished_ms","task":{...},"exit_code","signal",
     "stdout","stderr",["stdout_b64","stderr_b64"],"stdout_truncated",
     "stderr_truncated","wall_ms","cpu_ms","max_rss_kb","error",
     "files":{name:text},"files_b64":{name:b64},"file_refs":[...]}

    null where not reached: a timestamp of 0, no worker yet, and every
    result field while the task is not terminal. Byte fields follow
    cli_text.h: text, or lossy text plus an exact "_b64" twin (present only
    then). In "files" every collected file appears as (lossy) text; the
    ones that are not text also appear in "files_b64".

    "task" is what was asked, in the shape of a POST /api/tasks body, so it
    can be submitted again: argv or lang+code, stdin, env, files,
    collect, limits; only the fields given. There a byte field is either
    text or its "_b64" form, never both.
*/
#ifndef CLI_JSON_H_INCLUDED
#define CLI_JSON_H_INCLUDED

#include "proto.h"

#include <jansson.h>
#include <stdio.h>

/*  New JSON objects, NULL when out of memory.                              */
json_t *cli_json_record (const proto_record_t *record);
json_t *cli_json_task (const proto_task_t *task);

/*  Print json as one line plus a newline; 0 or -1.                         */
int cli_json_print (FILE *out, const json_t *json);

/*  cli_json_record () then cli_json_print (); 0, or -1 (message printed).  */
int cli_json_print_record (FILE *out, const proto_record_t *record);

#endif
