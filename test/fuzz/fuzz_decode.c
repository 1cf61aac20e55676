/*  fuzz_decode.c - libFuzzer target: proto_decode on every channel.

    Input: one byte choosing the channel (PROTO_CH_TASKS + byte % 5), then
    the frame. What must hold, whatever the bytes:
      - decoding never crashes, leaks or reads outside the frame;
      - a rejected frame leaves a clean proto_error_t: NUL-terminated,
        printable ASCII field and message (they are logged and sent back),
        a non-empty message, id empty or a valid task id;
      - an accepted frame has a type that belongs to its channel, encodes
        again (the encoder applies the decoder's rules, so anything the
        decoder lets in must be something we could have sent), and that
        encoding decodes on the same channel and encodes to the very same
        bytes (one canonical form);
      - what clients make of a decoded task or record (common/: the CLI's
        --json and listings) works for any accepted frame: task_summary ()
        is one line of valid UTF-8 without control characters,
        task_to_json () and record_to_json () (full and list form) succeed
        and serialize (jansson refuses invalid UTF-8: the json_text
        helpers must have repaired every string from the wire).
    A violation aborts with a message naming it; libFuzzer saves the input.
    FUZZ_VERBOSE=1 in the environment prints each verdict (to check seeds).
*/
#include "proto.h"
#include "record_to_json.h"
#include "task_summary.h"
#include "task_to_json.h"
#include "utf8.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static bool s_verbose;                  /* FUZZ_VERBOSE: print verdicts */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_verbose = getenv ("FUZZ_VERBOSE") != NULL;
    return 0;
}

static void
s_fail (const char *what, const proto_error_t *err)
{
    fprintf (stderr, "fuzz_decode: INVARIANT VIOLATED: %s", what);
    if (err)
        fprintf (stderr, " (field \"%s\": %s)", err->field, err->message);
    fprintf (stderr, "\n");
    abort ();
}

/*  NUL-terminated within size, every byte printable ASCII.                 */
static bool
s_clean_text (const char *text, size_t size)
{
    const char *end = memchr (text, '\0', size);
    if (!end)
        return false;
    for (const char *p = text; p < end; p++)
        if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
            return false;
    return true;
}

static void
s_check_error (const proto_error_t *err)
{
    if (!s_clean_text (err->field, sizeof err->field))
        s_fail ("error field is not clean printable ASCII", NULL);
    if (!s_clean_text (err->message, sizeof err->message))
        s_fail ("error message is not clean printable ASCII", NULL);
    if (err->message[0] == '\0')
        s_fail ("rejected frame without an error message", NULL);
    const char *end = memchr (err->id, '\0', sizeof err->id);
    if (!end)
        s_fail ("error id is not NUL-terminated", NULL);
    size_t id_len = (size_t) (end - err->id);
    if (id_len && !proto_valid_id (err->id, id_len))
        s_fail ("error id is not a valid task id", NULL);
}

/*  Each type's channel, written out again on purpose (PROTOCOL.md §2): the
    decoder's own proto_type_channel () cannot be the oracle that checks
    the decoder.                                                            */
static proto_channel_t
s_home (proto_type_t type)
{
    switch (type) {
        case PROTO_TASK:
            return PROTO_CH_TASKS;
        case PROTO_HELLO: case PROTO_HEARTBEAT: case PROTO_STARTED:
        case PROTO_OUTPUT: case PROTO_RESULT: case PROTO_BYE:
            return PROTO_CH_RESULTS;
        case PROTO_CANCEL: case PROTO_ACK:
            return PROTO_CH_CONTROL;
        case PROTO_REQ_SUBMIT: case PROTO_REQ_GET: case PROTO_REQ_WAIT:
        case PROTO_REQ_CANCEL: case PROTO_REQ_LIST: case PROTO_REQ_WORKERS:
        case PROTO_REQ_RERUN: case PROTO_REQ_STREAM:
            return PROTO_CH_SUBMIT;
        case PROTO_REP_ACCEPTED: case PROTO_REP_TASK: case PROTO_REP_TASKS:
        case PROTO_REP_WORKERS: case PROTO_REP_ERROR: case PROTO_REP_OUTPUT:
            return PROTO_CH_REPLY;
        default:
            return (proto_channel_t) 0;
    }
}

static void
s_check_json (json_t *json, const char *what)
{
    if (!json)
        s_fail (what, NULL);
    char *text = json_dumps (json, JSON_COMPACT);
    if (!text)
        s_fail ("client JSON does not serialize", NULL);
    free (text);
    json_decref (json);
}

static void
s_check_task (const proto_task_t *task)
{
    char *summary = task_summary (task);
    if (!summary)
        s_fail ("task_summary returned NULL", NULL);
    size_t len = strlen (summary);
    if (!utf8_valid (summary, len))
        s_fail ("task_summary is not valid UTF-8", NULL);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) summary[i] < 0x20 || summary[i] == 0x7f)
            s_fail ("task_summary holds a control character", NULL);
    free (summary);
    s_check_json (task_to_json (task), "task_to_json failed on a decoded task");
}

static void
s_check_record (const proto_record_t *record)
{
    s_check_task (&record->task);
    s_check_json (record_to_json (record, NULL), "record_to_json failed on a decoded record");
    record_json_opts_t opts = { .list_item = true, .no_usage = true };
    s_check_json (record_to_json (record, &opts),
                  "record_to_json (list item) failed on a decoded record");
}

/*  What the CLI and the API do with tasks and records.                     */
static void
s_check_clients (const proto_msg_t *msg)
{
    switch (msg->type) {
        case PROTO_TASK:        s_check_task (&msg->u.task); break;
        case PROTO_REQ_SUBMIT:  s_check_task (&msg->u.submit.task); break;
        case PROTO_REP_TASK:    s_check_record (&msg->u.record); break;
        case PROTO_REP_TASKS:
            for (size_t i = 0; i < msg->u.tasks.count; i++)
                s_check_record (&msg->u.tasks.items[i]);
            break;
        default: break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    proto_channel_t channel = (proto_channel_t) (PROTO_CH_TASKS + data[0] % 5);
    const uint8_t *frame = data + 1;
    size_t frame_size = size - 1;

    proto_error_t err;
    proto_msg_t *msg = proto_decode (channel, frame, frame_size, 0, &err);
    if (!msg) {
        if (s_verbose)
            fprintf (stderr, "fuzz_decode: rejected: field \"%s\": %s\n", err.field,
                     err.message);
        s_check_error (&err);
        return 0;
    }
    if (s_verbose)
        fprintf (stderr, "fuzz_decode: accepted: %s\n", proto_type_name (msg->type));
    if (s_home (msg->type) != channel)
        s_fail ("decoded a type that does not belong to the channel", NULL);

    uint8_t *first = NULL, *second = NULL;
    size_t first_size = 0, second_size = 0;
    if (proto_encode (msg, &first, &first_size))
        s_fail ("accepted frame does not encode again", NULL);
    proto_msg_t *again = proto_decode (channel, first, first_size, 0, &err);
    if (!again)
        s_fail ("re-encoded frame is rejected", &err);
    if (again->type != msg->type)
        s_fail ("re-encoded frame decodes to another type", NULL);
    if (proto_encode (again, &second, &second_size))
        s_fail ("second decode does not encode", NULL);
    if (first_size != second_size || memcmp (first, second, first_size) != 0)
        s_fail ("encode (decode (encode (decode (x)))) differs from encode (decode (x))",
                NULL);

    s_check_clients (msg);

    free (first);
    free (second);
    proto_msg_destroy (&again);
    proto_msg_destroy (&msg);
    if (msg || again)
        s_fail ("proto_msg_destroy did not null the pointer", NULL);
    return 0;
}
