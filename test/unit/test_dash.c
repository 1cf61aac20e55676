/*  test_dash.c - what the dashboard and the API read: the event history,
    statistics, sessions, live output buffers, filtered listings and the
    store's change listener (orchestrator modules, no sockets).           */
#include "events.h"
#include "live.h"
#include "sessions.h"
#include "stats.h"
#include "store.h"
#include "strbuf.h"
#include "testutil.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- events ------------------------------------------------------------------ */

static int s_woken;

static void
s_wake (void *arg)
{
    (void) arg;
    s_woken++;
}

START_TEST (events_resume_and_gaps)
{
    orch_events_t *ev = orch_events_new (4, 1000);
    ck_assert_uint_eq (orch_events_last (ev), 999);
    orch_events_sub_t *sub = orch_events_subscribe (ev, s_wake, NULL);
    s_woken = 0;
    for (int i = 0; i < 3; i++) {
        json_t *data = json_pack ("{s:i}", "n", i);
        ck_assert_uint_eq (orch_events_publish (ev, "task", data), 1000 + (uint64_t) i);
    }
    ck_assert_int_eq (s_woken, 3);
    uint64_t id;
    const char *name, *data;
    /*  From the start, each in order; nothing after the newest.           */
    ck_assert_int_eq (orch_events_next (ev, 999, &id, &name, &data), 1);
    ck_assert_uint_eq (id, 1000);
    ck_assert_str_eq (name, "task");
    ck_assert_str_eq (data, "{\"n\":0}");
    ck_assert_int_eq (orch_events_next (ev, 1001, &id, &name, &data), 1);
    ck_assert_str_eq (data, "{\"n\":2}");
    ck_assert_int_eq (orch_events_next (ev, 1002, &id, &name, &data), 0);
    /*  From another run (newer, or older than the first id): a gap.       */
    ck_assert_int_eq (orch_events_next (ev, 5000, &id, &name, &data), -1);
    ck_assert_int_eq (orch_events_next (ev, 10, &id, &name, &data), -1);
    /*  The ring keeps 4: after 3 more, 1000..1001 are gone.               */
    for (int i = 3; i < 6; i++)
        orch_events_publish (ev, "worker", json_pack ("{s:i}", "n", i));
    ck_assert_int_eq (orch_events_next (ev, 999, &id, &name, &data), -1);
    ck_assert_int_eq (orch_events_next (ev, 1000, &id, &name, &data), -1);
    ck_assert_int_eq (orch_events_next (ev, 1001, &id, &name, &data), 1);
    ck_assert_uint_eq (id, 1002);
    orch_events_unsubscribe (ev, &sub);
    ck_assert_ptr_null (sub);
    ck_assert_uint_eq (orch_events_subscribers (ev), 0);
    orch_events_destroy (&ev);
}
END_TEST

/* --- stats ------------------------------------------------------------------- */

START_TEST (stats_buckets_percentiles_histograms)
{
    orch_stats_t *st = orch_stats_new ();
    int64_t now = 1800000000000LL;
    for (int i = 1; i <= 100; i++) {
        orch_stats_accepted (st, now);
        orch_stats_finished (st, now);
        orch_stats_latency (st, ORCH_HIST_TOTAL, now, i);
    }
    orch_stats_queue_depth (st, now, 7);
    orch_stats_queue_depth (st, now, 3);
    /*  An hour ago: outside the window of buckets and percentiles.        */
    orch_stats_latency (st, ORCH_HIST_TOTAL, now - 2 * 3600 * 1000, 99999);
    orch_stats_http (st, 200);
    orch_stats_http (st, 404);
    orch_stats_http (st, 404);
    json_t *obj = json_object ();
    orch_stats_to_json (st, now, obj);
    json_t *buckets = json_object_get (obj, "buckets");
    ck_assert_uint_eq (json_array_size (buckets), ORCH_STATS_BUCKETS);
    json_t *last = json_array_get (buckets, ORCH_STATS_BUCKETS - 1);
    ck_assert_int_eq (json_integer_value (json_object_get (last, "accepted")), 100);
    ck_assert_int_eq (json_integer_value (json_object_get (last, "finished")), 100);
    ck_assert_int_eq (json_integer_value (json_object_get (last, "queue_depth")), 7);
    ck_assert_int_eq (json_integer_value (json_object_get (json_array_get (buckets, 0),
                                                           "accepted")), 0);
    json_t *lat = json_object_get (obj, "latency_ms");
    ck_assert_int_eq (json_integer_value (json_object_get (lat, "count")), 100);
    ck_assert_int_eq (json_integer_value (json_object_get (lat, "p50")), 50);
    ck_assert_int_eq (json_integer_value (json_object_get (lat, "p90")), 90);
    ck_assert_int_eq (json_integer_value (json_object_get (lat, "p99")), 99);
    ck_assert_int_eq (json_integer_value (json_object_get (lat, "max")), 100);
    json_decref (obj);
    /*  A minute later the old bucket moved one to the left.               */
    obj = json_object ();
    orch_stats_to_json (st, now + ORCH_STATS_BUCKET_MS, obj);
    buckets = json_object_get (obj, "buckets");
    ck_assert_int_eq (json_integer_value (json_object_get (
        json_array_get (buckets, ORCH_STATS_BUCKETS - 2), "accepted")), 100);
    ck_assert_int_eq (json_integer_value (json_object_get (
        json_array_get (buckets, ORCH_STATS_BUCKETS - 1), "accepted")), 0);
    json_decref (obj);
    char *text = orch_stats_prometheus (st);
    ck_assert_ptr_nonnull (text);
    /*  Cumulative buckets: 1 ms holds 1 sample, +Inf all 101.            */
    ck_assert_ptr_nonnull (strstr (text, "cleudo_task_total_seconds_bucket{le=\"0.001\"} 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "cleudo_task_total_seconds_bucket{le=\"+Inf\"} 101\n"));
    ck_assert_ptr_nonnull (strstr (text, "cleudo_task_total_seconds_count 101\n"));
    ck_assert_ptr_nonnull (strstr (text, "cleudo_http_requests_total{code=\"404\"} 2\n"));
    ck_assert_ptr_nonnull (strstr (text, "# TYPE cleudo_task_run_seconds histogram\n"));
    free (text);
    orch_stats_destroy (&st);
}
END_TEST

/* --- sessions ------------------------------------------------------------------ */

START_TEST (sessions_create_find_csrf_expire_evict)
{
    orch_sessions_t *ss = orch_sessions_new (2);
    char sid[ORCH_SESSION_ID_LEN + 1], csrf[ORCH_SESSION_ID_LEN + 1];
    int64_t expires, found_expires;
    ck_assert_int_eq (orch_sessions_create (ss, 1000, sid, csrf, &expires), 0);
    ck_assert_uint_eq (strlen (sid), ORCH_SESSION_ID_LEN);
    ck_assert_str_ne (sid, csrf);
    ck_assert_int_eq (expires, 1000 + ORCH_SESSION_TTL_MS);
    const char *got = orch_sessions_find (ss, sid, 2000, &found_expires);
    ck_assert_ptr_nonnull (got);
    ck_assert_str_eq (got, csrf);
    ck_assert (orch_sessions_csrf_ok (got, csrf));
    ck_assert (!orch_sessions_csrf_ok (got, "x"));
    ck_assert (!orch_sessions_csrf_ok (got, NULL));
    /*  A changed id, a prefix, nothing: no session.                        */
    char wrong[ORCH_SESSION_ID_LEN + 1];
    memcpy (wrong, sid, sizeof wrong);
    wrong[5] = wrong[5] == 'A' ? 'B' : 'A';
    ck_assert_ptr_null (orch_sessions_find (ss, wrong, 2000, &found_expires));
    wrong[10] = '\0';
    ck_assert_ptr_null (orch_sessions_find (ss, wrong, 2000, &found_expires));
    ck_assert_ptr_null (orch_sessions_find (ss, NULL, 2000, &found_expires));
    /*  Expired.                                                            */
    ck_assert_ptr_null (orch_sessions_find (ss, sid, expires, &found_expires));
    /*  Full: the oldest goes.                                              */
    char sid2[ORCH_SESSION_ID_LEN + 1], sid3[ORCH_SESSION_ID_LEN + 1];
    orch_sessions_create (ss, 1001, sid2, csrf, &expires);
    orch_sessions_create (ss, 1002, sid3, csrf, &expires);
    ck_assert_ptr_null (orch_sessions_find (ss, sid, 2000, &found_expires));
    ck_assert_ptr_nonnull (orch_sessions_find (ss, sid2, 2000, &found_expires));
    ck_assert_ptr_nonnull (orch_sessions_find (ss, sid3, 2000, &found_expires));
    /*  Logout.                                                             */
    ck_assert (orch_sessions_remove (ss, sid2));
    ck_assert (!orch_sessions_remove (ss, sid2));
    ck_assert_ptr_null (orch_sessions_find (ss, sid2, 2000, &found_expires));
    orch_sessions_destroy (&ss);
}
END_TEST

/* --- live output -------------------------------------------------------------- */

static proto_output_t
s_out (const char *id, uint32_t attempt, int stream, uint64_t seq, const char *data)
{
    proto_output_t o = { .id = id, .attempt = attempt, .seq = seq,
                         .stream = stream ? PROTO_STREAM_STDERR : PROTO_STREAM_STDOUT };
    o.data.data = (const uint8_t *) data;
    o.data.size = strlen (data);
    return o;
}

START_TEST (live_prefix_gaps_bounds_attempts)
{
    orch_live_t *live = orch_live_new (8, 12);
    const char *why;
    int calls = 0;
    s_woken = 0;
    orch_live_watch_t *w = orch_live_watch (live, "t1", s_wake, &calls);
    proto_output_t o = s_out ("t1", 1, 0, 0, "abc");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 1);
    o = s_out ("t1", 1, 1, 0, "E");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 1);
    o = s_out ("t1", 1, 0, 1, "de");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 1);
    ck_assert_int_eq (s_woken, 3);
    uint32_t attempt;
    const uint8_t *out, *err;
    size_t out_len, err_len;
    ck_assert (orch_live_peek (live, "t1", &attempt, &out, &out_len, &err, &err_len));
    ck_assert_uint_eq (attempt, 1);
    ck_assert_uint_eq (out_len, 5);
    ck_assert_mem_eq (out, "abcde", 5);
    ck_assert_uint_eq (err_len, 1);
    /*  Over the per-stream cap (8): stops, and stays stopped.             */
    o = s_out ("t1", 1, 0, 2, "fghij");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 0);
    ck_assert_str_eq (why, "over the live output bound");
    o = s_out ("t1", 1, 0, 2, "f");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 0);
    /*  An older attempt is ignored; a newer one starts over.              */
    o = s_out ("t1", 0, 0, 0, "x");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 0);
    o = s_out ("t1", 2, 0, 0, "new");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 1);
    ck_assert (orch_live_peek (live, "t1", &attempt, &out, &out_len, &err, &err_len));
    ck_assert_uint_eq (attempt, 2);
    ck_assert_uint_eq (out_len, 3);
    ck_assert_uint_eq (err_len, 0);
    /*  A gap in seq stops the buffering (the prefix would break).         */
    o = s_out ("t1", 2, 0, 5, "zz");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 0);
    ck_assert_str_eq (why, "sequence gap");
    /*  The total budget (12) counts every task.                           */
    o = s_out ("t2", 1, 0, 0, "12345678");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 1);
    o = s_out ("t3", 1, 0, 0, "1234");
    ck_assert_int_eq (orch_live_output (live, &o, &why), 0);
    ck_assert_uint_eq (orch_live_bytes (live), 11);
    /*  started with the same attempt keeps, a new attempt drops.          */
    orch_live_started (live, "t2", 1);
    ck_assert (orch_live_peek (live, "t2", &attempt, &out, &out_len, &err, &err_len));
    orch_live_started (live, "t2", 2);
    ck_assert (!orch_live_peek (live, "t2", &attempt, &out, &out_len, &err, &err_len));
    /*  The end drops and wakes the watcher.                                */
    int before = s_woken;
    orch_live_end (live, "t1");
    ck_assert_int_eq (s_woken, before + 1);
    ck_assert (!orch_live_peek (live, "t1", &attempt, &out, &out_len, &err, &err_len));
    ck_assert_uint_eq (orch_live_bytes (live), 0);
    /*  t3 is remembered as stopped (no bytes) until its end.              */
    ck_assert_uint_eq (orch_live_tasks (live), 1);
    orch_live_end (live, "t3");
    ck_assert_uint_eq (orch_live_tasks (live), 0);
    orch_live_unwatch (live, &w);
    orch_live_destroy (&live);
}
END_TEST

/* --- store: listings and changes --------------------------------------------- */

static char s_dir[64];

static orch_store_t *
s_store (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/test_dash.XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    char err[256] = "";
    orch_store_t *store = orch_store_new (s_dir, false, err, sizeof err);
    ck_assert_msg (store, "%s", err);
    return store;
}

static void
s_insert (orch_store_t *store, const char *id, const char *search, int64_t created)
{
    const char *argv[] = { "true", NULL };
    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task.id = id;
    msg.u.task.attempt = 1;
    msg.u.task.argv = argv;
    msg.u.task.argc = 1;
    msg.u.task.limits.network = -1;
    uint8_t *frame;
    size_t size;
    ck_assert_int_eq (proto_encode (&msg, &frame, &size), 0);
    ck_assert_int_eq (orch_store_insert (store, id, frame, size, search, created, NULL, search,
                                         NULL), 0);
    free (frame);
}

START_TEST (store_query_filters_and_cursor)
{
    orch_store_t *store = s_store ();
    char id[16];
    for (int i = 0; i < 10; i++) {
        snprintf (id, sizeof id, "t%d", i);
        s_insert (store, id, i % 2 ? "python3\nprint('odd')" : "echo even", 1000 + i);
    }
    proto_result_t r = { .id = "t3", .attempt = 1, .worker = "w", .status = PROTO_STATUS_FAILED };
    ck_assert_int_eq (orch_store_set_dispatched (store, "t3", 1, 2000), 1);
    ck_assert_int_eq (orch_store_set_result (store, &r, 2001), 1);
    orch_record_t **items;
    size_t count;
    bool more;
    /*  Paging: 4 + 4 + 2, newest first, no repeats.                        */
    orch_store_query_t q = { .limit = 4 };
    ck_assert_int_eq (orch_store_query (store, &q, &items, &count, &more), 0);
    ck_assert_uint_eq (count, 4);
    ck_assert (more);
    ck_assert_str_eq (items[0]->id, "t9");
    q.before_seq = items[3]->seq;
    ck_assert_str_eq (items[3]->id, "t6");
    orch_store_list_free (&items, count);
    ck_assert_int_eq (orch_store_query (store, &q, &items, &count, &more), 0);
    ck_assert_str_eq (items[0]->id, "t5");
    q.before_seq = items[3]->seq;
    orch_store_list_free (&items, count);
    ck_assert_int_eq (orch_store_query (store, &q, &items, &count, &more), 0);
    ck_assert_uint_eq (count, 2);
    ck_assert (!more);
    ck_assert_str_eq (items[1]->id, "t0");
    orch_store_list_free (&items, count);
    /*  Status set, text, time window.                                      */
    q = (orch_store_query_t) { .limit = 50,
                               .statuses = 1u << PROTO_STATUS_FAILED | 1u << PROTO_STATUS_LOST };
    ck_assert_int_eq (orch_store_query (store, &q, &items, &count, &more), 0);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (items[0]->id, "t3");
    orch_store_list_free (&items, count);
    q = (orch_store_query_t) { .limit = 50, .text = "odd" };
    ck_assert_int_eq (orch_store_query (store, &q, &items, &count, &more), 0);
    ck_assert_uint_eq (count, 5);
    orch_store_list_free (&items, count);
    q = (orch_store_query_t) { .limit = 50, .text = "odd", .since_ms = 1004, .until_ms = 1008 };
    ck_assert_int_eq (orch_store_query (store, &q, &items, &count, &more), 0);
    ck_assert_uint_eq (count, 2);                 /* t5, t7 */
    ck_assert_str_eq (items[0]->id, "t7");
    orch_store_list_free (&items, count);
    /*  SQL in the text is only text.                                       */
    q = (orch_store_query_t) { .limit = 50, .text = "' OR 1=1 --" };
    ck_assert_int_eq (orch_store_query (store, &q, &items, &count, &more), 0);
    ck_assert_uint_eq (count, 0);
    orch_store_list_free (&items, count);
    orch_store_destroy (&store);
    tu_rm_rf (s_dir);
}
END_TEST

typedef struct {
    char seen[16][48];
    int count;
} changes_t;

static void
s_on_change (void *arg, const orch_store_change_t *c)
{
    changes_t *ch = arg;
    if (ch->count < 16)
        snprintf (ch->seen[ch->count++], sizeof ch->seen[0], "%s:%s:%s", c->id, c->event,
                  proto_status_name (c->status));
}

START_TEST (store_changes_told_after_commit_only)
{
    orch_store_t *store = s_store ();
    changes_t ch = { 0 };
    orch_store_on_change (store, s_on_change, &ch);
    /*  Outside a transaction: at once.                                     */
    s_insert (store, "a", "x", 1);
    ck_assert_int_eq (ch.count, 1);
    ck_assert_str_eq (ch.seen[0], "a:queued:queued");
    /*  Inside: only at the outermost commit, in order.                    */
    ck_assert_int_eq (orch_store_begin (store), 0);
    ck_assert_int_eq (orch_store_set_dispatched (store, "a", 1, 2), 1);
    ck_assert_int_eq (orch_store_begin (store), 0);
    ck_assert_int_eq (orch_store_set_started (store, "a", 1, "w", 3), 1);
    ck_assert_int_eq (orch_store_commit (store), 0);
    ck_assert_int_eq (ch.count, 1);
    ck_assert_int_eq (orch_store_commit (store), 0);
    ck_assert_int_eq (ch.count, 3);
    ck_assert_str_eq (ch.seen[1], "a:dispatched:dispatched");
    ck_assert_str_eq (ch.seen[2], "a:started:running");
    /*  A refused transition tells nothing; a requeue says queued.         */
    ck_assert_int_eq (orch_store_set_started (store, "a", 7, "w", 4), 0);
    ck_assert_int_eq (ch.count, 3);
    ck_assert_int_eq (orch_store_requeue (store, "a", 1, true, "w", "lost", 5), 1);
    ck_assert_str_eq (ch.seen[3], "a:requeued:queued");
    orch_store_destroy (&store);
    tu_rm_rf (s_dir);
}
END_TEST

typedef struct {
    int count;
    char summary[3][32];                /* "" when none */
    bool has_exit[3], has_code[3], has_signal[3];
    int64_t code[3], signal[3];
} extras_t;

static void
s_on_change_extras (void *arg, const orch_store_change_t *c)
{
    extras_t *x = arg;
    if (x->count >= 3)
        return;
    int i = x->count++;
    snprintf (x->summary[i], sizeof x->summary[i], "%s", c->summary ? c->summary : "");
    x->has_exit[i] = c->has_exit;
    x->has_code[i] = c->has_exit_code;
    x->has_signal[i] = c->has_signal;
    x->code[i] = c->exit_code;
    x->signal[i] = c->signal;
}

/*  What the listener shows without reading the row back: the summary of a
    new task, the exit of a result; nothing made up for the other events.  */
START_TEST (store_changes_carry_summary_and_exit)
{
    orch_store_t *store = s_store ();
    extras_t x = { 0 };
    orch_store_on_change (store, s_on_change_extras, &x);
    s_insert (store, "b", "echo hi", 1);
    ck_assert_int_eq (orch_store_set_dispatched (store, "b", 1, 2), 1);
    proto_result_t r = { .id = "b", .attempt = 1, .worker = "w",
                         .status = PROTO_STATUS_KILLED, .has_signal = true, .signal = 9 };
    ck_assert_int_eq (orch_store_set_result (store, &r, 3), 1);
    ck_assert_int_eq (x.count, 3);
    ck_assert_str_eq (x.summary[0], "echo hi");
    ck_assert (!x.has_exit[0] && !x.has_code[0] && !x.has_signal[0]);
    ck_assert_str_eq (x.summary[1], "");
    ck_assert (!x.has_exit[1] && !x.has_signal[1]);
    ck_assert_str_eq (x.summary[2], "");
    ck_assert (x.has_exit[2] && !x.has_code[2] && x.has_signal[2]);
    ck_assert_int_eq (x.signal[2], 9);
    orch_store_destroy (&store);
    tu_rm_rf (s_dir);
}
END_TEST

START_TEST (store_checkpoints_off_the_committing_thread)
{
    orch_store_t *store = s_store ();
    uint64_t before = orch_store_checkpoints (store);
    char id[16];
    for (int i = 0; i < 300; i++) {
        snprintf (id, sizeof id, "c%d", i);
        s_insert (store, id, "x", i + 1);
    }
    /*  The committing connection never checkpoints (wal_autocheckpoint
        is 0): the thread copies the frames back within a few turns.       */
    for (int i = 0; i < 50 && orch_store_checkpoints (store) == before; i++)
        usleep (20 * 1000);
    ck_assert_uint_gt (orch_store_checkpoints (store), before);
    orch_store_destroy (&store);
    tu_rm_rf (s_dir);
}
END_TEST

START_TEST (strbuf_grows_consumes_fails_once)
{
    strbuf_t b = { 0 };
    for (int i = 0; i < 1000; i++)
        strbuf_printf (&b, "%04d,", i);
    ck_assert_uint_eq (b.len, 5000);
    ck_assert (strncmp (b.data, "0000,0001,", 10) == 0);
    strbuf_consume (&b, 4995);
    ck_assert_str_eq (b.data, "0999,");
    strbuf_append (&b, "\0x", 2);
    ck_assert_uint_eq (b.len, 7);
    size_t len;
    char *text = strbuf_take (&b, &len);
    ck_assert_uint_eq (len, 7);
    ck_assert_ptr_null (b.data);
    free (text);
    strbuf_free (&b);
}
END_TEST

int
main (void)
{
    Suite *s = suite_create ("dashboard");
    TCase *tc = tcase_create ("memory");
    tcase_add_test (tc, events_resume_and_gaps);
    tcase_add_test (tc, stats_buckets_percentiles_histograms);
    tcase_add_test (tc, sessions_create_find_csrf_expire_evict);
    tcase_add_test (tc, live_prefix_gaps_bounds_attempts);
    tcase_add_test (tc, strbuf_grows_consumes_fails_once);
    suite_add_tcase (s, tc);
    tc = tcase_create ("store");
    tcase_add_test (tc, store_query_filters_and_cursor);
    tcase_add_test (tc, store_changes_told_after_commit_only);
    tcase_add_test (tc, store_changes_carry_summary_and_exit);
    tcase_add_test (tc, store_checkpoints_off_the_committing_thread);
    suite_add_tcase (s, tc);
    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? 1 : 0;
}
