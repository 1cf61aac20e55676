/*  store_checkpoint.c - WAL checkpoints on a thread of their own.

    With journal_mode=WAL and synchronous=NORMAL a commit only appends to
    the WAL; the fsyncs happen when the WAL is copied back into the
    database (a checkpoint). SQLite's automatic checkpoint runs inside
    whichever COMMIT pushes the WAL over 1000 pages: in the event loop, so
    every ~45 tasks all clients waited for an fdatasync (~4 ms here; it was
    the p99 of `make bench`). So the loop's connection never checkpoints
    (wal_autocheckpoint=0), and this thread does, PASSIVE (never blocking
    the writer), with its own connection, whenever the WAL has grown.

    A PASSIVE checkpoint never empties a WAL that is written to all the
    time: the writer restarts the log only when every frame was copied
    before its transaction began, and under load new frames keep arriving
    (measured: 330 MB of WAL after 40,000 tasks). So once the log passes
    RESET_FRAMES the thread asks for a RESTART checkpoint: it waits for
    the current transaction, copies the few frames PASSIVE left, and makes
    the next writer start the log from its beginning again, holding the
    writer back for that short moment (the loop's busy handler waits)
    about once per RESET_FRAMES pages of writes. RESTART, not TRUNCATE:
    the file keeps its blocks and cached pages, so the next 32 MiB of
    commits overwrite them instead of allocating them again (ext4 block
    allocation was a fifth of the loop's pwrite time; `make bench`: the
    orchestrator's CPU per task went down by ~8%). journal_size_limit
    (store.c) still bounds the file.
*/
#include "store_internal.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECKPOINT_EVERY_MS 200
#define RESET_FRAMES 8192               /* 32 MiB of WAL at 4 KiB pages */

struct store_checkpointer_t {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    sqlite3 *db;                        /* this thread's connection */
    uint64_t runs;                      /* checkpoints that copied frames */
    int last_frames;                    /* WAL state after the last one */
    int last_copied;
};

static void *
s_run (void *arg)
{
    store_checkpointer_t *self = arg;
    pthread_mutex_lock (&self->lock);
    while (!self->stop) {
        struct timespec until;
        clock_gettime (CLOCK_REALTIME, &until);
        until.tv_nsec += CHECKPOINT_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait (&self->wake, &self->lock, &until);
        if (self->stop)
            break;
        pthread_mutex_unlock (&self->lock);
        int frames = 0, copied = 0;
        int rc = sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &frames,
                                            &copied);
        if (rc == SQLITE_OK && frames > RESET_FRAMES)
            rc = sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_RESTART, &frames,
                                            &copied);
        pthread_mutex_lock (&self->lock);
        /*  The WAL keeps its frames until the next write restarts it: only
            count a checkpoint that found something new.                    */
        if (rc == SQLITE_OK && copied > 0
            && (frames != self->last_frames || copied != self->last_copied))
            self->runs++;
        self->last_frames = frames;
        self->last_copied = copied;
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

store_checkpointer_t *
store_checkpointer_new (const char *path, char *err, size_t err_size)
{
    store_checkpointer_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, err_size, "out of memory");
        return NULL;
    }
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
    if (sqlite3_open_v2 (path, &self->db, flags, NULL) != SQLITE_OK) {
        snprintf (err, err_size, "cannot open %s for checkpoints: %s", path,
                  self->db ? sqlite3_errmsg (self->db) : "out of memory");
        sqlite3_close (self->db);
        free (self);
        return NULL;
    }
    sqlite3_busy_timeout (self->db, 1000);
    /*  A connection opens its file lazily: until it has read the schema
        it does not know the database is in WAL mode, and a checkpoint is
        a silent no-op (frames = -1).                                      */
    if (sqlite3_exec (self->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL)
        != SQLITE_OK) {
        snprintf (err, err_size, "cannot read %s for checkpoints: %s", path,
                  sqlite3_errmsg (self->db));
        sqlite3_close (self->db);
        free (self);
        return NULL;
    }
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    int rc = pthread_create (&self->thread, NULL, s_run, self);
    if (rc) {
        snprintf (err, err_size, "cannot start the checkpoint thread: %s", strerror (rc));
        pthread_cond_destroy (&self->wake);
        pthread_mutex_destroy (&self->lock);
        sqlite3_close (self->db);
        free (self);
        return NULL;
    }
    return self;
}

void
store_checkpointer_destroy (store_checkpointer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_checkpointer_t *self = *self_p;
    pthread_mutex_lock (&self->lock);
    self->stop = true;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);
    /*  Leave a short WAL behind: the next start reads less.               */
    sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    sqlite3_close (self->db);
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

uint64_t
store_checkpointer_runs (store_checkpointer_t *self)
{
    pthread_mutex_lock (&self->lock);
    uint64_t runs = self->runs;
    pthread_mutex_unlock (&self->lock);
    return runs;
}
