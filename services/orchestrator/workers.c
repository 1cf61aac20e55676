/*  workers.c - worker table, free-slot bookkeeping, silence detection.    */
#include "workers.h"
#include "log.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/*  Heartbeats a worker may send at once, and one more every HB_REFILL_MS.
    A real worker sends one per SANDBOX_HEARTBEAT (50 ms at the least) and
    a few more on events; beyond that it is a flood, and the surplus is
    ignored (the next heartbeat in time carries the same kind of state).  */
#define HB_BURST 10
#define HB_REFILL_MS 20

typedef struct {
    char id[PROTO_NAME_MAX + 1];        /* worker id, unique per process */
    uint32_t slots;                     /* tasks it runs at once */
    int64_t free;                       /* its current credit */
    char version[PROTO_NAME_MAX + 1];   /* build it reported */
    proto_layer_t *isolation;           /* owned copies (names owned) */
    size_t isolation_count;
    int64_t joined_ms;                  /* Unix ms of first frame */
    int64_t last_seen_ms;               /* Unix ms of last frame */
    int64_t last_seen_mono;             /* monotonic ms of last frame */
    uint64_t tasks_done;                /* results recorded from it */
    char **running;                     /* owned task ids running on it */
    size_t running_count;
    size_t running_cap;
    int64_t hb_tokens;                  /* heartbeats it may send now */
    int64_t hb_refilled;                /* monotonic ms of the last refill */
} s_worker_t;

struct orch_workers_t {
    zhashx_t *table;                    /* id -> s_worker_t */
    size_t max;                         /* table size bound */
};

static void
s_clear_running (s_worker_t *w)
{
    for (size_t i = 0; i < w->running_count; i++)
        free (w->running[i]);
    w->running_count = 0;
}

static void
s_clear_isolation (s_worker_t *w)
{
    for (size_t i = 0; i < w->isolation_count; i++)
        free ((char *) w->isolation[i].name);
    free (w->isolation);
    w->isolation = NULL;
    w->isolation_count = 0;
}

static void
s_worker_destroy (void **item)
{
    s_worker_t *w = *item;
    if (!w)
        return;
    s_clear_running (w);
    free (w->running);
    s_clear_isolation (w);
    free (w);
    *item = NULL;
}

orch_workers_t *
orch_workers_new (size_t max_workers)
{
    orch_workers_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->table = zhashx_new ();
    if (!self->table) {
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->table, s_worker_destroy);
    self->max = max_workers;
    return self;
}

void
orch_workers_destroy (orch_workers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->table);
    free (*self_p);
    *self_p = NULL;
}

static bool
s_running_has (const s_worker_t *w, const char *id, size_t *at)
{
    for (size_t i = 0; i < w->running_count; i++)
        if (strcmp (w->running[i], id) == 0) {
            if (at)
                *at = i;
            return true;
        }
    return false;
}

static int
s_running_add (s_worker_t *w, const char *id)
{
    if (s_running_has (w, id, NULL))
        return 0;
    if (w->running_count == w->running_cap) {
        size_t cap = w->running_cap ? w->running_cap * 2 : 8;
        char **grown = realloc (w->running, cap * sizeof *grown);
        if (!grown)
            return -1;
        w->running = grown;
        w->running_cap = cap;
    }
    char *copy = strdup (id);
    if (!copy)
        return -1;
    w->running[w->running_count++] = copy;
    return 0;
}

static bool
s_running_remove (s_worker_t *w, const char *id)
{
    size_t at;
    if (!s_running_has (w, id, &at))
        return false;
    free (w->running[at]);
    w->running[at] = w->running[--w->running_count];
    return true;
}

/*  Find or make the entry for id: *joined says it is new. NULL when the
    table is full or memory is out.                                         */
static s_worker_t *
s_touch (orch_workers_t *self, const char *id, int64_t now_ms, int64_t mono, bool *joined)
{
    s_worker_t *w = zhashx_lookup (self->table, id);
    *joined = false;
    if (!w) {
        if (zhashx_size (self->table) >= self->max)
            return NULL;
        w = calloc (1, sizeof *w);
        if (!w)
            return NULL;
        snprintf (w->id, sizeof w->id, "%s", id);
        snprintf (w->version, sizeof w->version, "unknown");
        w->joined_ms = now_ms;
        w->hb_tokens = HB_BURST;
        w->hb_refilled = mono;
        zhashx_insert (self->table, w->id, w);
        *joined = true;
    }
    w->last_seen_ms = now_ms;
    w->last_seen_mono = mono;
    return w;
}

int
orch_workers_hello (orch_workers_t *self, const proto_hello_t *hello, int64_t now_ms,
                    int64_t mono)
{
    bool joined;
    s_worker_t *w = s_touch (self, hello->worker, now_ms, mono, &joined);
    if (!w)
        return -1;
    w->slots = hello->slots;
    /*  A hello after a reconnect: the tasks we know to run there still
        hold their slots until a heartbeat says otherwise.                 */
    w->free = (int64_t) hello->slots - (int64_t) w->running_count;
    snprintf (w->version, sizeof w->version, "%s", hello->version ? hello->version : "");
    s_clear_isolation (w);
    if (hello->isolation_count) {
        w->isolation = calloc (hello->isolation_count, sizeof *w->isolation);
        if (w->isolation) {
            for (size_t i = 0; i < hello->isolation_count; i++) {
                w->isolation[i] = hello->isolation[i];
                w->isolation[i].name = strdup (hello->isolation[i].name);
                if (!w->isolation[i].name)
                    break;
                w->isolation_count++;
            }
        }
    }
    return joined ? 1 : 0;
}

bool
orch_workers_heartbeat_allowed (orch_workers_t *self, const char *worker, int64_t mono)
{
    s_worker_t *w = zhashx_lookup (self->table, worker);
    if (!w)
        return true;                    /* joins (or the table refuses it) */
    int64_t gained = (mono - w->hb_refilled) / HB_REFILL_MS;
    if (gained > 0) {
        w->hb_tokens = w->hb_tokens + gained > HB_BURST ? HB_BURST : w->hb_tokens + gained;
        w->hb_refilled += gained * HB_REFILL_MS;
    }
    if (w->hb_tokens <= 0)
        return false;
    w->hb_tokens--;
    return true;
}

int
orch_workers_heartbeat (orch_workers_t *self, const proto_heartbeat_t *hb, int64_t now_ms,
                        int64_t mono)
{
    bool joined;
    s_worker_t *w = s_touch (self, hb->worker, now_ms, mono, &joined);
    if (!w)
        return -1;
    s_clear_running (w);
    for (size_t i = 0; i < hb->running_count; i++)
        s_running_add (w, hb->running[i]);
    if (joined)                         /* no hello seen (we restarted) */
        w->slots = hb->free + (uint32_t) hb->running_count;
    w->free = hb->free;
    return joined ? 1 : 0;
}

bool
orch_workers_started (orch_workers_t *self, const char *worker, const char *id,
                      int64_t now_ms, int64_t mono)
{
    s_worker_t *w = zhashx_lookup (self->table, worker);
    if (!w)
        return false;
    w->last_seen_ms = now_ms;
    w->last_seen_mono = mono;
    if (!s_running_has (w, id, NULL)) {
        s_running_add (w, id);
        w->free--;
    }
    return true;
}

bool
orch_workers_finished (orch_workers_t *self, const char *worker, const char *id,
                       bool applied, int64_t now_ms, int64_t mono)
{
    s_worker_t *w = zhashx_lookup (self->table, worker);
    if (!w)
        return false;
    w->last_seen_ms = now_ms;
    w->last_seen_mono = mono;
    if (applied)
        w->tasks_done++;
    if (s_running_remove (w, id)) {
        w->free++;
        return true;
    }
    return false;
}

bool
orch_workers_known (const orch_workers_t *self, const char *worker)
{
    return zhashx_lookup (self->table, worker) != NULL;
}

bool
orch_workers_forget (orch_workers_t *self, const char *worker)
{
    if (!zhashx_lookup (self->table, worker))
        return false;
    zhashx_delete (self->table, worker);
    return true;
}

int64_t
orch_workers_free (const orch_workers_t *self)
{
    int64_t sum = 0;
    zhashx_t *table = self->table;
    for (s_worker_t *w = zhashx_first (table); w; w = zhashx_next (table))
        sum += w->free;
    return sum;
}

size_t
orch_workers_count (const orch_workers_t *self)
{
    return zhashx_size (self->table);
}

size_t
orch_workers_expire (orch_workers_t *self, int64_t mono, int64_t timeout_ms,
                     orch_worker_dead_fn *fn, void *arg)
{
    /*  Collect first: deleting while iterating a zhashx is not allowed.   */
    size_t dead = 0;
    zlistx_t *gone = NULL;
    for (s_worker_t *w = zhashx_first (self->table); w; w = zhashx_next (self->table)) {
        if (mono - w->last_seen_mono <= timeout_ms)
            continue;
        if (!gone && !(gone = zlistx_new ()))
            return 0;
        zlistx_add_end (gone, w);
    }
    if (!gone)
        return 0;
    for (s_worker_t *w = zlistx_first (gone); w; w = zlistx_next (gone)) {
        if (fn) {
            orch_dead_worker_t info = {
                .worker = w->id,
                .silent_ms = mono - w->last_seen_mono,
                .running = (const char *const *) w->running,
                .running_count = w->running_count,
                .tasks_done = w->tasks_done,
            };
            fn (arg, &info);
        }
        char id[PROTO_NAME_MAX + 1];
        snprintf (id, sizeof id, "%s", w->id);
        zhashx_delete (self->table, id);
        dead++;
    }
    zlistx_destroy (&gone);
    return dead;
}

int
orch_workers_list (orch_workers_t *self, proto_worker_info_t **items, size_t *count)
{
    size_t n = zhashx_size (self->table);
    *count = 0;
    *items = calloc (n ? n : 1, sizeof **items);
    if (!*items)
        return -1;
    for (s_worker_t *w = zhashx_first (self->table); w; w = zhashx_next (self->table)) {
        proto_worker_info_t *info = &(*items)[(*count)++];
        info->worker = w->id;
        /*  The wire allows 1..1024 slots and free <= 1024; a worker known
            only from a heartbeat of a full machine may say 0.              */
        info->slots = w->slots < 1 ? 1 : w->slots > 1024 ? 1024 : w->slots;
        info->free = w->free < 0 ? 0
                   : w->free > (int64_t) info->slots ? info->slots : (uint32_t) w->free;
        info->version = w->version;
        info->last_seen_ms = w->last_seen_ms;
        info->tasks_done = w->tasks_done;
        info->isolation = w->isolation;
        info->isolation_count = w->isolation_count;
        info->running = (const char **) w->running;
        info->running_count = w->running_count;
    }
    return 0;
}

size_t
orch_workers_running (orch_workers_t *self, const char *worker, const char *const **ids)
{
    s_worker_t *w = zhashx_lookup (self->table, worker);
    *ids = w ? (const char *const *) w->running : NULL;
    return w ? w->running_count : 0;
}

uint64_t
orch_workers_slots (const orch_workers_t *self)
{
    uint64_t slots = 0;
    zhashx_t *table = self->table;
    for (s_worker_t *w = zhashx_first (table); w; w = zhashx_next (table))
        slots += w->slots;
    return slots;
}
