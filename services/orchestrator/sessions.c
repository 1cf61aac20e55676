/*  sessions.c - in-memory dashboard sessions with CSRF tokens.            */
#include "sessions.h"
#include "b64.h"
#include "orch.h"
#include "token.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char sid[ORCH_SESSION_ID_LEN + 1];
    char csrf[ORCH_SESSION_ID_LEN + 1];
    int64_t created_ms;
    int64_t expires_ms;                 /* 0: slot free */
} session_t;

struct orch_sessions_t {
    session_t *items;
    size_t max;
};

orch_sessions_t *
orch_sessions_new (size_t max)
{
    orch_sessions_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->items = calloc (max ? max : 1, sizeof *self->items);
    if (!self->items) {
        free (self);
        return NULL;
    }
    self->max = max ? max : 1;
    return self;
}

void
orch_sessions_destroy (orch_sessions_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    /*  Ids are secrets: do not leave them in freed memory.                */
    explicit_bzero ((*self_p)->items, (*self_p)->max * sizeof *(*self_p)->items);
    free ((*self_p)->items);
    free (*self_p);
    *self_p = NULL;
}

/*  43 characters of base64url from 32 random bytes.                        */
static void
s_random_id (char *out)
{
    uint8_t raw[32];
    orch_random (raw, sizeof raw);
    char text[64];
    size_t len = b64_encode (raw, sizeof raw, text, true);
    memcpy (out, text, len < ORCH_SESSION_ID_LEN ? len : ORCH_SESSION_ID_LEN);
    out[ORCH_SESSION_ID_LEN] = '\0';
    explicit_bzero (raw, sizeof raw);
}

int
orch_sessions_create (orch_sessions_t *self, int64_t now_ms, char *sid, char *csrf,
                      int64_t *expires_ms)
{
    /*  A free or expired slot, else the oldest session.                    */
    session_t *slot = &self->items[0];
    for (size_t i = 0; i < self->max; i++) {
        session_t *s = &self->items[i];
        if (s->expires_ms <= now_ms) {
            slot = s;
            break;
        }
        if (s->created_ms < slot->created_ms)
            slot = s;
    }
    s_random_id (slot->sid);
    s_random_id (slot->csrf);
    slot->created_ms = now_ms;
    slot->expires_ms = now_ms + ORCH_SESSION_TTL_MS;
    memcpy (sid, slot->sid, ORCH_SESSION_ID_LEN + 1);
    memcpy (csrf, slot->csrf, ORCH_SESSION_ID_LEN + 1);
    *expires_ms = slot->expires_ms;
    return 0;
}

static session_t *
s_find (orch_sessions_t *self, const char *sid, int64_t now_ms)
{
    size_t len = sid ? strlen (sid) : 0;
    if (len != ORCH_SESSION_ID_LEN)
        return NULL;
    session_t *found = NULL;
    /*  Compare with every live session, in constant time each.            */
    for (size_t i = 0; i < self->max; i++) {
        session_t *s = &self->items[i];
        if (s->expires_ms > now_ms
            && orch_token_equal (sid, len, s->sid, ORCH_SESSION_ID_LEN))
            found = s;
    }
    return found;
}

const char *
orch_sessions_find (orch_sessions_t *self, const char *sid, int64_t now_ms,
                    int64_t *expires_ms)
{
    session_t *s = s_find (self, sid, now_ms);
    if (!s)
        return NULL;
    *expires_ms = s->expires_ms;
    return s->csrf;
}

bool
orch_sessions_remove (orch_sessions_t *self, const char *sid)
{
    session_t *s = s_find (self, sid, INT64_MIN);
    if (!s)
        return false;
    explicit_bzero (s, sizeof *s);
    return true;
}

bool
orch_sessions_csrf_ok (const char *expected, const char *given)
{
    if (!expected || !given)
        return false;
    return orch_token_equal (given, strlen (given), expected, strlen (expected));
}

size_t
orch_sessions_count (const orch_sessions_t *self)
{
    size_t n = 0;
    int64_t now = orch_now_ms ();
    for (size_t i = 0; i < self->max; i++)
        n += self->items[i].expires_ms > now;
    return n;
}
