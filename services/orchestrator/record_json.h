/*  record_json.h - a stored task as the JSON clients see.

    The schema is common/record_to_json.h (shared with `cleudo --json`);
    this adds only what the orchestrator knows beyond the wire record: the
    stored spec is decoded on demand, the summary was stored with the task,
    and whether usage was measured.
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
