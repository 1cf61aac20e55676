/*  cli_json.c - print task records as JSON (the shape is common's).       */
#include "cli_json.h"
#include "cli.h"
#include "record_to_json.h"

int
cli_json_print (FILE *out, const json_t *json)
{
    if (json_dumpf (json, out, JSON_COMPACT) || fputc ('\n', out) == EOF)
        return -1;
    return fflush (out) ? -1 : 0;
}

int
cli_json_print_record (FILE *out, const proto_record_t *record)
{
    /*  The wire has no "not measured" for usage: a finished task's numbers
        are shown as they came (the orchestrator measures every result).    */
    json_t *json = record_to_json (record, NULL);
    if (!json) {
        cli_error ("out of memory while rendering task %s as JSON", record->id ? record->id : "?");
        return -1;
    }
    int rc = cli_json_print (out, json);
    json_decref (json);
    if (rc)
        cli_error ("cannot write the JSON record to stdout");
    return rc;
}
