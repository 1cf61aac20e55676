/*  record_json.c - orch_record_t -> JSON via the common record schema.    */
#include "record_json.h"
#include "record_to_json.h"

json_t *
orch_record_to_json (orch_record_t *rec, bool full)
{
    if (full && orch_record_decode_spec (rec))
        return NULL;
    record_json_opts_t opts = {
        .list_item = !full,
        .no_usage = !rec->has_usage,
        /*  List items come without the spec: use the stored summary.       */
        .summary = rec->summary ? rec->summary : "",
    };
    return record_to_json (&rec->view, &opts);
}
