/*  cli_json.h - `--json`: print the task record, one line.

    The record's JSON is the HTTP API's, built by the same code
    (common/record_to_json.h), so `cleudo get --json ID` and
    GET /api/tasks/ID agree key for key. Only what cannot cross the wire
    may differ: when a record is too big for one frame the orchestrator
    leaves the task's stdin and files and the collected file contents out.
*/
#ifndef CLI_JSON_H_INCLUDED
#define CLI_JSON_H_INCLUDED

#include "proto.h"

#include <jansson.h>
#include <stdio.h>

/*  Print json as one line plus a newline; 0 or -1.                         */
int cli_json_print (FILE *out, const json_t *json);

/*  The full record as JSON, printed with cli_json_print (); 0, or -1
    (message printed).                                                      */
int cli_json_print_record (FILE *out, const proto_record_t *record);

#endif
