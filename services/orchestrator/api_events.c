/*  api_events.c - SSE of changes and of a task's live output.             */
#include "api_events.h"
#include "b64.h"
#include "events.h"
#include "live.h"
#include "record_json.h"
#include "store.h"
#include "utf8.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PULL_MAX (256 * 1024)           /* bytes produced per pull */
#define CHUNK_MAX (16 * 1024)           /* output bytes per SSE event */

/* --- /api/events ----------------------------------------------------------- */

typedef struct {
    orch_t *orch;
    orch_stream_t *stream;
    orch_events_sub_t *sub;
    uint64_t cursor;                    /* last id sent */
} events_client_t;

static int
s_events_pull (void *arg, orch_stream_t *stream)
{
    events_client_t *self = arg;
    size_t produced = 0;
    while (produced < PULL_MAX) {
        uint64_t id;
        const char *name, *data;
        int rc = orch_events_next (self->orch->events, self->cursor, &id, &name, &data);
        if (rc == 0)
            break;
        if (rc < 0) {
            /*  Missed events: the client must reload what it shows.       */
            self->cursor = orch_events_last (self->orch->events);
            orch_stream_printf (stream, "id: %llu\nevent: reset\ndata: {}\n\n",
                                (unsigned long long) self->cursor);
            break;
        }
        self->cursor = id;
        produced += strlen (data) + 48;
        orch_stream_printf (stream, "id: %llu\nevent: %s\ndata: %s\n\n",
                            (unsigned long long) id, name, data);
    }
    return 0;
}

static void
s_events_wake (void *arg)
{
    events_client_t *self = arg;
    if (self->stream)
        orch_stream_wake (self->stream);
}

static void
s_events_free (void *arg)
{
    events_client_t *self = arg;
    orch_events_unsubscribe (self->orch->events, &self->sub);
    free (self);
}

/*  Where to resume: 1 with *id, 0 not asked, -1 after answering 400.      */
static int
s_last_event_id (orch_req_t *req, uint64_t *id)
{
    const char *value = orch_req_header (req, "Last-Event-ID");
    const char *field = "Last-Event-ID";
    if (!value && orch_req_arg (req, "last_event_id", &value))
        field = "last_event_id";
    if (!value && strcmp (field, "last_event_id") != 0)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long n = value && isdigit ((unsigned char) *value)
                         ? strtoull (value, &end, 10) : 0;
    if (!end || *end || errno) {
        orch_req_fail (req, 400, "bad_request", field, "must be the id of an event this"
                       " stream sent");
        return -1;
    }
    *id = n;
    return 1;
}

void
orch_api_events (orch_req_t *req)
{
    orch_t *orch = orch_req_orch (req);
    uint64_t cursor = orch_events_last (orch->events);
    if (s_last_event_id (req, &cursor) < 0)
        return;
    events_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        orch_req_fail (req, 500, "internal", NULL, "out of memory");
        return;
    }
    self->orch = orch;
    self->cursor = cursor;
    self->sub = orch_events_subscribe (orch->events, s_events_wake, self);
    if (!self->sub) {
        free (self);
        orch_req_fail (req, 500, "internal", NULL, "out of memory");
        return;
    }
    orch_stream_t *stream = orch_req_stream (req, s_events_pull, s_events_free, self);
    if (!stream) {
        orch_req_fail (req, 500, "internal", NULL, "cannot start the event stream");
        return;
    }
    self->stream = stream;
    /*  Reconnect after 2 s, not the browser default of 3-5 s.             */
    orch_stream_printf (stream, "retry: 2000\n\n");
}

/* --- /api/tasks/{id}/stream ---------------------------------------------- */

typedef struct {
    orch_t *orch;
    orch_stream_t *stream;
    orch_live_watch_t *watch;
    char id[PROTO_ID_MAX + 1];
    uint32_t attempt;                   /* of the offsets; 0: none yet */
    uint64_t offset[2];                 /* stdout, stderr bytes sent */
} task_client_t;

/*  One "stdout"/"stderr" event per CHUNK_MAX bytes of data[from..len).     */
static void
s_chunks (task_client_t *self, int s, const uint8_t *data, size_t len)
{
    const char *name = s ? "stderr" : "stdout";
    while (self->offset[s] < len) {
        size_t n = len - self->offset[s];
        if (n > CHUNK_MAX)
            n = utf8_cut ((const char *) data + self->offset[s], CHUNK_MAX);
        if (n == 0)
            n = CHUNK_MAX;
        const uint8_t *p = data + self->offset[s];
        json_t *obj = json_object ();
        json_object_set_new (obj, "offset", json_integer ((json_int_t) self->offset[s]));
        size_t text_len;
        char *text = utf8_lossy ((const char *) p, n, &text_len);
        json_object_set_new (obj, "data", text ? json_stringn (text, text_len) : json_string (""));
        free (text);
        if (!utf8_valid ((const char *) p, n)) {
            char *b64 = b64_encode_new (p, n, NULL);
            json_object_set_new (obj, "data_b64", b64 ? json_string (b64) : json_null ());
            free (b64);
        }
        char *json = json_dumps (obj, JSON_COMPACT);
        json_decref (obj);
        if (json)
            orch_stream_printf (self->stream, "event: %s\ndata: %s\n\n", name, json);
        free (json);
        self->offset[s] += n;
    }
}

/*  A different attempt than the offsets were for: output starts over.     */
static void
s_attempt (task_client_t *self, uint32_t attempt)
{
    if (self->attempt == attempt)
        return;
    if (self->attempt && (self->offset[0] || self->offset[1]))
        orch_stream_printf (self->stream, "event: restart\ndata: {\"attempt\":%u}\n\n", attempt);
    self->attempt = attempt;
    self->offset[0] = self->offset[1] = 0;
}

/*  The task is terminal: the rest of its output, the result, the end.     */
static int
s_finish (task_client_t *self, orch_record_t *rec)
{
    s_attempt (self, rec->view.attempt);
    const proto_result_t *r = &rec->view.result;
    s_chunks (self, 0, r->stdout_data.data, r->stdout_data.size);
    s_chunks (self, 1, r->stderr_data.data, r->stderr_data.size);
    json_t *summary = orch_record_to_json (rec, false);
    char *json = summary ? json_dumps (summary, JSON_COMPACT) : NULL;
    json_decref (summary);
    orch_stream_printf (self->stream, "event: result\ndata: %s\n\n", json ? json : "{}");
    free (json);
    return -1;
}

static int
s_task_pull (void *arg, orch_stream_t *stream)
{
    (void) stream;
    task_client_t *self = arg;
    uint32_t attempt;
    const uint8_t *out, *err;
    size_t out_len, err_len;
    if (orch_live_peek (self->orch->live, self->id, &attempt, &out, &out_len, &err, &err_len)) {
        s_attempt (self, attempt);
        s_chunks (self, 0, out, out_len);
        s_chunks (self, 1, err, err_len);
        return 0;
    }
    proto_status_t status;
    if (orch_store_state (self->orch->store, self->id, &status, &attempt) != 1)
        return -1;                      /* pruned meanwhile */
    if (!proto_status_is_terminal (status))
        return 0;                       /* no output yet: wait */
    orch_record_t *rec = NULL;
    if (orch_store_get (self->orch->store, self->id, true, &rec) != 1)
        return -1;
    int rc = s_finish (self, rec);
    orch_record_destroy (&rec);
    return rc;
}

static void
s_task_wake (void *arg)
{
    task_client_t *self = arg;
    if (self->stream)
        orch_stream_wake (self->stream);
}

static void
s_task_free (void *arg)
{
    task_client_t *self = arg;
    orch_live_unwatch (self->orch->live, &self->watch);
    free (self);
}

void
orch_api_task_stream (orch_req_t *req, const char *id)
{
    orch_t *orch = orch_req_orch (req);
    proto_status_t status;
    uint32_t attempt;
    int found = orch_store_state (orch->store, id, &status, &attempt);
    if (found <= 0) {
        if (found == 0)
            orch_req_fail (req, 404, "not_found", NULL, "no task with id %s", id);
        else
            orch_req_fail (req, 500, "internal", NULL, "cannot read task %s", id);
        return;
    }
    task_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        orch_req_fail (req, 500, "internal", NULL, "out of memory");
        return;
    }
    self->orch = orch;
    snprintf (self->id, sizeof self->id, "%s", id);
    self->watch = orch_live_watch (orch->live, id, s_task_wake, self);
    if (!self->watch) {
        s_task_free (self);
        orch_req_fail (req, 500, "internal", NULL, "out of memory");
        return;
    }
    orch_stream_t *stream = orch_req_stream (req, s_task_pull, s_task_free, self);
    if (!stream)
        orch_req_fail (req, 500, "internal", NULL, "cannot start the output stream");
    else
        self->stream = stream;
}
