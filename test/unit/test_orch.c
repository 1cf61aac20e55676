/*  test_orch.c - the orchestrator's modules without its sockets to the
    outside: token, SQLite store, task JSON parsing, the record JSON of a
    stored task, worker credit, dispatch (over inproc), waiters, result
    handling. (base64, UTF-8 and the JSON schema are common's: see
    test_common.c.)                                                         */
#include "log.h"
#include "cancel.h"
#include "cert.h"
#include "curve.h"
#include "control.h"
#include "dispatch.h"
#include "events.h"
#include "leases.h"
#include "live.h"
#include "monitor.h"
#include "stats.h"
#include "orch.h"
#include "orch_config.h"
#include "record_json.h"
#include "recovery.h"
#include "results.h"
#include "store.h"
#include "task_json.h"
#include "task_summary.h"
#include "task_to_json.h"
#include "tasks.h"
#include "token.h"
#include "waiters.h"
#include "workers.h"

#include <check.h>
#include <czmq.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* --- helpers -------------------------------------------------------------- */

static char s_dir[64];

static void
s_tmpdir (void)
{
    snprintf (s_dir, sizeof s_dir, "/tmp/test_orch.XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
}

static void
s_rmdir (void)
{
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    ck_assert_int_eq (system (cmd), 0);
}

/*  The encoded "task" frame of attempt 1 for argv (as tasks.c stores it).  */
static uint8_t *
s_spec (const char *id, const char *const *argv, size_t argc, size_t *size)
{
    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task.id = id;
    msg.u.task.attempt = 1;
    msg.u.task.argv = (const char **) argv;
    msg.u.task.argc = argc;
    msg.u.task.limits.network = -1;
    uint8_t *frame = NULL;
    ck_assert_int_eq (proto_encode (&msg, &frame, size), 0);
    return frame;
}

static orch_store_t *
s_store_with (const char *id)
{
    char err[256] = "";
    orch_store_t *store = orch_store_new (s_dir, false, err, sizeof err);
    ck_assert_msg (store, "%s", err);
    if (id) {
        static const char *const argv[] = { "echo", "hi", NULL };
        size_t size;
        uint8_t *spec = s_spec (id, argv, 2, &size);
        ck_assert_int_eq (orch_store_insert (store, id, spec, size, "echo hi", 1000, NULL, NULL,
                                             NULL), 0);
        free (spec);
    }
    return store;
}

static proto_result_t
s_result (const char *id, uint32_t attempt, proto_status_t status)
{
    proto_result_t r = { 0 };
    r.id = id;
    r.attempt = attempt;
    r.worker = "w1";
    r.status = status;
    r.has_exit_code = true;
    r.exit_code = status == PROTO_STATUS_SUCCEEDED ? 0 : 3;
    r.stdout_data = (proto_bytes_t) { (const uint8_t *) "out\n", 4 };
    r.stderr_data = (proto_bytes_t) { NULL, 0 };
    r.wall_ms = 12;
    r.cpu_ms = 4;
    r.max_rss_kb = 999;
    return r;
}

/* --- token ----------------------------------------------------------------- */

START_TEST (token_compare_and_validate)
{
    ck_assert (orch_token_equal ("abc", 3, "abc", 3));
    ck_assert (!orch_token_equal ("abd", 3, "abc", 3));
    ck_assert (!orch_token_equal ("ab", 2, "abc", 3));
    ck_assert (!orch_token_equal ("abcd", 4, "abc", 3));
    ck_assert (!orch_token_equal ("", 0, "abc", 3));
    ck_assert (orch_token_valid ("0123456789abcdef", 16));
    ck_assert (!orch_token_valid ("0123456789abcde", 15));
    ck_assert (!orch_token_valid ("0123456789 abcdef", 17));
    ck_assert (!orch_token_valid ("0123456789\nabcdef", 17));
}
END_TEST

START_TEST (token_file_created_0600_and_reused)
{
    s_tmpdir ();
    char token[300], again[300], path[300], err[300];
    bool created;
    ck_assert_int_eq (orch_token_load_or_create (s_dir, token, sizeof token, path, sizeof path,
                                                 &created, err, sizeof err), 0);
    ck_assert (created);
    ck_assert_uint_eq (strlen (token), 43);
    ck_assert (orch_token_valid (token, strlen (token)));
    struct stat st;
    ck_assert_int_eq (stat (path, &st), 0);
    ck_assert_int_eq (st.st_mode & 0777, 0600);
    ck_assert_int_eq (orch_token_load_or_create (s_dir, again, sizeof again, path, sizeof path,
                                                 &created, err, sizeof err), 0);
    ck_assert (!created);
    ck_assert_str_eq (token, again);
    /*  A file that holds no valid token is not silently replaced.          */
    int fd = open (path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, "short\n", 6), 6);
    close (fd);
    ck_assert_int_eq (orch_token_load_or_create (s_dir, again, sizeof again, path, sizeof path,
                                                 &created, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "valid token"));
    /*  Never through a symlink.                                            */
    unlink (path);
    ck_assert_int_eq (symlink ("/etc/hostname", path), 0);
    ck_assert_int_eq (orch_token_load_or_create (s_dir, again, sizeof again, path, sizeof path,
                                                 &created, err, sizeof err), -1);
    s_rmdir ();
}
END_TEST

/* --- store ----------------------------------------------------------------- */

START_TEST (store_lifecycle_and_guards)
{
    s_tmpdir ();
    const char *id = "0123456789ab-00000001";
    orch_store_t *store = s_store_with (id);
    proto_status_t status;
    uint32_t attempt;
    ck_assert_int_eq (orch_store_state (store, id, &status, &attempt), 1);
    ck_assert_int_eq (status, PROTO_STATUS_QUEUED);
    ck_assert_int_eq (attempt, 0);
    ck_assert_int_eq (orch_store_state (store, "nope", &status, &attempt), 0);
    /*  Duplicate id.                                                       */
    ck_assert_int_eq (orch_store_insert (store, id, (const uint8_t *) "x", 1, "", 1, NULL, NULL,
                                         NULL), 1);

    /*  Not dispatched yet: started and results are refused.                */
    proto_result_t r = s_result (id, 1, PROTO_STATUS_SUCCEEDED);
    ck_assert_int_eq (orch_store_set_started (store, id, 1, "w1", 2000), 0);
    ck_assert_int_eq (orch_store_set_result (store, &r, 2000), 0);
    /*  Dispatch must be attempt + 1.                                       */
    ck_assert_int_eq (orch_store_set_dispatched (store, id, 2, 2000), 0);
    ck_assert_int_eq (orch_store_set_dispatched (store, id, 1, 2000), 1);
    ck_assert_int_eq (orch_store_set_dispatched (store, id, 1, 2000), 0);
    /*  Undo and redo.                                                      */
    ck_assert_int_eq (orch_store_undo_dispatched (store, id, 1), 1);
    ck_assert_int_eq (orch_store_state (store, id, &status, &attempt), 1);
    ck_assert_int_eq (status, PROTO_STATUS_QUEUED);
    ck_assert_int_eq (attempt, 0);
    ck_assert_int_eq (orch_store_set_dispatched (store, id, 1, 2001), 1);
    /*  Stale attempt of started / result: refused.                         */
    ck_assert_int_eq (orch_store_set_started (store, id, 2, "w1", 2002), 0);
    ck_assert_int_eq (orch_store_set_started (store, id, 1, "w1", 2002), 1);
    ck_assert_int_eq (orch_store_set_started (store, id, 1, "w1", 2002), 0);
    proto_result_t stale = s_result (id, 2, PROTO_STATUS_FAILED);
    ck_assert_int_eq (orch_store_set_result (store, &stale, 2003), 0);
    /*  Non-terminal status in a result: refused.                           */
    proto_result_t running = s_result (id, 1, PROTO_STATUS_RUNNING);
    ck_assert_int_eq (orch_store_set_result (store, &running, 2003), 0);
    /*  The first terminal result wins; later ones never overwrite.         */
    proto_file_t files[] = {
        { "out/a.txt", { (const uint8_t *) "A", 1 } },
        { "out/b.bin", { (const uint8_t *) "\xff", 1 } },
    };
    const char *refs[] = { "big/x.csv", NULL };
    r.files = files;
    r.file_count = 2;
    r.file_refs = refs;
    r.file_ref_count = 1;
    r.error = "clamped";
    ck_assert_int_eq (orch_store_set_result (store, &r, 2004), 1);
    proto_result_t late = s_result (id, 1, PROTO_STATUS_FAILED);
    ck_assert_int_eq (orch_store_set_result (store, &late, 2005), 0);
    ck_assert_int_eq (orch_store_set_started (store, id, 1, "w2", 2006), 0);

    orch_record_t *rec = NULL;
    ck_assert_int_eq (orch_store_get (store, id, true, &rec), 1);
    ck_assert_int_eq (rec->view.status, PROTO_STATUS_SUCCEEDED);
    ck_assert (rec->terminal && rec->has_usage && rec->full);
    ck_assert_int_eq (rec->view.attempt, 1);
    ck_assert_str_eq (rec->view.worker, "w1");
    ck_assert_int_eq (rec->view.created_ms, 1000);
    ck_assert_int_eq (rec->view.dispatched_ms, 2001);
    ck_assert_int_eq (rec->view.started_ms, 2002);
    ck_assert_int_eq (rec->view.finished_ms, 2004);
    ck_assert (rec->view.result.has_exit_code && rec->view.result.exit_code == 0);
    ck_assert (!rec->view.result.has_signal);
    ck_assert_uint_eq (rec->view.result.stdout_data.size, 4);
    ck_assert (memcmp (rec->view.result.stdout_data.data, "out\n", 4) == 0);
    ck_assert_uint_eq (rec->view.result.stderr_data.size, 0);
    ck_assert_uint_eq (rec->view.result.wall_ms, 12);
    ck_assert_uint_eq (rec->view.result.max_rss_kb, 999);
    ck_assert_str_eq (rec->view.result.error, "clamped");
    ck_assert_uint_eq (rec->file_count, 2);
    ck_assert_str_eq (rec->files[0].path, "out/a.txt");
    ck_assert_uint_eq (rec->file_ref_count, 1);
    ck_assert_str_eq (rec->file_refs[0], "big/x.csv");
    ck_assert_int_eq (orch_record_decode_spec (rec), 0);
    ck_assert_uint_eq (rec->view.task.argc, 2);
    ck_assert_str_eq (rec->view.task.argv[1], "hi");
    ck_assert_ptr_null (rec->view.task.id);
    orch_record_destroy (&rec);
    ck_assert_ptr_null (rec);
    orch_record_destroy (&rec);
    orch_store_destroy (&store);
    orch_store_destroy (&store);
    s_rmdir ();
}
END_TEST

START_TEST (store_survives_reopen_and_locks)
{
    s_tmpdir ();
    const char *id = "0123456789ab-00000002";
    orch_store_t *store = s_store_with (id);
    char err[256] = "";
    /*  A second orchestrator on the same directory is refused.            */
    ck_assert_ptr_null (orch_store_new (s_dir, false, err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "in use"));
    ck_assert_int_eq (orch_store_set_dispatched (store, id, 1, 5), 1);
    orch_store_destroy (&store);

    store = orch_store_new (s_dir, true, err, sizeof err);
    ck_assert_msg (store, "%s", err);
    orch_record_t *rec = NULL;
    ck_assert_int_eq (orch_store_get (store, id, false, &rec), 1);
    ck_assert_int_eq (rec->view.status, PROTO_STATUS_DISPATCHED);
    ck_assert (!rec->full && !rec->terminal);
    ck_assert_ptr_null (rec->view.result.stdout_data.data);
    orch_record_destroy (&rec);
    orch_store_destroy (&store);

    /*  The file is a real SQLite database with the documented schema.      */
    char path[128];
    snprintf (path, sizeof path, "%s/cleudo.db", s_dir);
    sqlite3 *db;
    ck_assert_int_eq (sqlite3_open (path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq (sqlite3_prepare_v2 (db, "SELECT status, attempt FROM tasks WHERE id = ?",
                                          -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_text (st, 1, id, -1, SQLITE_STATIC);
    ck_assert_int_eq (sqlite3_step (st), SQLITE_ROW);
    ck_assert_str_eq ((const char *) sqlite3_column_text (st, 0), "dispatched");
    ck_assert_int_eq (sqlite3_column_int (st, 1), 1);
    sqlite3_finalize (st);
    /*  A newer schema than we know: refuse rather than damage it.          */
    ck_assert_int_eq (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL),
                      SQLITE_OK);
    sqlite3_close (db);
    ck_assert_ptr_null (orch_store_new (s_dir, false, err, sizeof err));
    ck_assert_ptr_nonnull (strstr (err, "schema version 99"));
    s_rmdir ();
}
END_TEST

static void
s_collect (void *arg, const char *id, uint32_t attempt)
{
    (void) attempt;
    char *out = arg;
    strcat (out, id);
    strcat (out, ",");
}

static void
s_collect_state (void *arg, const orch_task_state_t *st)
{
    char *out = arg;
    strcat (out, st->id);
    strcat (out, ":");
    strcat (out, proto_status_name (st->status));
    strcat (out, ":");
    strcat (out, st->worker);
    strcat (out, ",");
}

static bool
s_lease_running (const orch_lease_t *lease, void *arg)
{
    (void) arg;
    return lease->running;
}

START_TEST (store_list_scan_count)
{
    s_tmpdir ();
    orch_store_t *store = s_store_with ("t-1");
    static const char *const argv[] = { "true", NULL };
    size_t size;
    for (int i = 2; i <= 4; i++) {
        char id[16];
        snprintf (id, sizeof id, "t-%d", i);
        uint8_t *spec = s_spec (id, argv, 1, &size);
        ck_assert_int_eq (orch_store_insert (store, id, spec, size, "true", 1000 + i, NULL, NULL,
                                             NULL), 0);
        free (spec);
    }
    ck_assert_int_eq (orch_store_set_dispatched (store, "t-2", 1, 9), 1);
    orch_record_t **items;
    size_t count;
    ck_assert_int_eq (orch_store_list (store, PROTO_STATUS_NONE, 0, 3, false, &items, &count), 0);
    ck_assert_uint_eq (count, 3);
    ck_assert_str_eq (items[0]->id, "t-4");
    ck_assert_str_eq (items[2]->id, "t-2");
    ck_assert_ptr_null (items[0]->spec);
    int64_t before = items[1]->seq;
    orch_store_list_free (&items, count);
    ck_assert_int_eq (orch_store_list (store, PROTO_STATUS_NONE, before, 10, true, &items,
                                       &count), 0);
    ck_assert_uint_eq (count, 2);
    ck_assert_str_eq (items[0]->id, "t-2");
    ck_assert_ptr_nonnull (items[0]->spec);
    orch_store_list_free (&items, count);
    ck_assert_int_eq (orch_store_list (store, PROTO_STATUS_DISPATCHED, 0, 10, false, &items,
                                       &count), 0);
    ck_assert_uint_eq (count, 1);
    ck_assert_str_eq (items[0]->id, "t-2");
    orch_store_list_free (&items, count);
    char seen[64] = "";
    ck_assert_int_eq (orch_store_scan (store, PROTO_STATUS_QUEUED, s_collect, seen), 0);
    ck_assert_str_eq (seen, "t-1,t-3,t-4,");
    uint64_t counts[PROTO_STATUS_COUNT_];
    ck_assert_int_eq (orch_store_count (store, counts), 0);
    ck_assert_uint_eq (counts[PROTO_STATUS_QUEUED], 3);
    ck_assert_uint_eq (counts[PROTO_STATUS_DISPATCHED], 1);
    orch_store_destroy (&store);
    s_rmdir ();
}
END_TEST

/* --- task JSON ------------------------------------------------------------- */

/*  Parse text; returns the rc and fills err.                               */
static int
s_parse (const char *text, orch_task_in_t *in, orch_err_t *err)
{
    json_error_t jerr;
    json_t *root = json_loads (text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &jerr);
    ck_assert_msg (root, "bad test JSON %s: %s", text, jerr.text);
    memset (err, 0, sizeof *err);
    int rc = orch_task_in_parse (in, root, err);
    json_decref (root);
    return rc;
}

START_TEST (task_json_full_body)
{
    orch_task_in_t in;
    orch_err_t err;
    const char *text =
        "{\"lang\": \"python3\", \"code\": \"print(1)\\n\", \"stdin_b64\": \"AP8=\","
        " \"env\": {\"A\": \"1\", \"_B\": \"x y\"},"
        " \"files\": {\"a.txt\": \"hi\\u0000there\"}, \"files_b64\": {\"d/b.bin\": \"/w==\"},"
        " \"limits\": {\"wall_ms\": 500, \"memory_bytes\": 67108864, \"network\": false},"
        " \"collect\": [\"out.txt\"]}";
    ck_assert_int_eq (s_parse (text, &in, &err), 0);
    const proto_task_t *t = &in.task;
    ck_assert_int_eq (t->lang, PROTO_LANG_PYTHON3);
    ck_assert_uint_eq (t->argc, 0);
    ck_assert_uint_eq (t->code.size, 9);
    ck_assert (t->has_stdin && t->stdin_data.size == 2 && t->stdin_data.data[1] == 0xff);
    ck_assert_uint_eq (t->env_count, 2);
    ck_assert_str_eq (t->env[1].key, "_B");
    ck_assert_str_eq (t->env[1].value, "x y");
    ck_assert_uint_eq (t->file_count, 2);
    ck_assert_str_eq (t->files[0].path, "a.txt");
    ck_assert_uint_eq (t->files[0].content.size, 8);     /* NUL kept */
    ck_assert_str_eq (t->files[1].path, "d/b.bin");
    ck_assert_uint_eq (t->files[1].content.data[0], 0xff);
    ck_assert_uint_eq (t->limits.wall_ms, 500);
    ck_assert_uint_eq (t->limits.memory_bytes, 67108864);
    ck_assert_uint_eq (t->limits.cpu_ms, 0);
    ck_assert_int_eq (t->limits.network, 0);
    ck_assert_uint_eq (t->collect_count, 1);
    /*  Back to JSON: the same form (binary as _b64 only).                 */
    json_t *out = task_to_json (t);
    ck_assert_ptr_nonnull (out);
    json_t *expect = json_loads (text, JSON_ALLOW_NUL, NULL);
    char *a = json_dumps (out, JSON_SORT_KEYS), *b = json_dumps (expect, JSON_SORT_KEYS);
    ck_assert_msg (json_equal (out, expect), "%s\n!=\n%s", a, b);
    free (a);
    free (b);
    json_decref (out);
    json_decref (expect);
    /*  The proto encoder accepts what we built.                            */
    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task = *t;
    msg.u.task.id = "x";
    msg.u.task.attempt = 1;
    uint8_t *frame;
    size_t size;
    ck_assert_int_eq (proto_encode (&msg, &frame, &size), 0);
    free (frame);
    char *summary = task_summary (t);
    ck_assert_str_eq (summary, "python3: print(1)");
    free (summary);
    orch_task_in_free (&in);

    ck_assert_int_eq (s_parse ("{\"argv\": [\"echo\", \"a\\tb\", \"c\"]}", &in, &err), 0);
    summary = task_summary (&in.task);
    ck_assert_str_eq (summary, "echo a b c");
    free (summary);
    out = task_to_json (&in.task);
    ck_assert_str_eq (json_string_value (json_array_get (json_object_get (out, "argv"), 1)),
                      "a\tb");
    ck_assert_ptr_null (json_object_get (out, "limits"));
    json_decref (out);
    orch_task_in_free (&in);
}
END_TEST

START_TEST (task_json_errors_name_their_field)
{
    static const struct { const char *body; const char *field; const char *words; } cases[] = {
        { "[]", "", "JSON object" },
        { "{\"argv\": [\"x\"], \"argvv\": 1}", "argvv", "unknown field" },
        { "{}", "argv", "required" },
        { "{\"argv\": []}", "argv", "non-empty array of strings" },
        { "{\"argv\": {}}", "argv", "non-empty array" },
        { "{\"argv\": [\"a\", null]}", "argv[1]", "string" },
        { "{\"argv\": [\"\"]}", "argv[0]", "empty" },
        { "{\"argv\": [\"a\\u0000\"]}", "argv[0]", "NUL" },
        { "{\"argv\": [\"a\"], \"code\": \"x\"}", "argv", "not both" },
        { "{\"lang\": \"sh\"}", "code", "required" },
        { "{\"code\": \"x\"}", "lang", "required" },
        { "{\"lang\": 3, \"code\": \"x\"}", "lang", "sh, bash, python3" },
        { "{\"lang\": \"sh\", \"code\": 3}", "code", "string" },
        { "{\"lang\": \"sh\", \"code_b64\": \"a\"}", "code_b64", "base64" },
        { "{\"lang\": \"sh\", \"code\": \"a\", \"code_b64\": \"YQ==\"}", "code_b64", "not both" },
        { "{\"argv\": [\"a\"], \"stdin\": 1}", "stdin", "string" },
        { "{\"argv\": [\"a\"], \"stdin\": \"a\", \"stdin_b64\": \"\"}", "stdin_b64", "not both" },
        { "{\"argv\": [\"a\"], \"env\": []}", "env", "object" },
        { "{\"argv\": [\"a\"], \"env\": {\"A-B\": \"x\"}}", "env[A-B]", "invalid name" },
        { "{\"argv\": [\"a\"], \"env\": {\"A\": \"x\\u0000\"}}", "env[A]", "NUL" },
        { "{\"argv\": [\"a\"], \"files\": {\"a/../b\": \"x\"}}", "files[a/../b]", "" },
        { "{\"argv\": [\"a\"], \"files\": {\"\": \"x\"}}", "files[]", "" },
        { "{\"argv\": [\"a\"], \"files\": {\"a\": 1}}", "files[a]", "string" },
        { "{\"argv\": [\"a\"], \"files_b64\": {\"a\": \"***\"}}", "files_b64[a]", "base64" },
        { "{\"argv\": [\"a\"], \"files\": {\"a\": \"\"}, \"files_b64\": {\"a\": \"\"}}",
          "files_b64[a]", "also given" },
        { "{\"argv\": [\"a\"], \"limits\": 5}", "limits", "object" },
        { "{\"argv\": [\"a\"], \"limits\": {\"wall_ms\": 0}}", "limits.wall_ms", "positive" },
        { "{\"argv\": [\"a\"], \"limits\": {\"wall_ms\": -1}}", "limits.wall_ms", "positive" },
        { "{\"argv\": [\"a\"], \"limits\": {\"cpu_ms\": 2.5}}", "limits.cpu_ms", "positive" },
        { "{\"argv\": [\"a\"], \"limits\": {\"cpu_ms\": \"5\"}}", "limits.cpu_ms", "positive" },
        { "{\"argv\": [\"a\"], \"limits\": {\"wall_ms\": 604800001}}", "limits.wall_ms",
          "absurd" },
        { "{\"argv\": [\"a\"], \"limits\": {\"processes\": 99999999}}", "limits.processes",
          "absurd" },
        { "{\"argv\": [\"a\"], \"limits\": {\"network\": 1}}", "limits.network", "true or false" },
        { "{\"argv\": [\"a\"], \"limits\": {\"nope\": 1}}", "limits.nope", "unknown limit" },
        { "{\"argv\": [\"a\"], \"collect\": \"a\"}", "collect", "array" },
        { "{\"argv\": [\"a\"], \"collect\": [\"/abs\"]}", "collect[0]", "" },
        { "{\"argv\": [\"a\"], \"collect\": [\"ok\", 1]}", "collect[1]", "string" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        orch_task_in_t in;
        orch_err_t err;
        ck_assert_msg (s_parse (cases[i].body, &in, &err) == -1, "accepted %s", cases[i].body);
        ck_assert_int_eq (err.status, 400);
        ck_assert_str_eq (err.code, "bad_request");
        ck_assert_msg (strcmp (err.field, cases[i].field) == 0, "%s: field '%s' not '%s'",
                       cases[i].body, err.field, cases[i].field);
        ck_assert_msg (strstr (err.message, cases[i].words), "%s: message '%s'", cases[i].body,
                       err.message);
        if (cases[i].field[0])
            ck_assert_msg (strncmp (err.message, cases[i].field, strlen (cases[i].field)) == 0,
                           "message '%s' does not start with the field", err.message);
        orch_task_in_free (&in);
    }
}
END_TEST

START_TEST (task_json_limits_at_the_bounds)
{
    orch_task_in_t in;
    orch_err_t err;
    ck_assert_int_eq (s_parse ("{\"argv\": [\"a\"], \"limits\": {\"wall_ms\": 604800000,"
                               " \"memory_bytes\": 1099511627776, \"processes\": 4194304,"
                               " \"output_bytes\": 1, \"file_bytes\": 1, \"cpu_ms\": 1,"
                               " \"network\": true}}", &in, &err), 0);
    ck_assert_uint_eq (in.task.limits.wall_ms, PROTO_LIMIT_ABSURD_MS);
    ck_assert_uint_eq (in.task.limits.memory_bytes, PROTO_LIMIT_ABSURD_BYTES);
    ck_assert_uint_eq (in.task.limits.processes, PROTO_LIMIT_ABSURD_COUNT);
    ck_assert_int_eq (in.task.limits.network, 1);
    orch_task_in_free (&in);
}
END_TEST

/* --- record JSON ----------------------------------------------------------- */

START_TEST (json_depth_checked_before_parsing)
{
    size_t at = 99;
    const char *ok = "{\"a\": [[1, {\"b\": []}]], \"s\": \"[[[[[[\\\"{{{{\"}";
    ck_assert_int_eq (orch_json_depth_check (ok, strlen (ok), 5, &at), 0);
    ck_assert_int_eq (orch_json_depth_check (ok, strlen (ok), 4, &at), -1);
    ck_assert_uint_eq (at, 17);         /* the "[" of "b": [] */
    char deep[40];
    memset (deep, '[', 33);
    ck_assert_int_eq (orch_json_depth_check (deep, 32, ORCH_JSON_DEPTH_MAX, &at), 0);
    ck_assert_int_eq (orch_json_depth_check (deep, 33, ORCH_JSON_DEPTH_MAX, &at), -1);
    ck_assert_uint_eq (at, 32);
    orch_err_t err;
    orch_reject_t why;
    ck_assert_ptr_null (orch_json_body (deep, 33, 0, &err, &why));
    ck_assert_int_eq (why, ORCH_REJECT_JSON_TOO_DEEP);
    ck_assert_ptr_null (orch_json_body ("[\"\xff\"]", 5, 0, &err, &why));
    ck_assert_int_eq (why, ORCH_REJECT_INVALID_UTF8);
    ck_assert_ptr_null (orch_json_body ("[1,", 3, 0, &err, &why));
    ck_assert_int_eq (why, ORCH_REJECT_INVALID_JSON);
    ck_assert_int_eq (err.status, 400);
    json_t *root = orch_json_body ("{\"a\": [1]}", 10, 0, &err, &why);
    ck_assert_ptr_nonnull (root);
    json_decref (root);

    orch_stats_t *stats = orch_stats_new ();
    orch_stats_rejected (stats, ORCH_REJECT_CSRF);
    orch_stats_dropped (stats, ORCH_DROP_WRONG_WORKER);
    orch_stats_dropped (NULL, ORCH_DROP_WRONG_WORKER);
    ck_assert_uint_eq (orch_stats_rejected_count (stats, ORCH_REJECT_CSRF), 1);
    ck_assert_uint_eq (orch_stats_dropped_count (stats, ORCH_DROP_WRONG_WORKER), 1);
    char *text = orch_stats_prometheus (stats);
    ck_assert_ptr_nonnull (strstr (text, "cleudo_http_rejected_total{reason=\"csrf\"} 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "cleudo_frames_dropped_total{socket=\"results\","
                                         "reason=\"wrong_worker\"} 1\n"));
    ck_assert_ptr_nonnull (strstr (text, "cleudo_frames_dropped_total{socket=\"submit\","
                                         "reason=\"unauthorized\"} 0\n"));
    free (text);
    orch_stats_destroy (&stats);
}
END_TEST

START_TEST (heartbeat_floods_are_cut)
{
    orch_workers_t *w = orch_workers_new (8);
    proto_heartbeat_t hb = { .worker = "w", .free = 1 };
    ck_assert (orch_workers_heartbeat_allowed (w, "w", 1000));      /* unknown: joins */
    ck_assert_int_eq (orch_workers_heartbeat (w, &hb, 1, 1000), 1);
    int allowed = 0;
    for (int i = 0; i < 1000; i++)
        allowed += orch_workers_heartbeat_allowed (w, "w", 1000);
    ck_assert_int_eq (allowed, 10);     /* the burst */
    ck_assert (!orch_workers_heartbeat_allowed (w, "w", 1019));
    ck_assert (orch_workers_heartbeat_allowed (w, "w", 1020));     /* one refilled */
    ck_assert (!orch_workers_heartbeat_allowed (w, "w", 1020));
    allowed = 0;
    for (int64_t t = 2000; t < 12000; t += 1000)                    /* one a second */
        allowed += orch_workers_heartbeat_allowed (w, "w", t);
    ck_assert_int_eq (allowed, 10);
    orch_workers_destroy (&w);
}
END_TEST

START_TEST (record_json_text_b64_twins_and_nulls)
{
    s_tmpdir ();
    const char *id = "0123456789ab-0000000a";
    orch_store_t *store = s_store_with (id);
    orch_record_t *rec;
    /*  Queued: results are null, files too.                                */
    ck_assert_int_eq (orch_store_get (store, id, true, &rec), 1);
    json_t *j = orch_record_to_json (rec, true);
    ck_assert_ptr_nonnull (j);
    ck_assert_str_eq (json_string_value (json_object_get (j, "status")), "queued");
    static const char *const nulls[] = { "worker", "dispatched_ms", "started_ms", "finished_ms",
                                         "exit_code", "signal", "stdout", "stderr",
                                         "stdout_truncated", "wall_ms", "cpu_ms", "max_rss_kb",
                                         "error" };
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        ck_assert_msg (json_is_null (json_object_get (j, nulls[i])), "%s not null", nulls[i]);
    ck_assert_int_eq (json_integer_value (json_object_get (j, "created_ms")), 1000);
    ck_assert (json_is_null (json_object_get (j, "files")));
    ck_assert (json_is_null (json_object_get (j, "file_refs")));
    ck_assert_str_eq (json_string_value (json_object_get (j, "summary")), "echo hi");
    ck_assert_ptr_nonnull (json_object_get (j, "task"));
    json_decref (j);
    orch_record_destroy (&rec);

    ck_assert_int_eq (orch_store_set_dispatched (store, id, 1, 1001), 1);
    proto_result_t r = s_result (id, 1, PROTO_STATUS_FAILED);
    r.stdout_data = (proto_bytes_t) { (const uint8_t *) "a\0b\xff", 4 };
    r.stderr_data = (proto_bytes_t) { (const uint8_t *) "\xc3\xa9\0", 3 };
    r.has_exit_code = false;
    r.has_signal = true;
    r.signal = 9;
    r.stdout_truncated = true;
    proto_file_t files[] = {
        { "t.txt", { (const uint8_t *) "text", 4 } },
        { "b.bin", { (const uint8_t *) "\x00\xfe", 2 } },
    };
    r.files = files;
    r.file_count = 2;
    ck_assert_int_eq (orch_store_set_result (store, &r, 1002), 1);
    ck_assert_int_eq (orch_store_get (store, id, true, &rec), 1);
    j = orch_record_to_json (rec, true);
    ck_assert_ptr_nonnull (j);
    json_t *out = json_object_get (j, "stdout");
    ck_assert_uint_eq (json_string_length (out), 6);
    ck_assert (memcmp (json_string_value (out), "a\0b\xef\xbf\xbd", 6) == 0);
    ck_assert_str_eq (json_string_value (json_object_get (j, "stdout_b64")), "YQBi/w==");
    json_t *err = json_object_get (j, "stderr");
    ck_assert_uint_eq (json_string_length (err), 3);          /* NUL kept, valid UTF-8 */
    ck_assert_ptr_null (json_object_get (j, "stderr_b64"));
    ck_assert (json_is_null (json_object_get (j, "exit_code")));
    ck_assert_int_eq (json_integer_value (json_object_get (j, "signal")), 9);
    ck_assert (json_is_true (json_object_get (j, "stdout_truncated")));
    ck_assert (json_is_false (json_object_get (j, "stderr_truncated")));
    ck_assert_int_eq (json_integer_value (json_object_get (j, "max_rss_kb")), 999);
    ck_assert_str_eq (json_string_value (json_object_get (json_object_get (j, "files"), "t.txt")),
                      "text");
    ck_assert_ptr_null (json_object_get (json_object_get (j, "files"), "b.bin"));
    ck_assert_str_eq (json_string_value (json_object_get (json_object_get (j, "files_b64"),
                                                         "b.bin")), "AP4=");
    ck_assert_str_eq (json_string_value (json_object_get (j, "worker")), "w1");
    json_decref (j);
    /*  A list item: no outputs, files or task.                             */
    j = orch_record_to_json (rec, false);
    static const char *const absent[] = { "stdout", "stdout_b64", "stderr", "files",
                                          "files_b64", "file_refs", "task" };
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        ck_assert_msg (!json_object_get (j, absent[i]), "%s present in list item", absent[i]);
    ck_assert_str_eq (json_string_value (json_object_get (j, "summary")), "echo hi");
    json_decref (j);
    orch_record_destroy (&rec);
    orch_store_destroy (&store);
    s_rmdir ();
}
END_TEST

/* --- workers, credit, dispatch --------------------------------------------- */

static proto_hello_t
s_hello (const char *worker, uint32_t slots)
{
    proto_hello_t h = { .worker = worker, .slots = slots, .version = "t" };
    return h;
}

static int s_dead_count;
static size_t s_dead_running;

static void
s_on_dead (void *arg, const orch_dead_worker_t *dead)
{
    (void) arg;
    s_dead_count++;
    s_dead_running = dead->running_count;
}

START_TEST (worker_credit_accounting)
{
    orch_workers_t *w = orch_workers_new (2);
    proto_hello_t a = s_hello ("a", 2), b = s_hello ("b", 3), c = s_hello ("c", 1);
    ck_assert_int_eq (orch_workers_hello (w, &a, 1, 100), 1);
    ck_assert_int_eq (orch_workers_hello (w, &b, 1, 100), 1);
    ck_assert_int_eq (orch_workers_hello (w, &c, 1, 100), -1);      /* table full */
    ck_assert_int_eq (orch_workers_free (w), 5);
    ck_assert (orch_workers_started (w, "a", "t1", 2, 101));
    ck_assert (orch_workers_started (w, "a", "t1", 2, 101));         /* duplicate: once */
    ck_assert_int_eq (orch_workers_free (w), 4);
    ck_assert (!orch_workers_started (w, "zz", "t9", 2, 101));
    ck_assert (orch_workers_finished (w, "a", "t1", true, 3, 102));
    ck_assert_int_eq (orch_workers_free (w), 5);
    ck_assert (!orch_workers_finished (w, "a", "t1", false, 3, 102)); /* not running there */
    ck_assert_int_eq (orch_workers_free (w), 5);
    /*  A heartbeat is the worker's own word.                               */
    const char *running[] = { "t5", "t6" };
    proto_heartbeat_t hb = { .worker = "b", .free = 1, .running = running, .running_count = 2 };
    ck_assert_int_eq (orch_workers_heartbeat (w, &hb, 4, 103), 0);
    ck_assert_int_eq (orch_workers_free (w), 3);
    ck_assert (orch_workers_finished (w, "b", "t6", true, 4, 104));
    ck_assert_int_eq (orch_workers_free (w), 4);
    /*  hello after a reconnect keeps slots of tasks still running.         */
    ck_assert_int_eq (orch_workers_hello (w, &b, 5, 105), 0);
    ck_assert_int_eq (orch_workers_free (w), 2 + 2);
    proto_worker_info_t *items;
    size_t count;
    ck_assert_int_eq (orch_workers_list (w, &items, &count), 0);
    ck_assert_uint_eq (count, 2);
    free (items);
    /*  Silence: a is silent since 102, b since 105.                        */
    s_dead_count = 0;
    ck_assert_uint_eq (orch_workers_expire (w, 103, 5, s_on_dead, NULL), 0);
    ck_assert_uint_eq (orch_workers_expire (w, 108, 5, s_on_dead, NULL), 1);
    ck_assert_int_eq (s_dead_count, 1);
    ck_assert_uint_eq (orch_workers_count (w), 1);
    ck_assert_int_eq (orch_workers_free (w), 2);
    ck_assert_uint_eq (orch_workers_expire (w, 200, 5, s_on_dead, NULL), 1);
    ck_assert_uint_eq (s_dead_running, 1);                          /* b still ran t5 */
    ck_assert_int_eq (orch_workers_free (w), 0);
    /*  A heartbeat from a stranger (we restarted) introduces it.           */
    proto_heartbeat_t stranger = { .worker = "s", .free = 0 };
    ck_assert_int_eq (orch_workers_heartbeat (w, &stranger, 6, 201), 1);
    ck_assert_int_eq (orch_workers_list (w, &items, &count), 0);
    ck_assert_uint_eq (items[0].slots, 1);                          /* wire-valid */
    free (items);
    orch_workers_destroy (&w);
    orch_workers_destroy (&w);
}
END_TEST

typedef struct {
    orch_config_t cfg;
    orch_t orch;
    void *pull;                         /* the fake worker's end */
    void *pub;                          /* control PUB (orch->control's) */
    void *sub;                          /* the fake worker's control end */
} s_env_t;

static void
s_env_up_with (s_env_t *env, bool connected)
{
    memset (env, 0, sizeof *env);
    s_tmpdir ();
    env->cfg.max_frame = 16 << 20;
    env->cfg.max_wait = 300000;
    env->cfg.max_attempts = 2;
    env->cfg.dispatch_lease = 5000;
    env->cfg.max_queued = 10000;
    env->cfg.retention = 7ll * 24 * 3600 * 1000;
    env->cfg.max_output_stored = 4 << 20;
    env->cfg.worker_timeout = 5000;
    orch_t *o = &env->orch;
    o->cfg = &env->cfg;
    o->store = s_store_with (NULL);
    o->workers = orch_workers_new (16);
    o->dispatch = orch_dispatch_new ();
    o->leases = orch_leases_new ();
    o->waiters = orch_waiters_new (100);
    o->zctx = zmq_ctx_new ();
    o->tasks = zmq_socket (o->zctx, ZMQ_PUSH);
    ck_assert_int_eq (zmq_bind (o->tasks, "inproc://tasks"), 0);
    env->pull = zmq_socket (o->zctx, ZMQ_PULL);
    if (connected)
        ck_assert_int_eq (zmq_connect (env->pull, "inproc://tasks"), 0);
    env->pub = zmq_socket (o->zctx, ZMQ_PUB);
    ck_assert_int_eq (zmq_bind (env->pub, "inproc://control"), 0);
    env->sub = zmq_socket (o->zctx, ZMQ_SUB);
    ck_assert_int_eq (zmq_setsockopt (env->sub, ZMQ_SUBSCRIBE, "", 0), 0);
    ck_assert_int_eq (zmq_connect (env->sub, "inproc://control"), 0);
    o->control = orch_control_new (env->pub);
    o->events = orch_events_new (64, 1);
    o->stats = orch_stats_new ();
    o->live = orch_live_new (1 << 20, 1 << 22);
    ck_assert_int_eq (orch_monitor_start (o), 0);
}

static void
s_env_up (s_env_t *env)
{
    s_env_up_with (env, true);
}

static void
s_env_down (s_env_t *env)
{
    orch_t *o = &env->orch;
    int zero = 0;
    zmq_setsockopt (o->tasks, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (env->pull, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close (o->tasks);
    zmq_close (env->pull);
    zmq_setsockopt (env->pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (env->sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close (env->pub);
    zmq_close (env->sub);
    orch_control_destroy (&o->control);
    zmq_ctx_term (o->zctx);
    orch_waiters_destroy (&o->waiters);
    orch_dispatch_destroy (&o->dispatch);
    orch_leases_destroy (&o->leases);
    orch_workers_destroy (&o->workers);
    orch_monitor_stop (o);
    orch_store_destroy (&o->store);
    orch_live_destroy (&o->live);
    orch_stats_destroy (&o->stats);
    orch_events_destroy (&o->events);
    s_rmdir ();
}

/*  Accept argv {"true"}; returns the new id in id.                         */
static void
s_accept (s_env_t *env, char *id)
{
    const char *argv[] = { "true", NULL };
    proto_task_t t = { .argv = argv, .argc = 1 };
    t.limits.network = -1;
    orch_err_t err;
    bool existed;
    ck_assert_int_eq (orch_tasks_accept (&env->orch, &t, NULL, id, &existed, &err), 0);
    ck_assert (proto_valid_id (id, strlen (id)));
}

static proto_msg_t *
s_recv_task (s_env_t *env)
{
    zmq_msg_t m;
    zmq_msg_init (&m);
    if (zmq_msg_recv (&m, env->pull, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&m);
        return NULL;
    }
    proto_error_t perr;
    proto_msg_t *msg = proto_decode (PROTO_CH_TASKS, zmq_msg_data (&m), zmq_msg_size (&m), 0,
                                     &perr);
    zmq_msg_close (&m);
    ck_assert_msg (msg, "%s: %s", perr.field, perr.message);
    return msg;
}

/*  Feed one worker frame through the results handler.                     */
static int
s_feed (s_env_t *env, const proto_msg_t *msg, char *finished)
{
    uint8_t *frame;
    size_t size;
    ck_assert_int_eq (proto_encode (msg, &frame, &size), 0);
    char dummy[PROTO_ID_MAX + 1];
    int rc = orch_results_handle (&env->orch, frame, size, finished ? finished : dummy);
    free (frame);
    return rc;
}

/*  Inside an outer batch (the event loop's turn) a dispatch is recorded
    but nothing leaves until the batch has committed; meanwhile no second
    dispatch can spend the same credit.                                     */
START_TEST (dispatch_in_a_batch_sends_after_its_commit)
{
    s_env_t env;
    s_env_up (&env);
    orch_t *o = &env.orch;
    char ids[3][PROTO_ID_MAX + 1];
    for (int i = 0; i < 3; i++)
        s_accept (&env, ids[i]);
    proto_msg_t hello = { .type = PROTO_HELLO };
    hello.u.hello = s_hello ("w1", 3);
    s_feed (&env, &hello, NULL);
    usleep (20000);
    ck_assert_int_eq (orch_batch_begin (o), 0);
    ck_assert_uint_eq (orch_dispatch_run (o), 3);
    ck_assert_uint_eq (orch_dispatch_run (o), 0);        /* the batch waits */
    usleep (20000);
    ck_assert_ptr_null (s_recv_task (&env));            /* not yet sent */
    ck_assert_uint_eq (orch_leases_outstanding (o->leases), 0);
    ck_assert_int_eq (orch_batch_commit (o), 0);
    ck_assert_uint_eq (orch_leases_outstanding (o->leases), 3);
    for (int i = 0; i < 3; i++) {
        proto_msg_t *t = s_recv_task (&env);
        ck_assert_ptr_nonnull (t);
        ck_assert_str_eq (t->u.task.id, ids[i]);
        proto_msg_destroy (&t);
    }
    orch_record_t *rec = NULL;
    ck_assert_int_eq (orch_store_get (o->store, ids[2], false, &rec), 1);
    ck_assert_int_eq (rec->view.status, PROTO_STATUS_DISPATCHED);
    orch_record_destroy (&rec);
    s_env_down (&env);
}
END_TEST

START_TEST (dispatch_respects_credit)
{
    s_env_t env;
    s_env_up (&env);
    orch_t *o = &env.orch;
    char ids[3][PROTO_ID_MAX + 1];
    for (int i = 0; i < 3; i++)
        s_accept (&env, ids[i]);
    ck_assert_uint_eq (orch_dispatch_queued (o->dispatch), 3);
    /*  No worker: no credit, nothing sent.                                 */
    ck_assert_uint_eq (orch_dispatch_run (o), 0);
    proto_msg_t hello = { .type = PROTO_HELLO };
    hello.u.hello = s_hello ("w1", 2);
    s_feed (&env, &hello, NULL);
    ck_assert_int_eq (orch_dispatch_credit (o), 2);
    usleep (20000);
    ck_assert_uint_eq (orch_dispatch_run (o), 2);
    ck_assert_uint_eq (orch_leases_outstanding (o->leases), 2);
    ck_assert_int_eq (orch_dispatch_credit (o), 0);
    ck_assert_uint_eq (orch_dispatch_run (o), 0);
    proto_msg_t *t1 = s_recv_task (&env);
    proto_msg_t *t2 = s_recv_task (&env);
    ck_assert_ptr_nonnull (t1);
    ck_assert_ptr_nonnull (t2);
    ck_assert_ptr_null (s_recv_task (&env));
    ck_assert_str_eq (t1->u.task.id, ids[0]);
    ck_assert_int_eq (t1->u.task.attempt, 1);
    ck_assert_str_eq (t1->u.task.argv[0], "true");
    /*  started: the slot moves from "dispatched" to the worker: credit 0.  */
    proto_msg_t started = { .type = PROTO_STARTED };
    started.u.started = (proto_started_t) { ids[0], 1, "w1" };
    s_feed (&env, &started, NULL);
    ck_assert_uint_eq (orch_leases_outstanding (o->leases), 1);
    ck_assert_int_eq (orch_dispatch_credit (o), 0);
    /*  result: the slot is free again, the third task goes.                */
    proto_msg_t result = { .type = PROTO_RESULT };
    result.u.result = s_result (ids[0], 1, PROTO_STATUS_SUCCEEDED);
    result.u.result.worker = "w1";
    char finished[PROTO_ID_MAX + 1] = "";
    ck_assert_int_eq (s_feed (&env, &result, finished), 1);
    ck_assert_str_eq (finished, ids[0]);
    ck_assert_int_eq (s_feed (&env, &result, finished), 0);          /* duplicate */
    ck_assert_int_eq (orch_dispatch_credit (o), 1);
    ck_assert_uint_eq (orch_dispatch_run (o), 1);
    proto_msg_t *t3 = s_recv_task (&env);
    ck_assert_str_eq (t3->u.task.id, ids[2]);
    /*  A result straight from "dispatched" (rejected before start) gives
        the credit back too.                                                */
    result.u.result = s_result (ids[1], 1, PROTO_STATUS_REJECTED);
    result.u.result.worker = "w1";
    ck_assert_int_eq (s_feed (&env, &result, NULL), 1);
    ck_assert_uint_eq (orch_leases_outstanding (o->leases), 1);
    proto_status_t status;
    uint32_t attempt;
    ck_assert_int_eq (orch_store_state (o->store, ids[2], &status, &attempt), 1);
    ck_assert_int_eq (status, PROTO_STATUS_DISPATCHED);
    ck_assert_int_eq (attempt, 1);
    /*  Garbage is dropped without harm.                                    */
    char dummy[PROTO_ID_MAX + 1];
    ck_assert_int_eq (orch_results_handle (o, "\xc1", 1, dummy), 0);
    ck_assert_int_eq (orch_results_handle (o, "", 0, dummy), 0);
    proto_msg_destroy (&t1);
    proto_msg_destroy (&t2);
    proto_msg_destroy (&t3);
    /*  A restart rebuilds the queue; the task sent before it is in doubt
        and holds back no credit.                                           */
    orch_dispatch_t *again = orch_dispatch_new ();
    size_t in_doubt = 0;
    ck_assert_int_eq (orch_dispatch_rebuild (again, o->store, &in_doubt), 0);
    ck_assert_uint_eq (orch_dispatch_queued (again), 0);
    ck_assert_uint_eq (in_doubt, 1);
    orch_dispatch_destroy (&again);
    s_env_down (&env);
}
END_TEST

START_TEST (dispatch_sends_nothing_without_a_connected_worker)
{
    s_env_t env;
    s_env_up_with (&env, false);        /* nobody is connected */
    orch_t *o = &env.orch;
    char id[PROTO_ID_MAX + 1];
    s_accept (&env, id);
    proto_msg_t hello = { .type = PROTO_HELLO };
    hello.u.hello = s_hello ("w1", 4);
    s_feed (&env, &hello, NULL);
    ck_assert_uint_eq (orch_dispatch_run (o), 0);
    ck_assert_uint_eq (orch_dispatch_queued (o->dispatch), 1);
    proto_status_t status;
    uint32_t attempt;
    ck_assert_int_eq (orch_store_state (o->store, id, &status, &attempt), 1);
    ck_assert_int_eq (status, PROTO_STATUS_QUEUED);
    s_env_down (&env);
}
END_TEST

START_TEST (accept_refuses_frames_over_the_cap)
{
    s_env_t env;
    s_env_up (&env);
    env.cfg.max_frame = 64 * 1024;
    static uint8_t big[100 * 1024];
    const char *argv[] = { "cat", NULL };
    proto_task_t t = { .argv = argv, .argc = 1, .has_stdin = true };
    t.stdin_data = (proto_bytes_t) { big, sizeof big };
    t.limits.network = -1;
    char id[PROTO_ID_MAX + 1];
    orch_err_t err;
    bool existed;
    ck_assert_int_eq (orch_tasks_accept (&env.orch, &t, NULL, id, &existed, &err), -1);
    ck_assert_int_eq (err.status, 413);
    ck_assert_str_eq (err.code, "too_large");
    ck_assert_ptr_nonnull (strstr (err.message, "ORCH_MAX_FRAME"));
    ck_assert_uint_eq (orch_dispatch_queued (env.orch.dispatch), 0);
    s_env_down (&env);
}
END_TEST

/* --- waiters --------------------------------------------------------------- */

static char s_woken[256];

static void
s_wake (void *arg, const char *id, orch_wake_t why)
{
    char one[96];
    snprintf (one, sizeof one, "%s:%s:%d,", (const char *) arg, id, (int) why);
    strcat (s_woken, one);
}

START_TEST (waiters_fire_expire_cancel)
{
    orch_waiters_t *w = orch_waiters_new (3);
    s_woken[0] = '\0';
    ck_assert_ptr_nonnull (orch_waiters_add (w, "t1", 100, s_wake, "a"));
    ck_assert_ptr_nonnull (orch_waiters_add (w, "t1", 200, s_wake, "b"));
    orch_waiter_t *c = orch_waiters_add (w, "t2", 50, s_wake, "c");
    ck_assert_ptr_nonnull (c);
    ck_assert (orch_waiters_full (w));
    ck_assert_ptr_null (orch_waiters_add (w, "t3", 10, s_wake, "d"));
    orch_waiters_cancel (w, c);
    ck_assert_uint_eq (orch_waiters_count (w), 2);
    ck_assert_uint_eq (orch_waiters_expire (w, 150), 1);
    ck_assert_str_eq (s_woken, "a:t1:1,");
    ck_assert_uint_eq (orch_waiters_fire (w, "t9"), 0);
    ck_assert_uint_eq (orch_waiters_fire (w, "t1"), 1);
    ck_assert_str_eq (s_woken, "a:t1:1,b:t1:0,");
    ck_assert_ptr_nonnull (orch_waiters_add (w, "t4", 10, s_wake, "e"));
    ck_assert_uint_eq (orch_waiters_fire_all (w), 1);
    ck_assert_str_eq (s_woken, "a:t1:1,b:t1:0,e:t4:2,");
    ck_assert_uint_eq (orch_waiters_count (w), 0);
    ck_assert_ptr_nonnull (orch_waiters_add (w, "t5", 10, s_wake, "f"));
    orch_waiters_destroy (&w);          /* never-woken waiters are freed */
    orch_waiters_destroy (&w);
}
END_TEST

START_TEST (task_ids_sort_by_time)
{
    char a[32], b[32];
    orch_new_task_id (a, sizeof a);
    usleep (2000);
    orch_new_task_id (b, sizeof b);
    ck_assert_uint_eq (strlen (a), 21);
    ck_assert (proto_valid_id (a, strlen (a)));
    ck_assert_int_lt (strcmp (a, b), 0);
    ck_assert_int_eq (a[12], '-');
}
END_TEST

/* --- timeline, recovery transitions, keys, retention ------------------------ */

/*  "event:attempt," for each timeline entry of id.                         */
static void
s_timeline (orch_store_t *store, const char *id, char *out, size_t size)
{
    orch_event_t *events = NULL;
    size_t count = 0;
    ck_assert_int_eq (orch_store_events (store, id, &events, &count), 0);
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        char one[64];
        snprintf (one, sizeof one, "%s:%u,", events[i].event, events[i].attempt);
        strncat (out, one, size - strlen (out) - 1);
    }
    orch_store_events_free (&events, count);
}

START_TEST (store_timeline_requeue_and_late_runs)
{
    s_tmpdir ();
    const char *id = "0123456789ab-00000003";
    orch_store_t *store = s_store_with (id);
    ck_assert_int_eq (orch_store_set_dispatched (store, id, 1, 10), 1);
    ck_assert_int_eq (orch_store_set_started (store, id, 1, "w1", 11), 1);
    /*  Requeue needs the current attempt and an in-flight status.          */
    ck_assert_int_eq (orch_store_requeue (store, id, 2, true, "w1", "x", 12), 0);
    ck_assert_int_eq (orch_store_requeue (store, id, 1, true, "w1", "w1 went silent", 12), 1);
    ck_assert_int_eq (orch_store_requeue (store, id, 1, true, "w1", "again", 12), 0);
    orch_task_state_t st;
    ck_assert_int_eq (orch_store_lookup (store, id, &st), 1);
    ck_assert_int_eq (st.status, PROTO_STATUS_QUEUED);
    ck_assert_uint_eq (st.attempt, 1);
    ck_assert_uint_eq (st.lost_runs, 1);
    ck_assert_str_eq (st.worker, "");
    /*  The very attempt that went back may still start (reclaimed) ...     */
    ck_assert_int_eq (orch_store_set_started (store, id, 1, "w1", 13), 1);
    ck_assert_int_eq (orch_store_requeue (store, id, 1, false, "w1", "w1 left", 14), 1);
    ck_assert_int_eq (orch_store_lookup (store, id, &st), 1);
    ck_assert_uint_eq (st.lost_runs, 1);                 /* leaving costs nothing */
    /*  ... but not once a newer attempt was sent.                          */
    ck_assert_int_eq (orch_store_set_dispatched (store, id, 2, 15), 1);
    ck_assert_int_eq (orch_store_set_started (store, id, 1, "w1", 16), 0);
    /*  An older attempt's result counts while the newer one has not
        started; its own cancel (a run we did not want) never does.        */
    proto_result_t old = s_result (id, 1, PROTO_STATUS_CANCELLED);
    ck_assert_int_eq (orch_store_set_result (store, &old, 17), 0);
    ck_assert_int_eq (orch_store_set_started (store, id, 2, "w2", 18), 1);
    old = s_result (id, 1, PROTO_STATUS_SUCCEEDED);
    ck_assert_int_eq (orch_store_set_result (store, &old, 19), 0);   /* 2 runs */
    proto_result_t never = s_result (id, 3, PROTO_STATUS_SUCCEEDED);
    ck_assert_int_eq (orch_store_set_result (store, &never, 19), 0);
    proto_result_t r = s_result (id, 2, PROTO_STATUS_FAILED);
    r.worker = "w2";
    r.error = "boom";
    ck_assert_int_eq (orch_store_set_result (store, &r, 20), 1);
    char line[512];
    s_timeline (store, id, line, sizeof line);
    ck_assert_str_eq (line, "queued:0,dispatched:1,started:1,requeued:1,started:1,requeued:1,"
                            "dispatched:2,started:2,failed:2,");
    orch_event_t *events;
    size_t count;
    ck_assert_int_eq (orch_store_events (store, id, &events, &count), 0);
    ck_assert_str_eq (events[3].worker, "w1");
    ck_assert_str_eq (events[3].detail, "w1 went silent");
    ck_assert_int_eq (events[8].at_ms, 20);
    ck_assert_str_eq (events[8].detail, "boom");
    orch_store_events_free (&events, count);
    /*  The result of a task still queued: accepted (attempt >= its own).   */
    const char *argv[] = { "true", NULL };
    size_t size;
    uint8_t *spec = s_spec ("t-q", argv, 1, &size);
    ck_assert_int_eq (orch_store_insert (store, "t-q", spec, size, "true", 30, NULL, NULL,
                                         NULL), 0);
    free (spec);
    ck_assert_int_eq (orch_store_set_dispatched (store, "t-q", 1, 31), 1);
    ck_assert_int_eq (orch_store_requeue (store, "t-q", 1, false, NULL, "lease", 32), 1);
    proto_result_t late = s_result ("t-q", 1, PROTO_STATUS_SUCCEEDED);
    ck_assert_int_eq (orch_store_set_result (store, &late, 33), 1);
    /*  Undo removes the dispatched event (the frame never left).          */
    spec = s_spec ("t-u", argv, 1, &size);
    ck_assert_int_eq (orch_store_insert (store, "t-u", spec, size, "true", 40, NULL, NULL,
                                         NULL), 0);
    free (spec);
    ck_assert_int_eq (orch_store_set_dispatched (store, "t-u", 1, 41), 1);
    ck_assert_int_eq (orch_store_undo_dispatched (store, "t-u", 1), 1);
    s_timeline (store, "t-u", line, sizeof line);
    ck_assert_str_eq (line, "queued:0,");
    orch_store_destroy (&store);
    s_rmdir ();
}
END_TEST

START_TEST (store_finish_cancel_keys_prune)
{
    s_tmpdir ();
    orch_store_t *store = s_store_with (NULL);
    const char *argv[] = { "true", NULL };
    const char *ids[] = { "k-1", "k-2", "k-3", "k-4" };
    for (int i = 0; i < 4; i++) {
        size_t size;
        uint8_t *spec = s_spec (ids[i], argv, 1, &size);
        char key[16];
        snprintf (key, sizeof key, "key-%d", i);
        ck_assert_int_eq (orch_store_insert (store, ids[i], spec, size, "true", 100 + i,
                                             i < 2 ? key : NULL, NULL, NULL), 0);
        free (spec);
    }
    /*  Keys: found; a second task under the same key is refused.           */
    char id[PROTO_ID_MAX + 1];
    ck_assert_int_eq (orch_store_find_key (store, "key-1", id), 1);
    ck_assert_str_eq (id, "k-2");
    ck_assert_int_eq (orch_store_find_key (store, "key-9", id), 0);
    size_t size;
    uint8_t *spec = s_spec ("k-5", argv, 1, &size);
    ck_assert_int_eq (orch_store_insert (store, "k-5", spec, size, "true", 1, "key-0", NULL,
                                         NULL), 1);
    free (spec);
    ck_assert_int_eq (orch_store_state (store, "k-5", &(proto_status_t) { 0 },
                                        &(uint32_t) { 0 }), 0);     /* nothing left */
    /*  Finish: queued -> cancelled, once.                                  */
    ck_assert_int_eq (orch_store_finish (store, "k-1", 0, PROTO_STATUS_CANCELLED, NULL,
                                         "cancelled while queued", 200), 1);
    ck_assert_int_eq (orch_store_finish (store, "k-1", 0, PROTO_STATUS_LOST, NULL, "x", 201), 0);
    ck_assert_int_eq (orch_store_finish (store, "k-2", 0, PROTO_STATUS_RUNNING, NULL, "x", 1),
                      0);                               /* not terminal: refused */
    /*  Cancel requested: running only, current attempt, once.             */
    ck_assert_int_eq (orch_store_set_dispatched (store, "k-2", 1, 300), 1);
    ck_assert_int_eq (orch_store_cancel_requested (store, "k-2", 1, "w", 301), 0);
    ck_assert_int_eq (orch_store_set_started (store, "k-2", 1, "w", 302), 1);
    ck_assert_int_eq (orch_store_cancel_requested (store, "k-2", 2, "w", 303), 0);
    ck_assert_int_eq (orch_store_cancel_requested (store, "k-2", 1, "w", 303), 1);
    ck_assert_int_eq (orch_store_cancel_requested (store, "k-2", 1, "w", 304), 0);
    orch_task_state_t st;
    ck_assert_int_eq (orch_store_lookup (store, "k-2", &st), 1);
    ck_assert_int_eq (st.cancel_ms, 303);
    ck_assert_str_eq (st.worker, "w");
    /*  In flight: k-2 running, k-3 dispatched.                             */
    ck_assert_int_eq (orch_store_set_dispatched (store, "k-3", 1, 305), 1);
    char seen[64] = "";
    ck_assert_int_eq (orch_store_scan_inflight (store, s_collect_state, seen), 0);
    ck_assert_str_eq (seen, "k-2:running:w,k-3:dispatched:,");
    /*  Retention: only finished tasks, only old enough, a batch at a time. */
    proto_result_t r = s_result ("k-2", 1, PROTO_STATUS_CANCELLED);
    proto_file_t files[] = { { "f", { (const uint8_t *) "x", 1 } } };
    r.files = files;
    r.file_count = 1;
    ck_assert_int_eq (orch_store_set_result (store, &r, 400), 1);
    ck_assert_int_eq (orch_store_prune (store, 200, 10), 0);  /* k-1 finished at 200 */
    ck_assert_int_eq (orch_store_prune (store, 1000, 1), 1);
    ck_assert_int_eq (orch_store_prune (store, 1000, 10), 1);
    ck_assert_int_eq (orch_store_prune (store, 1000, 10), 0);
    ck_assert_int_eq (orch_store_lookup (store, "k-1", &st), 0);
    ck_assert_int_eq (orch_store_lookup (store, "k-3", &st), 1);
    ck_assert_int_eq (orch_store_lookup (store, "k-4", &st), 1);
    ck_assert_int_eq (orch_store_find_key (store, "key-0", id), 0);  /* key freed */
    orch_store_destroy (&store);
    /*  Nothing dangles: timelines and files went with their tasks.         */
    char path[128];
    snprintf (path, sizeof path, "%s/cleudo.db", s_dir);
    sqlite3 *db;
    ck_assert_int_eq (sqlite3_open (path, &db), SQLITE_OK);
    sqlite3_stmt *q;
    ck_assert_int_eq (sqlite3_prepare_v2 (db, "SELECT (SELECT count(*) FROM task_events WHERE"
                                          " task_seq NOT IN (SELECT seq FROM tasks)),"
                                          " (SELECT count(*) FROM task_files),"
                                          " (SELECT user_version FROM pragma_user_version)",
                                          -1, &q, NULL), SQLITE_OK);
    ck_assert_int_eq (sqlite3_step (q), SQLITE_ROW);
    ck_assert_int_eq (sqlite3_column_int (q, 0), 0);
    ck_assert_int_eq (sqlite3_column_int (q, 1), 0);
    ck_assert_int_eq (sqlite3_column_int (q, 2), ORCH_STORE_SCHEMA_VERSION);
    sqlite3_finalize (q);
    sqlite3_close (db);
    s_rmdir ();
}
END_TEST

START_TEST (store_migrates_a_version_1_database)
{
    s_tmpdir ();
    char path[128];
    snprintf (path, sizeof path, "%s/cleudo.db", s_dir);
    sqlite3 *db;
    ck_assert_int_eq (sqlite3_open (path, &db), SQLITE_OK);
    /*  The shipped version 1 schema, with one task in it.                 */
    ck_assert_int_eq (sqlite3_exec (db,
        "CREATE TABLE tasks (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,"
        " idem_key TEXT UNIQUE, status TEXT NOT NULL, attempt INTEGER NOT NULL DEFAULT 0,"
        " worker TEXT, spec BLOB NOT NULL, summary TEXT, created_ms INTEGER NOT NULL,"
        " dispatched_ms INTEGER, started_ms INTEGER, finished_ms INTEGER, exit_code INTEGER,"
        " signal INTEGER, stdout BLOB, stderr BLOB, stdout_truncated INTEGER,"
        " stderr_truncated INTEGER, wall_ms INTEGER, cpu_ms INTEGER, max_rss_kb INTEGER,"
        " error TEXT);"
        "CREATE INDEX tasks_status_seq ON tasks (status, seq);"
        "CREATE TABLE task_files (task_seq INTEGER NOT NULL REFERENCES tasks (seq)"
        " ON DELETE CASCADE, kind INTEGER NOT NULL, name TEXT NOT NULL, content BLOB,"
        " PRIMARY KEY (task_seq, kind, name)) WITHOUT ROWID;"
        "INSERT INTO tasks (id, status, attempt, worker, spec, created_ms)"
        " VALUES ('old-1', 'running', 1, 'w', x'80', 5);"
        "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    orch_store_t *store = s_store_with (NULL);
    orch_task_state_t st;
    ck_assert_int_eq (orch_store_lookup (store, "old-1", &st), 1);
    ck_assert_int_eq (st.status, PROTO_STATUS_RUNNING);
    ck_assert_uint_eq (st.lost_runs, 0);
    ck_assert_int_eq (st.cancel_ms, 0);
    ck_assert_int_eq (orch_store_requeue (store, "old-1", 1, true, "w", "gone", 9), 1);
    char line[128];
    s_timeline (store, "old-1", line, sizeof line);
    ck_assert_str_eq (line, "requeued:1,");
    orch_store_destroy (&store);
    s_rmdir ();
}
END_TEST

START_TEST (leases_count_and_select)
{
    orch_leases_t *l = orch_leases_new ();
    ck_assert_ptr_nonnull (orch_leases_dispatched (l, "a", 1, 100, true));
    ck_assert_ptr_nonnull (orch_leases_dispatched (l, "b", 1, 100, false));
    ck_assert_uint_eq (orch_leases_outstanding (l), 1);
    ck_assert_uint_eq (orch_leases_waiting (l), 2);
    /*  Started: no longer waiting nor holding credit; a cancel asked while
        it was dispatched carries over.                                     */
    orch_leases_get (l, "a")->cancel = 5;
    orch_lease_t *a = orch_leases_running (l, "a", 1, "w1", 110);
    ck_assert (a->running && a->cancel == 5 && a->claimed == 110);
    ck_assert_str_eq (a->worker, "w1");
    ck_assert_uint_eq (orch_leases_outstanding (l), 0);
    ck_assert_uint_eq (orch_leases_waiting (l), 1);
    /*  Re-dispatching a lease replaces it.                                 */
    ck_assert_ptr_nonnull (orch_leases_dispatched (l, "b", 2, 120, true));
    ck_assert_uint_eq (orch_leases_count (l), 2);
    ck_assert_uint_eq (orch_leases_outstanding (l), 1);
    ck_assert_uint_eq (orch_leases_get (l, "b")->attempt, 2);
    orch_lease_t *got = NULL;
    size_t n = orch_leases_select (l, s_lease_running, NULL, 10, &got);
    ck_assert_uint_eq (n, 1);
    ck_assert_str_eq (got[0].id, "a");
    free (got);
    orch_leases_remove (l, "b");
    orch_leases_remove (l, "b");
    orch_leases_remove (l, "zz");
    ck_assert_uint_eq (orch_leases_waiting (l), 0);
    ck_assert_uint_eq (orch_leases_outstanding (l), 0);
    ck_assert_uint_eq (orch_leases_count (l), 1);
    orch_leases_destroy (&l);
    orch_leases_destroy (&l);
}
END_TEST

/*  Next control frame the fake worker's SUB got (NULL: none in 500 ms).   */
static proto_msg_t *
s_recv_control (s_env_t *env)
{
    zmq_pollitem_t item = { env->sub, 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, 500) <= 0)
        return NULL;
    zmq_msg_t m;
    zmq_msg_init (&m);
    ck_assert_int_ge (zmq_msg_recv (&m, env->sub, 0), 0);
    proto_error_t perr;
    proto_msg_t *msg = proto_decode (PROTO_CH_CONTROL, zmq_msg_data (&m), zmq_msg_size (&m), 0,
                                     &perr);
    zmq_msg_close (&m);
    ck_assert_msg (msg, "%s: %s", perr.field, perr.message);
    return msg;
}

START_TEST (control_acks_only_after_the_commit)
{
    s_env_t env;
    s_env_up (&env);
    orch_t *o = &env.orch;
    usleep (20000);                     /* the SUB joins */
    orch_control_ack (o->control, "t-1", 1);
    orch_control_ack (o->control, "t-2", 3);
    ck_assert_uint_eq (orch_control_flush (o->control, false), 0);    /* rolled back */
    ck_assert_ptr_null (s_recv_control (&env));
    orch_control_ack (o->control, "t-3", 2);
    orch_control_ack (o->control, "t-4", 1);
    ck_assert_uint_eq (orch_control_flush (o->control, true), 2);
    proto_msg_t *m = s_recv_control (&env);
    ck_assert_int_eq (m->type, PROTO_ACK);
    ck_assert_uint_eq (m->u.ack.id_count, 2);
    ck_assert_str_eq (m->u.ack.ids[0], "t-3");
    ck_assert_uint_eq (m->u.ack.attempts[0], 2);
    proto_msg_destroy (&m);
    ck_assert_uint_eq (orch_control_flush (o->control, true), 0);    /* empty: nothing */
    orch_control_cancel (o->control, "t-5", 4, "w9");
    m = s_recv_control (&env);
    ck_assert_int_eq (m->type, PROTO_CANCEL);
    ck_assert_str_eq (m->u.cancel.id, "t-5");
    ck_assert_uint_eq (m->u.cancel.attempt, 4);
    ck_assert_str_eq (m->u.cancel.worker, "w9");
    proto_msg_destroy (&m);
    ck_assert_uint_eq (orch_control_acks_sent (o->control), 2);
    ck_assert_uint_eq (orch_control_cancels_sent (o->control), 1);
    s_env_down (&env);
}
END_TEST

/*  Accept one task, hello w1 with slots, dispatch it: returns its frame.  */
static proto_msg_t *
s_dispatch_one (s_env_t *env, char *id, const char *worker, uint32_t slots)
{
    s_accept (env, id);
    proto_msg_t hello = { .type = PROTO_HELLO };
    hello.u.hello = s_hello (worker, slots);
    s_feed (env, &hello, NULL);
    usleep (20000);
    ck_assert_uint_ge (orch_dispatch_run (&env->orch), 1);
    proto_msg_t *t = s_recv_task (env);
    ck_assert_ptr_nonnull (t);
    ck_assert_str_eq (t->u.task.id, id);
    return t;
}

static void
s_started_by (s_env_t *env, const char *id, uint32_t attempt, const char *worker)
{
    proto_msg_t started = { .type = PROTO_STARTED };
    started.u.started = (proto_started_t) { id, attempt, worker };
    s_feed (env, &started, NULL);
}

/*  Worker gone from the table (as expiry or "bye" do), then back.         */
static void
s_rejoin (s_env_t *env, const char *worker, uint32_t slots)
{
    orch_workers_forget (env->orch.workers, worker);
    proto_msg_t hello = { .type = PROTO_HELLO };
    hello.u.hello = s_hello (worker, slots);
    s_feed (env, &hello, NULL);
}

static void
s_state_is (s_env_t *env, const char *id, proto_status_t status, uint32_t attempt,
            uint32_t lost_runs)
{
    orch_task_state_t st;
    ck_assert_int_eq (orch_store_lookup (env->orch.store, id, &st), 1);
    ck_assert_msg (st.status == status, "%s is %s", id, proto_status_name (st.status));
    ck_assert_uint_eq (st.attempt, attempt);
    ck_assert_uint_eq (st.lost_runs, lost_runs);
}

START_TEST (recovery_leases_and_dead_workers)
{
    s_env_t env;
    s_env_up (&env);
    orch_t *o = &env.orch;
    char id[PROTO_ID_MAX + 1];
    proto_msg_t *t = s_dispatch_one (&env, id, "w1", 1);
    proto_msg_destroy (&t);
    /*  Not started within the lease: back to the front, no attempt lost.  */
    orch_recovery_cron (o, orch_mono_ms () + 1000);
    s_state_is (&env, id, PROTO_STATUS_DISPATCHED, 1, 0);
    orch_recovery_cron (o, orch_mono_ms () + env.cfg.dispatch_lease + 100);
    s_state_is (&env, id, PROTO_STATUS_QUEUED, 1, 0);
    ck_assert_uint_eq (orch_leases_count (o->leases), 0);
    ck_assert_uint_eq (orch_dispatch_queued (o->dispatch), 1);
    ck_assert_uint_eq (orch_dispatch_run (o), 1);
    t = s_recv_task (&env);
    ck_assert_uint_eq (t->u.task.attempt, 2);
    proto_msg_destroy (&t);
    /*  Started on w1, w1 dies: one run lost, back to the queue.           */
    s_started_by (&env, id, 2, "w1");
    s_state_is (&env, id, PROTO_STATUS_RUNNING, 2, 0);
    orch_recovery_worker_gone (o, "w1", "w1 went silent", true);
    s_state_is (&env, id, PROTO_STATUS_QUEUED, 2, 1);
    /*  A worker that leaves gracefully costs nothing.                      */
    s_rejoin (&env, "w1", 1);
    ck_assert_uint_eq (orch_dispatch_run (o), 1);
    t = s_recv_task (&env);
    proto_msg_destroy (&t);
    s_started_by (&env, id, 3, "w1");
    orch_recovery_worker_gone (o, "w1", "w1 left", false);
    s_state_is (&env, id, PROTO_STATUS_QUEUED, 3, 1);
    /*  The second lost run is the last one allowed (ORCH_MAX_ATTEMPTS 2).  */
    s_rejoin (&env, "w1", 1);
    ck_assert_uint_eq (orch_dispatch_run (o), 1);
    t = s_recv_task (&env);
    proto_msg_destroy (&t);
    s_started_by (&env, id, 4, "w1");
    /*  A running lease nobody claims expires like a dead worker.           */
    orch_recovery_cron (o, orch_mono_ms () + env.cfg.worker_timeout + 100);
    orch_record_t *rec = NULL;
    ck_assert_int_eq (orch_store_get (o->store, id, false, &rec), 1);
    ck_assert_int_eq (rec->view.status, PROTO_STATUS_LOST);
    ck_assert_ptr_nonnull (strstr (rec->error, "stopped reporting it"));
    ck_assert_ptr_nonnull (strstr (rec->error, "2 of 2 allowed runs"));
    orch_record_destroy (&rec);
    ck_assert_uint_eq (orch_leases_count (o->leases), 0);
    s_env_down (&env);
}
END_TEST

START_TEST (recovery_heartbeats_reconcile)
{
    s_env_t env;
    s_env_up (&env);
    orch_t *o = &env.orch;
    usleep (20000);
    char id[PROTO_ID_MAX + 1];
    proto_msg_t *t = s_dispatch_one (&env, id, "w1", 2);
    proto_msg_destroy (&t);
    /*  Its "started" was lost: a heartbeat that lists it starts it.       */
    const char *running[] = { id, "zz-unknown", NULL };
    const uint32_t attempts[] = { 1, 7 };
    proto_msg_t hb = { .type = PROTO_HEARTBEAT };
    hb.u.heartbeat = (proto_heartbeat_t) { .worker = "w1", .free = 0, .running = running,
                                           .running_count = 2, .attempts = attempts };
    s_feed (&env, &hb, NULL);
    s_state_is (&env, id, PROTO_STATUS_RUNNING, 1, 0);
    ck_assert_str_eq (orch_leases_get (o->leases, id)->worker, "w1");
    /*  ... and a run of a task nobody knows is cancelled at that worker.   */
    proto_msg_t *m = s_recv_control (&env);
    ck_assert_int_eq (m->type, PROTO_CANCEL);
    ck_assert_str_eq (m->u.cancel.id, "zz-unknown");
    ck_assert_uint_eq (m->u.cancel.attempt, 7);
    ck_assert_str_eq (m->u.cancel.worker, "w1");
    proto_msg_destroy (&m);
    /*  Another worker claiming the same task runs a duplicate: cancelled. */
    hb.u.heartbeat.worker = "w2";
    hb.u.heartbeat.running_count = 1;
    s_feed (&env, &hb, NULL);
    m = s_recv_control (&env);
    ck_assert_str_eq (m->u.cancel.worker, "w2");
    proto_msg_destroy (&m);
    /*  w1 given up for dead, then heard again: the run is taken back.     */
    orch_recovery_worker_gone (o, "w1", "silent", true);
    s_state_is (&env, id, PROTO_STATUS_QUEUED, 1, 1);
    ck_assert_uint_eq (orch_dispatch_queued (o->dispatch), 1);
    hb.u.heartbeat.worker = "w1";
    s_feed (&env, &hb, NULL);
    s_state_is (&env, id, PROTO_STATUS_RUNNING, 1, 1);
    ck_assert_uint_eq (orch_dispatch_queued (o->dispatch), 0);          /* forgotten */
    ck_assert_ptr_null (s_recv_control (&env));
    /*  A stale "started" (attempt 1 after attempt 2 was sent) is cancelled. */
    orch_recovery_worker_gone (o, "w1", "silent", false);
    s_rejoin (&env, "w1", 2);
    ck_assert_uint_eq (orch_dispatch_run (o), 1);
    t = s_recv_task (&env);
    ck_assert_uint_eq (t->u.task.attempt, 2);
    proto_msg_destroy (&t);
    s_started_by (&env, id, 1, "w3");
    m = s_recv_control (&env);
    ck_assert_int_eq (m->type, PROTO_CANCEL);
    ck_assert_uint_eq (m->u.cancel.attempt, 1);
    ck_assert_str_eq (m->u.cancel.worker, "w3");
    proto_msg_destroy (&m);
    s_state_is (&env, id, PROTO_STATUS_DISPATCHED, 2, 1);
    s_env_down (&env);
}
END_TEST

START_TEST (results_acked_and_waiters_woken_after_commit)
{
    s_env_t env;
    s_env_up (&env);
    orch_t *o = &env.orch;
    usleep (20000);
    char id[PROTO_ID_MAX + 1];
    proto_msg_t *t = s_dispatch_one (&env, id, "w1", 1);
    proto_msg_destroy (&t);
    s_started_by (&env, id, 1, "w1");
    s_woken[0] = '\0';
    ck_assert_ptr_nonnull (orch_waiters_add (o->waiters, id, orch_mono_ms () + 60000, s_wake,
                                             "r"));
    proto_msg_t result = { .type = PROTO_RESULT };
    result.u.result = s_result (id, 1, PROTO_STATUS_SUCCEEDED);
    /*  Output beyond ORCH_MAX_OUTPUT_STORED is cut and marked.            */
    env.cfg.max_output_stored = 2;
    orch_batch_begin (o);
    ck_assert_int_eq (s_feed (&env, &result, NULL), 1);
    ck_assert_int_eq (s_feed (&env, &result, NULL), 0);          /* a duplicate */
    ck_assert_str_eq (s_woken, "");                              /* not committed yet */
    ck_assert_ptr_null (s_recv_control (&env));
    ck_assert_int_eq (orch_batch_commit (o), 0);
    ck_assert_ptr_nonnull (strstr (s_woken, "r:"));
    proto_msg_t *m = s_recv_control (&env);
    ck_assert_int_eq (m->type, PROTO_ACK);
    ck_assert_uint_eq (m->u.ack.id_count, 2);                    /* duplicates too */
    ck_assert_str_eq (m->u.ack.ids[1], id);
    proto_msg_destroy (&m);
    orch_record_t *rec = NULL;
    ck_assert_int_eq (orch_store_get (o->store, id, true, &rec), 1);
    ck_assert_uint_eq (rec->view.result.stdout_data.size, 2);
    ck_assert (rec->view.result.stdout_truncated);
    orch_record_destroy (&rec);
    ck_assert_uint_eq (orch_leases_count (o->leases), 0);
    s_env_down (&env);
}
END_TEST

START_TEST (cancel_queued_dispatched_running_finished)
{
    s_env_t env;
    s_env_up (&env);
    orch_t *o = &env.orch;
    usleep (20000);
    orch_cancel_t out;
    orch_err_t err;
    char queued[PROTO_ID_MAX + 1];
    s_accept (&env, queued);
    ck_assert_int_eq (orch_cancel (o, queued, &out, &err), 0);
    ck_assert_int_eq (out, ORCH_CANCEL_DONE);
    ck_assert_uint_eq (orch_dispatch_queued (o->dispatch), 0);
    ck_assert_int_eq (orch_cancel (o, queued, &out, &err), -1);
    ck_assert_int_eq (err.status, 409);
    ck_assert_str_eq (err.code, "conflict");
    ck_assert_int_eq (orch_cancel (o, "nope-1", &out, &err), -1);
    ck_assert_int_eq (err.status, 404);
    /*  dispatched: cancelled now, a cancel for the attempt in flight.     */
    char sent[PROTO_ID_MAX + 1];
    proto_msg_t *t = s_dispatch_one (&env, sent, "w1", 2);
    proto_msg_destroy (&t);
    ck_assert_int_eq (orch_cancel (o, sent, &out, &err), 0);
    ck_assert_int_eq (out, ORCH_CANCEL_DONE);
    ck_assert_uint_eq (orch_leases_outstanding (o->leases), 0);       /* credit back */
    proto_msg_t *m = s_recv_control (&env);
    ck_assert_str_eq (m->u.cancel.id, sent);
    ck_assert_ptr_null (m->u.cancel.worker);
    proto_msg_destroy (&m);
    /*  running: pending until the worker's result says cancelled.         */
    char run[PROTO_ID_MAX + 1];
    s_accept (&env, run);
    ck_assert_uint_eq (orch_dispatch_run (o), 1);
    t = s_recv_task (&env);
    proto_msg_destroy (&t);
    s_started_by (&env, run, 1, "w1");
    ck_assert_int_eq (orch_cancel (o, run, &out, &err), 0);
    ck_assert_int_eq (out, ORCH_CANCEL_PENDING);
    ck_assert_int_eq (orch_cancel (o, run, &out, &err), 0);           /* asked again */
    m = s_recv_control (&env);
    ck_assert_str_eq (m->u.cancel.worker, "w1");
    proto_msg_destroy (&m);
    ck_assert (orch_leases_get (o->leases, run)->cancel > 0);
    /*  The worker dies before it confirms: cancelled, not requeued.       */
    orch_recovery_worker_gone (o, "w1", "gone", true);
    s_state_is (&env, run, PROTO_STATUS_CANCELLED, 1, 0);
    s_env_down (&env);
}
END_TEST

START_TEST (accept_keys_and_the_bounded_queue)
{
    s_env_t env;
    s_env_up (&env);
    env.cfg.max_queued = 2;
    orch_t *o = &env.orch;
    const char *argv[] = { "true", NULL };
    proto_task_t t = { .argv = argv, .argc = 1 };
    t.limits.network = -1;
    char a[PROTO_ID_MAX + 1], b[PROTO_ID_MAX + 1], c[PROTO_ID_MAX + 1];
    orch_err_t err;
    bool existed;
    ck_assert_int_eq (orch_tasks_accept (o, &t, "key-a", a, &existed, &err), 0);
    ck_assert (!existed);
    ck_assert_int_eq (orch_tasks_accept (o, &t, "key-a", b, &existed, &err), 0);
    ck_assert (existed);
    ck_assert_str_eq (a, b);
    ck_assert_int_eq (orch_tasks_accept (o, &t, NULL, b, &existed, &err), 0);
    ck_assert_uint_eq (orch_tasks_waiting (o), 2);
    ck_assert_int_eq (orch_tasks_accept (o, &t, NULL, c, &existed, &err), -1);
    ck_assert_int_eq (err.status, 429);
    ck_assert_str_eq (err.code, "queue_full");
    /*  A key seen before is answered even when the queue is full.          */
    ck_assert_int_eq (orch_tasks_accept (o, &t, "key-a", c, &existed, &err), 0);
    ck_assert_str_eq (c, a);
    ck_assert_int_eq (orch_tasks_accept (o, &t, "bad\nkey", c, &existed, &err), -1);
    ck_assert_int_eq (err.status, 400);
    ck_assert (!orch_tasks_valid_key (""));
    ck_assert (orch_tasks_valid_key ("x"));
    s_env_down (&env);
}
END_TEST


/* --- CURVE: certificates, keygen, the ZAP handler ---------------------- */

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    ck_assert_ptr_nonnull (f);
    fputs (text, f);
    fclose (f);
}

START_TEST (cert_save_load_and_errors)
{
    s_tmpdir ();
    char pub[128], sec[128], err[1024];
    snprintf (pub, sizeof pub, "%s/a.key", s_dir);
    snprintf (sec, sizeof sec, "%s/a.key_secret", s_dir);
    cert_t c, back;
    ck_assert_int_eq (cert_generate (&c), 0);
    ck_assert_int_eq (cert_save_public (&c, pub, err, sizeof err), 0);
    ck_assert_int_eq (cert_save_secret (&c, sec, err, sizeof err), 0);
    struct stat st;
    ck_assert_int_eq (stat (sec, &st), 0);
    ck_assert_int_eq (st.st_mode & 0777, 0600);
    ck_assert_int_eq (stat (pub, &st), 0);
    ck_assert_int_eq (st.st_mode & 0777, 0644);
    /*  Never replaced.                                                      */
    ck_assert_int_eq (cert_save_secret (&c, sec, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "exists already"));

    ck_assert_int_eq (cert_load (sec, true, &back, err, sizeof err), 0);
    ck_assert (back.has_secret);
    ck_assert_mem_eq (back.public_key, c.public_key, 32);
    ck_assert_mem_eq (back.secret_key, c.secret_key, 32);
    ck_assert_int_eq (cert_load (pub, false, &back, err, sizeof err), 0);
    ck_assert (!back.has_secret);
    ck_assert_mem_eq (back.public_key, c.public_key, 32);
    /*  A public certificate where a secret one is needed.                  */
    ck_assert_int_eq (cert_load (pub, true, &back, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "_secret"));

    /*  Missing, not a certificate, bad Z85, a secret of another key.      */
    char path[128];
    snprintf (path, sizeof path, "%s/missing.key", s_dir);
    ck_assert_int_eq (cert_load (path, false, &back, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, path));
    ck_assert_ptr_nonnull (strstr (err, "No such file"));
    snprintf (path, sizeof path, "%s/junk.key", s_dir);
    s_write (path, "hello\n");
    ck_assert_int_eq (cert_load (path, false, &back, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "not a CURVE certificate"));
    s_write (path, "curve\n    public-key = \"tooshort\"\n");
    ck_assert_int_eq (cert_load (path, false, &back, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "public-key is not 40 Z85"));
    /*  public-key at top level, outside "curve": not found.               */
    s_write (path, "public-key = \"0000000000000000000000000000000000000000\"\n");
    ck_assert_int_eq (cert_load (path, false, &back, err, sizeof err), -1);
    cert_t other;
    ck_assert_int_eq (cert_generate (&other), 0);
    char p85[41], s85[41], text[256];
    cert_z85 (c.public_key, p85);
    cert_z85 (other.secret_key, s85);
    snprintf (text, sizeof text, "metadata\ncurve\n    public-key = \"%s\"\n"
              "    secret-key = \"%s\"\n", p85, s85);
    s_write (path, text);
    ck_assert_int_eq (cert_load (path, false, &back, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "does not belong"));
    s_rmdir ();
}
END_TEST

START_TEST (cert_reads_czmq_and_czmq_reads_ours)
{
    s_tmpdir ();
    char path[128], err[1024];
    /*  czmq writes, we read.                                               */
    snprintf (path, sizeof path, "%s/czmq.key", s_dir);
    zcert_t *z = zcert_new ();
    zcert_set_meta (z, "name", "%s", "from czmq");
    ck_assert_int_eq (zcert_save (z, path), 0);
    cert_t c;
    char secret[160];
    snprintf (secret, sizeof secret, "%s_secret", path);
    ck_assert_int_eq (cert_load (secret, true, &c, err, sizeof err), 0);
    ck_assert_mem_eq (c.public_key, zcert_public_key (z), 32);
    ck_assert_mem_eq (c.secret_key, zcert_secret_key (z), 32);
    ck_assert_int_eq (cert_load (path, false, &c, err, sizeof err), 0);
    ck_assert_mem_eq (c.public_key, zcert_public_key (z), 32);
    zcert_destroy (&z);
    /*  We write, czmq reads (the secret file alone: rename the public one). */
    snprintf (path, sizeof path, "%s/ours.key", s_dir);
    snprintf (secret, sizeof secret, "%s_secret", path);
    ck_assert_int_eq (cert_generate (&c), 0);
    ck_assert_int_eq (cert_save_secret (&c, secret, err, sizeof err), 0);
    ck_assert_int_eq (cert_save_public (&c, path, err, sizeof err), 0);
    z = zcert_load (path);
    ck_assert_ptr_nonnull (z);
    ck_assert_mem_eq (zcert_public_key (z), c.public_key, 32);
    ck_assert_mem_eq (zcert_secret_key (z), c.secret_key, 32);
    zcert_destroy (&z);
    s_rmdir ();
}
END_TEST

START_TEST (curve_keygen_and_loading_errors)
{
    s_tmpdir ();
    char keys[128], path[256], err[8192];
    snprintf (keys, sizeof keys, "%s/keys", s_dir);
    void *zctx = zmq_ctx_new ();
    /*  Nothing there yet: the message names the variable, file and cure.   */
    orch_curve_t *curve = orch_curve_new (zctx, keys, err, sizeof err);
    ck_assert_ptr_null (curve);
    ck_assert_ptr_nonnull (strstr (err, "ORCH_KEYS_DIR="));
    ck_assert_ptr_nonnull (strstr (err, "server.key_secret"));
    ck_assert_ptr_nonnull (strstr (err, "orchestrator keygen"));

    FILE *out = fopen ("/dev/null", "w");
    ck_assert_int_eq (orch_curve_keygen (keys, out, err, sizeof err), 0);
    ck_assert_int_eq (orch_curve_keygen (keys, out, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "exists already"));
    fclose (out);
    struct stat st;
    snprintf (path, sizeof path, "%s/worker.key_secret", keys);
    ck_assert_int_eq (stat (path, &st), 0);
    ck_assert_int_eq (st.st_mode & 0777, 0600);

    curve = orch_curve_new (zctx, keys, err, sizeof err);
    ck_assert_msg (curve != NULL, "%s", err);
    ck_assert_uint_eq (orch_curve_allowed (curve), 1);
    orch_curve_destroy (&curve);
    orch_curve_destroy (&curve);                /* twice is fine */

    /*  A secret certificate in the allowed directory is refused.           */
    char moved[256];
    snprintf (moved, sizeof moved, "%s/workers/w.key_secret", keys);
    ck_assert_int_eq (rename (path, moved), 0);
    curve = orch_curve_new (zctx, keys, err, sizeof err);
    ck_assert_ptr_null (curve);
    ck_assert_ptr_nonnull (strstr (err, "secret certificate"));
    ck_assert_int_eq (unlink (moved), 0);
    /*  No allowed worker at all.                                           */
    snprintf (path, sizeof path, "%s/workers/worker.key", keys);
    ck_assert_int_eq (unlink (path), 0);
    curve = orch_curve_new (zctx, keys, err, sizeof err);
    ck_assert_ptr_null (curve);
    ck_assert_ptr_nonnull (strstr (err, "no worker certificate"));
    zmq_ctx_term (zctx);
    s_rmdir ();
}
END_TEST

START_TEST (curve_zap_lets_only_allowed_keys_in)
{
    s_tmpdir ();
    char keys[128], path[256], err[8192];
    snprintf (keys, sizeof keys, "%s/keys", s_dir);
    FILE *out = fopen ("/dev/null", "w");
    ck_assert_int_eq (orch_curve_keygen (keys, out, err, sizeof err), 0);
    fclose (out);
    cert_t server, worker, stranger;
    snprintf (path, sizeof path, "%s/server.key", keys);
    ck_assert_int_eq (cert_load (path, false, &server, err, sizeof err), 0);
    snprintf (path, sizeof path, "%s/worker.key_secret", keys);
    ck_assert_int_eq (cert_load (path, true, &worker, err, sizeof err), 0);
    ck_assert_int_eq (cert_generate (&stranger), 0);

    void *zctx = zmq_ctx_new ();
    orch_curve_t *curve = orch_curve_new (zctx, keys, err, sizeof err);
    ck_assert_msg (curve != NULL, "%s", err);
    void *pull = zmq_socket (zctx, ZMQ_PULL);
    int zero = 0;
    zmq_setsockopt (pull, ZMQ_LINGER, &zero, sizeof zero);
    ck_assert_int_eq (orch_curve_secure (curve, pull, "results"), 0);
    ck_assert_int_eq (zmq_bind (pull, "tcp://127.0.0.1:*"), 0);
    char endpoint[128];
    size_t len = sizeof endpoint;
    zmq_getsockopt (pull, ZMQ_LAST_ENDPOINT, endpoint, &len);

    const cert_t *clients[2] = { &stranger, &worker };
    for (int i = 0; i < 2; i++) {
        void *push = zmq_socket (zctx, ZMQ_PUSH);
        zmq_setsockopt (push, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt (push, ZMQ_CURVE_SERVERKEY, server.public_key, 32);
        zmq_setsockopt (push, ZMQ_CURVE_PUBLICKEY, clients[i]->public_key, 32);
        zmq_setsockopt (push, ZMQ_CURVE_SECRETKEY, clients[i]->secret_key, 32);
        ck_assert_int_eq (zmq_connect (push, endpoint), 0);
        bool sent = false, arrived = false;
        /*  Play the main loop: answer ZAP, try to send, look for the frame. */
        for (int t = 0; t < 100 && !arrived; t++) {
            orch_curve_drain (curve);
            if (!sent)
                sent = zmq_send (push, "hi", 2, ZMQ_DONTWAIT) == 2;
            char buf[8];
            arrived = zmq_recv (pull, buf, sizeof buf, ZMQ_DONTWAIT) == 2;
            usleep (10 * 1000);
        }
        /*  The stranger's frame is queued on its side (a connecting
            socket has a pipe at once) but never reaches the PULL.          */
        ck_assert (sent);
        ck_assert_int_eq (arrived, i == 1);
        zmq_close (push);
    }
    zmq_close (pull);
    orch_curve_destroy (&curve);
    zmq_ctx_term (zctx);
    s_rmdir ();
}
END_TEST

int
main (void)
{
    log_set_level (CLOG_ERROR);          /* the modules log every event */
    Suite *s = suite_create ("orchestrator");
    TCase *tc = tcase_create ("codecs");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, token_compare_and_validate);
    tcase_add_test (tc, token_file_created_0600_and_reused);
    tcase_add_test (tc, task_ids_sort_by_time);
    suite_add_tcase (s, tc);

    tc = tcase_create ("curve");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, cert_save_load_and_errors);
    tcase_add_test (tc, cert_reads_czmq_and_czmq_reads_ours);
    tcase_add_test (tc, curve_keygen_and_loading_errors);
    tcase_add_test (tc, curve_zap_lets_only_allowed_keys_in);
    suite_add_tcase (s, tc);

    tc = tcase_create ("store");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, store_lifecycle_and_guards);
    tcase_add_test (tc, store_survives_reopen_and_locks);
    tcase_add_test (tc, store_list_scan_count);
    tcase_add_test (tc, store_timeline_requeue_and_late_runs);
    tcase_add_test (tc, store_finish_cancel_keys_prune);
    tcase_add_test (tc, store_migrates_a_version_1_database);
    suite_add_tcase (s, tc);

    tc = tcase_create ("json");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, task_json_full_body);
    tcase_add_test (tc, task_json_errors_name_their_field);
    tcase_add_test (tc, task_json_limits_at_the_bounds);
    tcase_add_test (tc, record_json_text_b64_twins_and_nulls);
    tcase_add_test (tc, json_depth_checked_before_parsing);
    tcase_add_test (tc, heartbeat_floods_are_cut);
    suite_add_tcase (s, tc);

    tc = tcase_create ("dispatch");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, worker_credit_accounting);
    tcase_add_test (tc, dispatch_respects_credit);
    tcase_add_test (tc, dispatch_in_a_batch_sends_after_its_commit);
    tcase_add_test (tc, dispatch_sends_nothing_without_a_connected_worker);
    tcase_add_test (tc, accept_refuses_frames_over_the_cap);
    tcase_add_test (tc, waiters_fire_expire_cancel);
    suite_add_tcase (s, tc);

    tc = tcase_create ("reliability");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, leases_count_and_select);
    tcase_add_test (tc, control_acks_only_after_the_commit);
    tcase_add_test (tc, recovery_leases_and_dead_workers);
    tcase_add_test (tc, recovery_heartbeats_reconcile);
    tcase_add_test (tc, results_acked_and_waiters_woken_after_commit);
    tcase_add_test (tc, cancel_queued_dispatched_running_finished);
    tcase_add_test (tc, accept_keys_and_the_bounded_queue);
    suite_add_tcase (s, tc);

    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? 1 : 0;
}
