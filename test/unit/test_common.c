/*  test_common.c - the configuration table, the log quoting, base64,
    UTF-8, and the task and record JSON that the HTTP API and
    `cleudo --json` share.                                                  */
#include "b64.h"
#include "config.h"
#include "log.h"
#include "record_to_json.h"
#include "task_summary.h"
#include "task_to_json.h"
#include "utf8.h"

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *s_addr;
static int64_t s_slots;
static int64_t s_mem;
static int64_t s_wall;
static bool s_flag;
static const char *s_mode;
static const char *s_require;

static const cfg_option_t s_opts[] = {
    { "T_ADDR", "addr", CFG_HOSTPORT, "127.0.0.1:8080", 0, 0, NULL, "address", &s_addr, false },
    { "T_SLOTS", "slots", CFG_INT, "2", 1, 64, NULL, "slots", &s_slots, false },
    { "T_MEM", "mem", CFG_BYTES, "256M", 1024, 1ll << 40, NULL, "memory", &s_mem, false },
    { "T_WALL", "wall", CFG_MS, "5s", 1, 3600000, NULL, "wall", &s_wall, false },
    { "T_FLAG", "flag", CFG_BOOL, "false", 0, 0, NULL, "flag", &s_flag, false },
    { "T_MODE", "mode", CFG_CHOICE, "normal", 0, 0, "normal|full", "mode", &s_mode, false },
    { "T_REQUIRE", "require", CFG_LIST, "", 0, 0, "seccomp|landlock|userns", "layers", &s_require, false },
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

static int
s_load (int argc, char **argv, char *err)
{
    int first = 0;
    return cfg_load (s_opts, N_OPTS, argc, argv, "usage: t", &first, err, 256);
}

START_TEST (defaults_apply)
{
    char err[256] = "";
    char *argv[] = { "t", NULL };
    unsetenv ("T_SLOTS");
    ck_assert_int_eq (s_load (1, argv, err), 0);
    ck_assert_str_eq (s_addr, "127.0.0.1:8080");
    ck_assert_int_eq (s_slots, 2);
    ck_assert_int_eq (s_mem, 256 * 1024 * 1024);
    ck_assert_int_eq (s_wall, 5000);
    ck_assert (!s_flag);
}
END_TEST

START_TEST (env_then_flag_wins)
{
    char err[256] = "";
    setenv ("T_SLOTS", "8", 1);
    char *argv[] = { "t", "--slots=4", "--flag", "--wall", "2m", "rest", NULL };
    int first = 0;
    ck_assert_int_eq (cfg_load (s_opts, N_OPTS, 6, argv, "u", &first, err, sizeof err), 0);
    ck_assert_int_eq (s_slots, 4);
    ck_assert (s_flag);
    ck_assert_int_eq (s_wall, 120000);
    ck_assert_int_eq (first, 5);
    unsetenv ("T_SLOTS");
}
END_TEST

START_TEST (bad_env_names_variable_value_and_range)
{
    char err[256] = "";
    char *argv[] = { "t", NULL };
    setenv ("T_SLOTS", "999", 1);
    ck_assert_int_eq (s_load (1, argv, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "T_SLOTS"));
    ck_assert_ptr_nonnull (strstr (err, "999"));
    ck_assert_ptr_nonnull (strstr (err, "between 1 and 64"));
    setenv ("T_SLOTS", "abc", 1);
    ck_assert_int_eq (s_load (1, argv, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "integer"));
    unsetenv ("T_SLOTS");
}
END_TEST

START_TEST (empty_env_counts_as_unset)
{
    char err[256] = "";
    char *argv[] = { "t", NULL };
    setenv ("T_SLOTS", "", 1);
    ck_assert_int_eq (s_load (1, argv, err), 0);
    ck_assert_int_eq (s_slots, 2);
    unsetenv ("T_SLOTS");
}
END_TEST

START_TEST (bad_values_of_each_type)
{
    char err[256];
    ck_assert_int_eq (cfg_parse (&s_opts[0], "nohost", err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "HOST:PORT"));
    ck_assert_int_eq (cfg_parse (&s_opts[0], "h:70000", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[2], "12Q", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[3], "5 parsecs", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[4], "maybe", err, sizeof err), -1);
    ck_assert_int_eq (cfg_parse (&s_opts[5], "fast", err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "normal|full"));
    ck_assert_int_eq (cfg_parse (&s_opts[6], "seccomp,apparmor", err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "apparmor"));
    ck_assert_int_eq (cfg_parse (&s_opts[6], "seccomp,landlock", err, sizeof err), 0);
}
END_TEST

START_TEST (unknown_flag_and_missing_value)
{
    char err[256] = "";
    char *argv1[] = { "t", "--nope", NULL };
    ck_assert_int_eq (s_load (2, argv1, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "unknown option '--nope'"));
    char *argv2[] = { "t", "--slots", NULL };
    ck_assert_int_eq (s_load (2, argv2, err), -1);
    ck_assert_ptr_nonnull (strstr (err, "needs a value"));
}
END_TEST

START_TEST (units)
{
    int64_t v;
    ck_assert_int_eq (cfg_parse_bytes ("64K", &v), 0);
    ck_assert_int_eq (v, 65536);
    ck_assert_int_eq (cfg_parse_bytes ("2GiB", &v), 0);
    ck_assert_int_eq (v, 2ll << 30);
    ck_assert_int_eq (cfg_parse_bytes ("99999999999G", &v), -1);
    ck_assert_int_eq (cfg_parse_ms ("250ms", &v), 0);
    ck_assert_int_eq (v, 250);
    ck_assert_int_eq (cfg_parse_ms ("1h", &v), 0);
    ck_assert_int_eq (v, 3600000);
    ck_assert_int_eq (cfg_parse_ms ("", &v), -1);
}
END_TEST

START_TEST (secret_is_masked)
{
    char buf[32];
    cfg_mask_secret ("abcdefghijkl", buf, sizeof buf);
    ck_assert_str_eq (buf, "abcd…");
}
END_TEST

START_TEST (log_quote_escapes_control_and_quotes)
{
    char buf[64];
    log_quote (buf, sizeof buf, "a\"b\n\x01", 5);
    ck_assert_str_eq (buf, "\"a\\\"b\\n\\x01\"");
    char small[12];
    log_quote (small, sizeof small, "0123456789abcdef", 16);
    ck_assert_int_le (strlen (small), 11);
}
END_TEST

/*  What was written to fd 2 (a pipe while capturing).                    */
typedef struct {
    char text[65536];
    size_t len;
} s_captured_t;

static int s_saved_stderr = -1;
static int s_pipe[2];

static void
s_capture_start (void)
{
    fflush (stderr);
    ck_assert_int_eq (pipe (s_pipe), 0);
    s_saved_stderr = dup (2);
    ck_assert_int_eq (dup2 (s_pipe[1], 2), 2);
}

/*  Bytes written to fd 2 since the last call.                              */
static size_t
s_capture_take (s_captured_t *c)
{
    c->len = 0;
    int flags = fcntl (s_pipe[0], F_GETFL);
    fcntl (s_pipe[0], F_SETFL, flags | O_NONBLOCK);
    ssize_t n;
    while ((n = read (s_pipe[0], c->text + c->len, sizeof c->text - 1 - c->len)) > 0)
        c->len += (size_t) n;
    c->text[c->len] = '\0';
    return c->len;
}

static void
s_capture_stop (void)
{
    dup2 (s_saved_stderr, 2);
    close (s_saved_stderr);
    close (s_pipe[0]);
    close (s_pipe[1]);
}

/*  Held lines: nothing until a flush or a warning, the order kept, every
    line whole, a burst beyond the 4 KiB hold flushed as it goes.          */
START_TEST (log_hold_writes_whole_lines_per_flush)
{
    s_captured_t *c = malloc (sizeof *c);
    s_capture_start ();
    log_hold ();
    log_event (CLOG_INFO, "one", "n=1");
    log_event (CLOG_INFO, "two", "n=2");
    ck_assert_uint_eq (s_capture_take (c), 0);
    log_event (CLOG_WARN, "three", "n=3");            /* at once, after the held */
    ck_assert_uint_gt (s_capture_take (c), 0);
    char *one = strstr (c->text, "event=one"), *two = strstr (c->text, "event=two");
    char *three = strstr (c->text, "event=three");
    ck_assert (one && two && three && one < two && two < three);
    log_event (CLOG_INFO, "four", NULL);
    ck_assert_uint_eq (s_capture_take (c), 0);
    log_flush ();
    ck_assert_uint_gt (s_capture_take (c), 0);
    ck_assert_ptr_nonnull (strstr (c->text, "event=four"));
    /*  A burst: whole lines in writes of at most 4 KiB.                   */
    for (int i = 0; i < 200; i++)
        log_event (CLOG_INFO, "burst", "i=%03d pad=%0100d", i, 0);
    log_flush ();
    ck_assert_uint_gt (s_capture_take (c), 200 * 100);
    int lines = 0;
    for (char *p = c->text; (p = strstr (p, "event=burst")); p++)
        lines++;
    ck_assert_int_eq (lines, 200);
    ck_assert_int_eq (c->text[c->len - 1], '\n');
    s_capture_stop ();
    free (c);
}
END_TEST

/* --- base64 ---------------------------------------------------------------- */

START_TEST (b64_vectors)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const std[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy" };
    static const char *const url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    for (size_t i = 0; i < 7; i++) {
        char out[32];
        size_t n = b64_encode (plain[i], strlen (plain[i]), out, false);
        ck_assert_str_eq (out, std[i]);
        ck_assert_uint_eq (n, b64_encoded_len (strlen (plain[i]), false));
        n = b64_encode (plain[i], strlen (plain[i]), out, true);
        ck_assert_str_eq (out, url[i]);
        ck_assert_uint_eq (n, b64_encoded_len (strlen (plain[i]), true));
        char *text = b64_encode_new (plain[i], strlen (plain[i]), &n);
        ck_assert_str_eq (text, std[i]);
        ck_assert_uint_eq (n, strlen (std[i]));
        free (text);
        uint8_t *back = NULL;
        size_t size = 99;
        ck_assert_int_eq (b64_decode (std[i], strlen (std[i]), &back, &size, NULL, NULL), 0);
        ck_assert_ptr_nonnull (back);
        ck_assert_uint_eq (size, strlen (plain[i]));
        ck_assert (memcmp (back, plain[i], size) == 0);
        free (back);
    }
    /*  URL alphabet: 62 and 63 are '-' and '_'.                            */
    char out[8];
    b64_encode ("\xfb\xff", 2, out, true);
    ck_assert_str_eq (out, "-_8");
    b64_encode ("\xfb\xff", 2, out, false);
    ck_assert_str_eq (out, "+/8=");
}
END_TEST

START_TEST (b64_round_trip_all_bytes)
{
    uint8_t data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t) (i * 7 + 3);
    for (size_t len = 0; len < sizeof data; len += 1 + len / 8) {
        size_t n;
        char *text = b64_encode_new (data, len, &n);
        ck_assert_ptr_nonnull (text);
        uint8_t *back;
        size_t size;
        ck_assert_int_eq (b64_decode (text, n, &back, &size, NULL, NULL), 0);
        ck_assert_uint_eq (size, len);
        ck_assert (len == 0 || memcmp (back, data, len) == 0);
        free (back);
        free (text);
    }
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t) i;
    size_t n;
    char *text = b64_encode_new (all, sizeof all, &n);
    uint8_t *back;
    size_t size;
    ck_assert_int_eq (b64_decode (text, n, &back, &size, NULL, NULL), 0);
    ck_assert_uint_eq (size, 256);
    ck_assert_mem_eq (back, all, 256);
    free (back);
    free (text);
}
END_TEST

START_TEST (b64_strict_rejects)
{
    static const struct { const char *text; size_t at; const char *why; } bad[] = {
        { "Zg", 2, "multiple of 4" },
        { "Zg=", 3, "multiple of 4" },
        { "Zm9v\n", 5, "multiple of 4" },
        { "Zm9\n", 3, "not a base64" },
        { "Zm9!", 3, "not a base64" },
        { "Zm=v", 2, "padding" },
        { "Z=g=", 1, "padding" },
        { "Z===", 1, "padding" },
        { "====", 0, "padding" },
        { "Zh==", 1, "trailing bits" },
        { "Zm9=", 2, "trailing bits" },
        { "@@@@", 0, "not a base64" },
        { "Zm9v-_==", 4, "not a base64" },
        { "Zg==Zg==", 2, "padding" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *out = NULL;
        size_t size, at = 999;
        const char *why = NULL;
        ck_assert_msg (b64_decode (bad[i].text, strlen (bad[i].text), &out, &size, &at,
                                   &why) == -1, "accepted %s", bad[i].text);
        ck_assert_ptr_null (out);
        ck_assert_msg (strstr (why, bad[i].why), "%s: %s", bad[i].text, why);
        ck_assert_msg (at == bad[i].at, "%s: at %zu", bad[i].text, at);
        /*  The reason is optional.                                         */
        ck_assert_int_eq (b64_decode (bad[i].text, strlen (bad[i].text), &out, &size, NULL,
                                      NULL), -1);
        ck_assert_ptr_null (out);
    }
}
END_TEST

/* --- UTF-8 ----------------------------------------------------------------- */

START_TEST (utf8_validation)
{
    static const struct { const char *s; size_t n; bool ok; } cases[] = {
        { "", 0, true },
        { "plain ascii", 11, true },
        { "caf\xc3\xa9", 5, true },
        { "\xe2\x9c\x93", 3, true },
        { "h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 12, true },
        { "\xf4\x8f\xbf\xbf", 4, true },            /* U+10FFFF */
        { "\xed\x9f\xbf", 3, true },                 /* U+D7FF */
        { "a\0b", 3, true },                         /* NUL is valid */
        { "\xc0\x80", 2, false },                    /* overlong NUL */
        { "\xc1\x81", 2, false },                    /* overlong A */
        { "\xe0\x80\xaf", 3, false },                /* overlong / */
        { "\xed\xa0\x80", 3, false },                /* surrogate */
        { "\xf4\x90\x80\x80", 4, false },            /* above U+10FFFF */
        { "\x80", 1, false },
        { "\xe2\x82", 2, false },                    /* cut short */
        { "\xff", 1, false },
        { "\xf8\x88\x80\x80\x80", 5, false },        /* 5-byte form */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg (utf8_valid (cases[i].s, cases[i].n) == cases[i].ok, "case %zu", i);
    ck_assert (utf8_valid (NULL, 0));
}
END_TEST

START_TEST (utf8_text_is_valid_utf8_nul_included)
{
    ck_assert (utf8_is_text ("ok", 2));
    ck_assert (utf8_is_text ("o\0k", 3));
    ck_assert (utf8_is_text (NULL, 0));
    ck_assert (utf8_is_text ("\xc3\xa9\0", 3));
    ck_assert (!utf8_is_text ("a\0b\xff" "c", 5));
    ck_assert (!utf8_is_text ("\xc0\x80", 2));       /* NUL, overlong: not text */
}
END_TEST

START_TEST (utf8_lossy_replaces_maximal_subparts)
{
    static const struct { const char *in; size_t n; const char *out; } cases[] = {
        { "abc", 3, "abc" },
        { "a\xff" "b", 3, "a\xef\xbf\xbd" "b" },
        { "\xe2\x82", 2, "\xef\xbf\xbd" },                    /* one for the cut sequence */
        { "\xe2\x82" "A", 3, "\xef\xbf\xbd" "A" },
        { "a\xe2\x82" "b", 4, "a\xef\xbf\xbd" "b" },
        { "\xf0\x9f\x98" "x", 4, "\xef\xbf\xbd" "x" },
        { "\xf0\x80x", 3, "\xef\xbf\xbd\xef\xbf\xbdx" },     /* F0 then 80: two */
        { "\xc0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd" },        /* two: C0 never starts one */
        { "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
        { "ok\xe2\x9c\x93", 5, "ok\xe2\x9c\x93" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        char *out = utf8_lossy (cases[i].in, cases[i].n, &len);
        ck_assert_ptr_nonnull (out);
        ck_assert_msg (len == strlen (cases[i].out) && memcmp (out, cases[i].out, len) == 0,
                       "case %zu", i);
        ck_assert (utf8_valid (out, len));
        free (out);
    }
    /*  NUL survives.                                                       */
    size_t len;
    char *out = utf8_lossy ("a\0\xff", 3, &len);
    ck_assert_uint_eq (len, 5);
    ck_assert (memcmp (out, "a\0\xef\xbf\xbd", 5) == 0);
    free (out);
    out = utf8_lossy (NULL, 0, &len);
    ck_assert_str_eq (out, "");
    ck_assert_uint_eq (len, 0);
    free (out);
}
END_TEST

START_TEST (utf8_cut_keeps_whole_characters)
{
    ck_assert_uint_eq (utf8_cut ("ab\xe2\x82", 4), 2);
    ck_assert_uint_eq (utf8_cut ("ab\xe2\x82\xac", 5), 5);
    ck_assert_uint_eq (utf8_cut ("ab\xe2", 3), 2);
    ck_assert_uint_eq (utf8_cut ("abc", 3), 3);
    ck_assert_uint_eq (utf8_cut ("\xc3\xa9", 2), 2);
    ck_assert_uint_eq (utf8_cut ("\xf0\x9f\x98", 3), 0);
    ck_assert_uint_eq (utf8_cut ("ab\xff", 3), 3);          /* not a lead byte */
    ck_assert_uint_eq (utf8_cut ("ab\x80\x80", 4), 4);      /* no lead at all */
}
END_TEST

START_TEST (utf8_fix_replaces_bad_bytes_in_place)
{
    char text[] = "a\xff" "b\xe2\x82\xac" "c\xe2\x82";
    utf8_fix (text);
    ck_assert_str_eq (text, "a?b\xe2\x82\xac" "c??");
    char odd[] = "\xc1\x81\xed\xa0\x80\xf4\x90\x80\x80 \xf0\x9f\x98\x80";
    utf8_fix (odd);
    ck_assert_str_eq (odd, "????????? \xf0\x9f\x98\x80");
    ck_assert (utf8_valid (odd, strlen (odd)));
    char empty[] = "";
    utf8_fix (empty);
    ck_assert_str_eq (empty, "");
}
END_TEST

/* --- task and record JSON -------------------------------------------------- */

/*  A record of task "t-1", attempt 1, nothing else set.                    */
static proto_record_t
s_record (proto_status_t status)
{
    return (proto_record_t) { .id = "t-1", .status = status, .attempt = 1,
                              .task.limits.network = -1 };
}

static json_t *
s_json (const proto_record_t *r)
{
    json_t *j = record_to_json (r, NULL);
    ck_assert_ptr_nonnull (j);
    return j;
}

START_TEST (task_json_binary_code_round_trips_as_b64)
{
    proto_task_t t = { 0 };
    t.lang = PROTO_LANG_SH;
    t.code = (proto_bytes_t) { (const uint8_t *) "echo \xff", 6 };
    t.has_stdin = true;
    t.stdin_data = (proto_bytes_t) { NULL, 0 };
    t.limits.network = -1;
    json_t *out = task_to_json (&t);
    ck_assert_ptr_null (json_object_get (out, "code"));
    ck_assert_str_eq (json_string_value (json_object_get (out, "code_b64")), "ZWNobyD/");
    ck_assert_str_eq (json_string_value (json_object_get (out, "stdin")), "");
    ck_assert_ptr_null (json_object_get (out, "argv"));
    ck_assert_ptr_null (json_object_get (out, "limits"));
    json_decref (out);
}
END_TEST

START_TEST (task_summary_is_one_short_line)
{
    proto_task_t t = { 0 };
    t.lang = PROTO_LANG_PYTHON3;
    t.code = (proto_bytes_t) { (const uint8_t *) "\n  \nprint(1)\nprint(2)\n", 22 };
    char *s = task_summary (&t);
    ck_assert_str_eq (s, "python3: print(1)");
    free (s);
    const char *argv[] = { "echo", "a\tb", "\xff", NULL };
    proto_task_t a = { .argv = argv, .argc = 3 };
    s = task_summary (&a);
    ck_assert_str_eq (s, "echo a b \xef\xbf\xbd");
    free (s);
    char long_arg[400];
    memset (long_arg, 'x', sizeof long_arg);
    memcpy (long_arg + 197, "\xe2\x82\xac", 3);       /* a character across the cut */
    long_arg[sizeof long_arg - 1] = '\0';
    const char *long_argv[] = { long_arg, NULL };
    a = (proto_task_t) { .argv = long_argv, .argc = 1 };
    s = task_summary (&a);
    ck_assert_uint_eq (strlen (s), 200);
    ck_assert (utf8_valid (s, strlen (s)));
    free (s);
}
END_TEST

START_TEST (record_json_text_and_b64_twin)
{
    static const uint8_t nul[] = { 'a', 0, 'b' };
    static const uint8_t bad[] = { 'a', 0xff, 'b', 0xe2, 0x82 };
    const char *utf8 = "h\xc3\xa9llo \xe2\x9c\x93\n";
    proto_record_t r = s_record (PROTO_STATUS_SUCCEEDED);
    r.result.has_exit_code = true;
    r.result.stdout_data = (proto_bytes_t) { (const uint8_t *) utf8, strlen (utf8) };
    r.result.stderr_data = (proto_bytes_t) { nul, sizeof nul };
    json_t *j = s_json (&r);
    ck_assert_str_eq (json_string_value (json_object_get (j, "stdout")), utf8);
    ck_assert_ptr_null (json_object_get (j, "stdout_b64"));
    /*  NUL is text: kept in the string (as \u0000), no twin needed.        */
    json_t *e = json_object_get (j, "stderr");
    ck_assert_uint_eq (json_string_length (e), 3);
    ck_assert_mem_eq (json_string_value (e), "a\0b", 3);
    ck_assert_ptr_null (json_object_get (j, "stderr_b64"));
    char *dump = json_dumps (j, JSON_COMPACT);
    ck_assert_ptr_nonnull (strstr (dump, "\"stderr\":\"a\\u0000b\""));
    free (dump);
    json_decref (j);

    /*  Not text: the lossy string and the exact twin.                      */
    r.result.stdout_data = (proto_bytes_t) { bad, sizeof bad };
    r.result.stderr_data = (proto_bytes_t) { (const uint8_t *) "a\0b\xff", 4 };
    j = s_json (&r);
    ck_assert_str_eq (json_string_value (json_object_get (j, "stdout")),
                      "a\xef\xbf\xbd" "b\xef\xbf\xbd");
    ck_assert_str_eq (json_string_value (json_object_get (j, "stdout_b64")), "Yf9i4oI=");
    e = json_object_get (j, "stderr");
    ck_assert_uint_eq (json_string_length (e), 6);
    ck_assert_mem_eq (json_string_value (e), "a\0b\xef\xbf\xbd", 6);
    ck_assert_str_eq (json_string_value (json_object_get (j, "stderr_b64")), "YQBi/w==");
    json_decref (j);
}
END_TEST

START_TEST (record_json_shape)
{
    static const uint8_t blob[] = { 0xff, 0 };
    proto_file_t files[] = {
        { "out.txt", { (const uint8_t *) "text\n", 5 } },
        { "nul.txt", { (const uint8_t *) "a\0b", 3 } },
        { "bin", { blob, sizeof blob } },
    };
    const char *refs[] = { "big.dat", NULL };
    const char *argv[] = { "echo", "hi", NULL };
    proto_env_t env[] = { { "K", "V" } };
    const char *collect[] = { "out.txt", "bin", NULL };
    proto_record_t r = s_record (PROTO_STATUS_KILLED);
    r.worker = "w-1";
    r.created_ms = 1000;
    r.dispatched_ms = 1002;
    r.started_ms = 1003;
    r.finished_ms = 1050;
    r.task.argv = argv;
    r.task.argc = 2;
    r.task.env = env;
    r.task.env_count = 1;
    r.task.limits.wall_ms = 5000;
    r.task.limits.network = 0;
    r.task.has_stdin = true;
    r.task.stdin_data = (proto_bytes_t) { blob, sizeof blob };
    r.task.collect = collect;
    r.task.collect_count = 2;
    r.result.has_signal = true;
    r.result.signal = 9;
    r.result.files = files;
    r.result.file_count = 3;
    r.result.file_refs = refs;
    r.result.file_ref_count = 1;
    r.result.wall_ms = 47;
    r.result.max_rss_kb = 1234;
    json_t *j = s_json (&r);
    static const char *const keys[] = {
        "id", "status", "attempt", "worker", "created_ms", "dispatched_ms", "started_ms",
        "finished_ms", "summary", "task", "exit_code", "signal", "stdout", "stderr",
        "stdout_truncated", "stderr_truncated", "wall_ms", "cpu_ms", "max_rss_kb", "error",
        "files", "files_b64", "file_refs"
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg (json_object_get (j, keys[i]), "missing %s", keys[i]);
    ck_assert_uint_eq (json_object_size (j), sizeof keys / sizeof keys[0]);
    ck_assert_str_eq (json_string_value (json_object_get (j, "id")), "t-1");
    ck_assert_str_eq (json_string_value (json_object_get (j, "status")), "killed");
    ck_assert_int_eq (json_integer_value (json_object_get (j, "attempt")), 1);
    ck_assert_str_eq (json_string_value (json_object_get (j, "worker")), "w-1");
    ck_assert_str_eq (json_string_value (json_object_get (j, "summary")), "echo hi");
    ck_assert (json_is_null (json_object_get (j, "exit_code")));
    ck_assert_int_eq (json_integer_value (json_object_get (j, "signal")), 9);
    ck_assert (json_is_null (json_object_get (j, "error")));
    ck_assert (json_is_false (json_object_get (j, "stdout_truncated")));
    ck_assert_str_eq (json_string_value (json_object_get (j, "stdout")), "");
    ck_assert_int_eq (json_integer_value (json_object_get (j, "wall_ms")), 47);
    ck_assert_int_eq (json_integer_value (json_object_get (j, "cpu_ms")), 0);
    ck_assert_int_eq (json_integer_value (json_object_get (j, "max_rss_kb")), 1234);
    ck_assert_int_eq (json_integer_value (json_object_get (j, "dispatched_ms")), 1002);
    ck_assert_int_eq (json_integer_value (json_object_get (j, "finished_ms")), 1050);
    /*  Files: the text ones in "files", the others in "files_b64" only.    */
    json_t *f = json_object_get (j, "files");
    ck_assert_uint_eq (json_object_size (f), 2);
    ck_assert_str_eq (json_string_value (json_object_get (f, "out.txt")), "text\n");
    ck_assert_mem_eq (json_string_value (json_object_get (f, "nul.txt")), "a\0b", 3);
    ck_assert_ptr_null (json_object_get (f, "bin"));
    json_t *fb = json_object_get (j, "files_b64");
    ck_assert_uint_eq (json_object_size (fb), 1);
    ck_assert_str_eq (json_string_value (json_object_get (fb, "bin")), "/wA=");
    ck_assert_uint_eq (json_array_size (json_object_get (j, "file_refs")), 1);
    ck_assert_str_eq (json_string_value (json_array_get (json_object_get (j, "file_refs"), 0)),
                      "big.dat");

    /*  The task in POST body shape: text or _b64, never both.             */
    json_t *t = json_object_get (j, "task");
    ck_assert_str_eq (json_string_value (json_array_get (json_object_get (t, "argv"), 1)), "hi");
    ck_assert_ptr_null (json_object_get (t, "stdin"));
    ck_assert_str_eq (json_string_value (json_object_get (t, "stdin_b64")), "/wA=");
    ck_assert_str_eq (json_string_value (json_object_get (json_object_get (t, "env"), "K")), "V");
    json_t *lim = json_object_get (t, "limits");
    ck_assert_uint_eq (json_object_size (lim), 2);
    ck_assert_int_eq (json_integer_value (json_object_get (lim, "wall_ms")), 5000);
    ck_assert (json_is_false (json_object_get (lim, "network")));
    ck_assert_str_eq (json_string_value (json_array_get (json_object_get (t, "collect"), 1)),
                      "bin");
    ck_assert_ptr_null (json_object_get (t, "files"));
    ck_assert_ptr_null (json_object_get (t, "lang"));
    json_decref (j);

    /*  All collected files text: no "files_b64".                           */
    r.result.file_count = 2;
    j = s_json (&r);
    ck_assert_uint_eq (json_object_size (json_object_get (j, "files")), 2);
    ck_assert_ptr_null (json_object_get (j, "files_b64"));
    json_decref (j);
}
END_TEST

START_TEST (record_json_nulls_where_not_reached)
{
    const char *argv[] = { "true", NULL };
    proto_record_t r = s_record (PROTO_STATUS_QUEUED);
    r.attempt = 0;
    r.created_ms = 5;
    r.task.argv = argv;
    r.task.argc = 1;
    /*  Even if the result struct holds something, a queued task shows none */
    r.result.has_exit_code = true;
    r.result.error = "stale";
    r.result.wall_ms = 3;
    json_t *j = s_json (&r);
    ck_assert (json_is_null (json_object_get (j, "worker")));
    ck_assert (json_is_null (json_object_get (j, "dispatched_ms")));
    ck_assert (json_is_null (json_object_get (j, "started_ms")));
    ck_assert (json_is_null (json_object_get (j, "finished_ms")));
    ck_assert_int_eq (json_integer_value (json_object_get (j, "created_ms")), 5);
    ck_assert_int_eq (json_integer_value (json_object_get (j, "attempt")), 0);
    static const char *const result_keys[] = {
        "exit_code", "signal", "stdout", "stderr", "stdout_truncated", "stderr_truncated",
        "wall_ms", "cpu_ms", "max_rss_kb", "error", "files", "files_b64", "file_refs"
    };
    for (size_t i = 0; i < sizeof result_keys / sizeof result_keys[0]; i++)
        ck_assert_msg (json_is_null (json_object_get (j, result_keys[i])), "%s", result_keys[i]);
    ck_assert_ptr_null (json_object_get (j, "stdout_b64"));
    ck_assert_ptr_null (json_object_get (json_object_get (j, "task"), "limits"));
    json_decref (j);
}
END_TEST

START_TEST (record_json_list_item_summary_and_usage)
{
    const char *argv[] = { "echo", "3", NULL };
    proto_file_t files[] = { { "b", { (const uint8_t *) "\xff", 1 } } };
    proto_record_t r = s_record (PROTO_STATUS_LOST);
    r.task.argv = argv;
    r.task.argc = 2;
    r.result.stdout_data = (proto_bytes_t) { (const uint8_t *) "\xff", 1 };
    r.result.files = files;
    r.result.file_count = 1;
    r.result.error = "worker gone";
    /*  A list item: no task, outputs or files; the summary as given.       */
    record_json_opts_t opts = { .list_item = true, .no_usage = true, .summary = "stored" };
    json_t *j = record_to_json (&r, &opts);
    ck_assert_ptr_nonnull (j);
    static const char *const absent[] = { "task", "stdout", "stdout_b64", "stderr",
                                          "stderr_b64", "files", "files_b64", "file_refs" };
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        ck_assert_msg (!json_object_get (j, absent[i]), "%s present in list item", absent[i]);
    ck_assert_str_eq (json_string_value (json_object_get (j, "summary")), "stored");
    ck_assert_str_eq (json_string_value (json_object_get (j, "error")), "worker gone");
    ck_assert (json_is_false (json_object_get (j, "stdout_truncated")));
    /*  Terminal without measured usage: null, not 0.                       */
    ck_assert (json_is_null (json_object_get (j, "wall_ms")));
    ck_assert (json_is_null (json_object_get (j, "cpu_ms")));
    ck_assert (json_is_null (json_object_get (j, "max_rss_kb")));
    json_decref (j);
    /*  Queued list item: the result keys of a list item are null.          */
    r.status = PROTO_STATUS_QUEUED;
    j = record_to_json (&r, &opts);
    ck_assert (json_is_null (json_object_get (j, "error")));
    ck_assert (json_is_null (json_object_get (j, "stdout_truncated")));
    ck_assert_ptr_null (json_object_get (j, "files"));
    json_decref (j);
}
END_TEST

START_TEST (record_json_code_task_and_odd_paths)
{
    static const uint8_t code[] = "print(1)\n";
    static const uint8_t blob[] = { 1, 0xfe };
    proto_file_t in[] = { { "a.txt", { (const uint8_t *) "x", 1 } }, { "b", { blob, 2 } } };
    proto_file_t out[] = { { "bad\xff" "name", { (const uint8_t *) "y", 1 } },
                           { "bin\xfe", { blob, 2 } } };
    const char *refs[] = { "ref\xff", NULL };
    proto_record_t r = s_record (PROTO_STATUS_SUCCEEDED);
    r.worker = "w\xff";
    r.task.lang = PROTO_LANG_PYTHON3;
    r.task.code = (proto_bytes_t) { code, sizeof code - 1 };
    r.task.files = in;
    r.task.file_count = 2;
    r.result.files = out;
    r.result.file_count = 2;
    r.result.file_refs = refs;
    r.result.file_ref_count = 1;
    r.result.error = "collect bad\xff";
    json_t *j = s_json (&r);
    json_t *t = json_object_get (j, "task");
    ck_assert_str_eq (json_string_value (json_object_get (t, "lang")), "python3");
    ck_assert_str_eq (json_string_value (json_object_get (t, "code")), "print(1)\n");
    ck_assert_ptr_null (json_object_get (t, "argv"));
    ck_assert_str_eq (json_string_value (json_object_get (json_object_get (t, "files"), "a.txt")),
                      "x");
    ck_assert_str_eq (json_string_value (json_object_get (json_object_get (t, "files_b64"),
                                                          "b")), "Af4=");
    ck_assert_str_eq (json_string_value (json_object_get (j, "summary")), "python3: print(1)");
    /*  Names from the wire that are not UTF-8 still render (lossy).        */
    ck_assert_str_eq (json_string_value (json_object_get (json_object_get (j, "files"),
                                                          "bad\xef\xbf\xbdname")), "y");
    ck_assert_str_eq (json_string_value (json_object_get (json_object_get (j, "files_b64"),
                                                          "bin\xef\xbf\xbd")), "Af4=");
    ck_assert_str_eq (json_string_value (json_array_get (json_object_get (j, "file_refs"), 0)),
                      "ref\xef\xbf\xbd");
    ck_assert_str_eq (json_string_value (json_object_get (j, "worker")), "w\xef\xbf\xbd");
    ck_assert_str_eq (json_string_value (json_object_get (j, "error")), "collect bad\xef\xbf\xbd");
    json_decref (j);
}
END_TEST

int
main (void)
{
    Suite *s = suite_create ("common");
    TCase *tc = tcase_create ("config");
    tcase_add_test (tc, defaults_apply);
    tcase_add_test (tc, env_then_flag_wins);
    tcase_add_test (tc, bad_env_names_variable_value_and_range);
    tcase_add_test (tc, empty_env_counts_as_unset);
    tcase_add_test (tc, bad_values_of_each_type);
    tcase_add_test (tc, unknown_flag_and_missing_value);
    tcase_add_test (tc, units);
    tcase_add_test (tc, secret_is_masked);
    tcase_add_test (tc, log_quote_escapes_control_and_quotes);
    tcase_add_test (tc, log_hold_writes_whole_lines_per_flush);
    suite_add_tcase (s, tc);

    tc = tcase_create ("codecs");
    tcase_add_test (tc, b64_vectors);
    tcase_add_test (tc, b64_round_trip_all_bytes);
    tcase_add_test (tc, b64_strict_rejects);
    tcase_add_test (tc, utf8_validation);
    tcase_add_test (tc, utf8_text_is_valid_utf8_nul_included);
    tcase_add_test (tc, utf8_lossy_replaces_maximal_subparts);
    tcase_add_test (tc, utf8_cut_keeps_whole_characters);
    tcase_add_test (tc, utf8_fix_replaces_bad_bytes_in_place);
    suite_add_tcase (s, tc);

    tc = tcase_create ("json");
    tcase_add_test (tc, task_json_binary_code_round_trips_as_b64);
    tcase_add_test (tc, task_summary_is_one_short_line);
    tcase_add_test (tc, record_json_text_and_b64_twin);
    tcase_add_test (tc, record_json_shape);
    tcase_add_test (tc, record_json_nulls_where_not_reached);
    tcase_add_test (tc, record_json_list_item_summary_and_usage);
    tcase_add_test (tc, record_json_code_task_and_odd_paths);
    suite_add_tcase (s, tc);
    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? 1 : 0;
}
