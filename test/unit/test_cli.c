/*  test_cli.c - cleudo's pieces without a network: option parsing into a
    proto_task_t, units, the token search, exit status for every terminal
    status, output printing and JSON printing (the JSON schema, base64 and
    UTF-8 are common's: see test_common.c).

    Check runs every test in its own process (so chdir/setenv stay local)
    with a timeout.                                                         */
#define _GNU_SOURCE             /* nftw */
#include "../../cli/cli.h"
#include "../../cli/cli_args.h"
#include "../../cli/cli_json.h"
#include "../../cli/cli_output.h"
#include "../../cli/cli_table.h"
#include "../../cli/cli_task_spec.h"
#include "record_to_json.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ARGC(a) ((int) (sizeof (a) / sizeof (a)[0]) - 1)

static char s_err[CLI_ERR_MAX];
static cli_global_t s_global;

/*  Parse argv (NULL-terminated array literal) as "run" would.             */
static int
s_parse (cli_task_spec_t *spec, int argc, char **argv)
{
    s_err[0] = '\0';
    unsetenv ("CLEUDO_ENDPOINT");
    unsetenv ("CLEUDO_CONNECT_TIMEOUT");
    ck_assert_int_eq (cli_global_init (&s_global, s_err, sizeof s_err), 0);
    return cli_task_spec_parse (spec, &s_global, argc, argv, s_err, sizeof s_err);
}

static char s_temp_dir[64];

static int
s_remove_one (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st; (void) flag; (void) ftw;
    return remove (path);
}

static void
s_remove_temp_dir (void)
{
    if (*s_temp_dir) {
        nftw (s_temp_dir, s_remove_one, 16, FTW_DEPTH | FTW_PHYS);
        *s_temp_dir = '\0';
    }
}

/*  A fresh directory with a few files, made the current directory, and
    removed when the test's process exits.                                  */
static void
s_in_temp_dir (void)
{
    s_remove_temp_dir ();
    snprintf (s_temp_dir, sizeof s_temp_dir, "/tmp/test_cli_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_temp_dir));
    static bool registered;
    if (!registered)
        atexit (s_remove_temp_dir);
    registered = true;
    ck_assert_int_eq (chdir (s_temp_dir), 0);
    FILE *f = fopen ("in.txt", "w");
    fputs ("hello\n", f);
    fclose (f);
    f = fopen ("blob.bin", "wb");
    fwrite ("\x00\xff\x01", 1, 3, f);
    fclose (f);
    ck_assert_int_eq (mkdir ("sub", 0700), 0);
    f = fopen ("sub/x:y.txt", "w");
    fputs ("colon", f);
    fclose (f);
}

/*  ---------------------------------------------------------------------
    Option parsing                                                         */

START_TEST (argv_task_is_untouched)
{
    cli_task_spec_t spec;
    char *argv[] = { "run", "--json", "--", "sh", "-c", "--help", "-e", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 0);
    ck_assert (spec.json);
    ck_assert_uint_eq (spec.task.argc, 4);
    ck_assert_str_eq (spec.task.argv[0], "sh");
    ck_assert_str_eq (spec.task.argv[2], "--help");
    ck_assert_str_eq (spec.task.argv[3], "-e");
    ck_assert_ptr_null (spec.task.argv[4]);
    ck_assert_int_eq (spec.task.lang, PROTO_LANG_NONE);
    ck_assert (!spec.task.has_stdin);
    ck_assert_int_eq (spec.task.limits.network, -1);
    cli_task_spec_free (&spec);

    /*  Without "--", the first non-option starts the task's argv.          */
    char *argv2[] = { "run", "-q", "echo", "--json", "-", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv2), argv2), 0);
    ck_assert (spec.quiet && !spec.json);
    ck_assert_uint_eq (spec.task.argc, 3);
    ck_assert_str_eq (spec.task.argv[1], "--json");
    ck_assert_str_eq (spec.task.argv[2], "-");
    cli_task_spec_free (&spec);
}
END_TEST

START_TEST (limits_and_units)
{
    cli_task_spec_t spec;
    char *argv[] = { "run", "--timeout", "30", "--cpu=1500ms", "--memory", "256M",
                     "--processes", "12", "--output", "64K", "--file-size", "2G",
                     "--network", "--", "true", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 0);
    const proto_limits_t *l = &spec.task.limits;
    ck_assert_uint_eq (l->wall_ms, 30000);
    ck_assert_uint_eq (l->cpu_ms, 1500);
    ck_assert_uint_eq (l->memory_bytes, 256ull << 20);
    ck_assert_uint_eq (l->processes, 12);
    ck_assert_uint_eq (l->output_bytes, 64ull << 10);
    ck_assert_uint_eq (l->file_bytes, 2ull << 30);
    ck_assert_int_eq (l->network, 1);
    cli_task_spec_free (&spec);

    uint64_t v;
    ck_assert_int_eq (cli_parse_duration ("--timeout", "2m", &v, s_err, sizeof s_err), 0);
    ck_assert_uint_eq (v, 120000);
    ck_assert_int_eq (cli_parse_duration ("--timeout", "1h", &v, s_err, sizeof s_err), 0);
    ck_assert_uint_eq (v, 3600000);
    ck_assert_int_eq (cli_parse_duration ("--timeout", "90s", &v, s_err, sizeof s_err), 0);
    ck_assert_uint_eq (v, 90000);
    ck_assert_int_eq (cli_parse_duration ("--timeout", "7d", &v, s_err, sizeof s_err), 0);
    ck_assert_int_eq (cli_parse_size ("--memory", "4096", &v, s_err, sizeof s_err), 0);
    ck_assert_uint_eq (v, 4096);
    ck_assert_int_eq (cli_parse_size ("--memory", "1T", &v, s_err, sizeof s_err), 0);
    ck_assert_uint_eq (v, 1ull << 40);
}
END_TEST

/*  A bad value names the option and the value.                             */
static void
s_expect_bad (char **argv, int argc, const char *w1, const char *w2)
{
    cli_task_spec_t spec;
    ck_assert_int_eq (s_parse (&spec, argc, argv), -1);
    ck_assert_msg (strstr (s_err, w1), "'%s' not in: %s", w1, s_err);
    if (w2)
        ck_assert_msg (strstr (s_err, w2), "'%s' not in: %s", w2, s_err);
    cli_task_spec_free (&spec);
}

#define EXPECT_BAD(w1, w2, ...) do { \
        char *argv_[] = { "run", __VA_ARGS__, NULL }; \
        s_expect_bad (argv_, ARGC (argv_), w1, w2); \
    } while (0)

START_TEST (bad_units_name_option_and_value)
{
    EXPECT_BAD ("--timeout '5x'", "500ms", "--timeout", "5x", "--", "true");
    EXPECT_BAD ("--timeout '0'", "greater than zero", "--timeout", "0", "--", "true");
    EXPECT_BAD ("--timeout '1.5s'", NULL, "--timeout", "1.5s", "--", "true");
    EXPECT_BAD ("--timeout '8d'", "7 days", "--timeout", "8d", "--", "true");
    EXPECT_BAD ("--cpu '-3'", "greater than zero", "--cpu", "-3", "--", "true");
    EXPECT_BAD ("--memory '12Q'", "256M", "--memory", "12Q", "--", "true");
    EXPECT_BAD ("--memory '0'", "greater than zero", "--memory", "0", "--", "true");
    EXPECT_BAD ("--output '2T'", "at most 1T", "--output", "2T", "--", "true");
    EXPECT_BAD ("--file-size 'big'", NULL, "--file-size=big", "--", "true");
    EXPECT_BAD ("--processes 'ten'", "whole number", "--processes", "ten", "--", "true");
    EXPECT_BAD ("--processes '0'", "between 1", "--processes", "0", "--", "true");
    EXPECT_BAD ("--lang 'ruby'", "python3", "--lang", "ruby", "x.rb");
}
END_TEST

START_TEST (unknown_and_malformed_options)
{
    EXPECT_BAD ("unknown option '--x' for 'run' (see cleudo help run)", NULL, "--x", "--", "true");
    EXPECT_BAD ("unknown option '--frob'", NULL, "--frob=1", "--", "true");
    EXPECT_BAD ("unknown option '-z'", NULL, "-z", "--", "true");
    EXPECT_BAD ("'--timeout' needs a value", NULL, "--timeout");
    EXPECT_BAD ("'--json' takes no value", NULL, "--json=1", "--", "true");
    EXPECT_BAD ("nothing to run", NULL, "--json");
    EXPECT_BAD ("needs a FILE", NULL, "--lang", "sh");
    EXPECT_BAD ("unexpected argument 'extra'", "options go before FILE", "--lang", "sh",
                "f.sh", "extra");
    EXPECT_BAD ("invalid --endpoint='http://x'", NULL, "--endpoint", "http://x", "--", "true");
}
END_TEST

START_TEST (help_stops_parsing)
{
    cli_task_spec_t spec;
    char *argv[] = { "run", "--timeout", "5", "--help", "--bogus", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 1);
    ck_assert (spec.help);
    cli_task_spec_free (&spec);
    char *argv2[] = { "submit", "-h", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv2), argv2), 1);
    cli_task_spec_free (&spec);
}
END_TEST

START_TEST (env_options)
{
    cli_task_spec_t spec;
    char *argv[] = { "run", "-e", "A=1", "--env=B=x=y", "-eC=", "-e", "A=2", "--", "true",
                     NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 0);
    ck_assert_uint_eq (spec.task.env_count, 3);
    ck_assert_str_eq (spec.task.env[0].key, "A");
    ck_assert_str_eq (spec.task.env[0].value, "2");        /* last one wins */
    ck_assert_str_eq (spec.task.env[1].key, "B");
    ck_assert_str_eq (spec.task.env[1].value, "x=y");
    ck_assert_str_eq (spec.task.env[2].key, "C");
    ck_assert_str_eq (spec.task.env[2].value, "");
    cli_task_spec_free (&spec);

    EXPECT_BAD ("invalid -e 'NOEQ'", "KEY=VALUE", "-e", "NOEQ", "--", "true");
    EXPECT_BAD ("invalid --env '=v'", "variable name", "--env", "=v", "--", "true");
    EXPECT_BAD ("invalid -e '1A=v'", "variable name", "-e", "1A=v", "--", "true");
    EXPECT_BAD ("invalid -e 'A B=v'", NULL, "-e", "A B=v", "--", "true");
}
END_TEST

START_TEST (many_entries_grow)
{
    s_in_temp_dir ();
    enum { N = 40 };
    char *argv[3 * 2 * N + 4];
    char texts[3][N][32];
    int argc = 0;
    argv[argc++] = "run";
    for (int i = 0; i < N; i++) {
        snprintf (texts[0][i], 32, "V%d=%d", i, i);
        snprintf (texts[1][i], 32, "in.txt:f%d", i);
        snprintf (texts[2][i], 32, "out/%d", i);
        argv[argc++] = "-e";
        argv[argc++] = texts[0][i];
        argv[argc++] = "--file";
        argv[argc++] = texts[1][i];
        argv[argc++] = "--collect";
        argv[argc++] = texts[2][i];
    }
    argv[argc++] = "--";
    argv[argc++] = "true";
    argv[argc] = NULL;
    cli_task_spec_t spec;
    ck_assert_int_eq (s_parse (&spec, argc, argv), 0);
    ck_assert_uint_eq (spec.task.env_count, N);
    ck_assert_uint_eq (spec.task.file_count, N);
    ck_assert_uint_eq (spec.task.collect_count, N);
    ck_assert_str_eq (spec.task.env[N - 1].key, "V39");
    ck_assert_str_eq (spec.task.env[N - 1].value, "39");
    ck_assert_str_eq (spec.task.files[N - 1].path, "f39");
    ck_assert_str_eq (spec.task.collect[N - 1], "out/39");
    cli_task_spec_free (&spec);
}
END_TEST

START_TEST (file_options)
{
    s_in_temp_dir ();
    cli_task_spec_t spec;
    char *argv[] = { "run", "--file", "in.txt", "--file", "blob.bin:data/b.bin",
                     "--file", "sub/x:y.txt:plain.txt", "--file", "./in.txt:copy", "--", "true",
                     NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 0);
    ck_assert_uint_eq (spec.task.file_count, 4);
    ck_assert_str_eq (spec.task.files[0].path, "in.txt");   /* default: base name */
    ck_assert_uint_eq (spec.task.files[0].content.size, 6);
    ck_assert_mem_eq (spec.task.files[0].content.data, "hello\n", 6);
    ck_assert_str_eq (spec.task.files[1].path, "data/b.bin");
    ck_assert_uint_eq (spec.task.files[1].content.size, 3);
    ck_assert_mem_eq (spec.task.files[1].content.data, "\x00\xff\x01", 3);
    ck_assert_str_eq (spec.task.files[2].path, "plain.txt"); /* split at the last ':' */
    ck_assert_mem_eq (spec.task.files[2].content.data, "colon", 5);
    ck_assert_str_eq (spec.task.files[3].path, "copy");
    cli_task_spec_free (&spec);

    char *argv2[] = { "run", "--file", "sub/../in.txt", "--", "true", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv2), argv2), 0);
    ck_assert_str_eq (spec.task.files[0].path, "in.txt");
    cli_task_spec_free (&spec);

    EXPECT_BAD ("invalid --file 'in.txt:../x'", "'..'", "--file", "in.txt:../x", "--", "true");
    EXPECT_BAD ("invalid --file 'in.txt:a/../../x'", "'..'", "--file", "in.txt:a/../../x",
                "--", "true");
    EXPECT_BAD ("invalid --file 'in.txt:/etc/x'", "relative", "--file", "in.txt:/etc/x",
                "--", "true");
    EXPECT_BAD ("invalid --file 'in.txt:'", "REMOTE", "--file", "in.txt:", "--", "true");
    EXPECT_BAD ("invalid --file ':x'", "LOCAL is empty", "--file", ":x", "--", "true");
    EXPECT_BAD ("invalid --file 'sub/'", "ends with '/'", "--file", "sub/", "--", "true");
    EXPECT_BAD ("invalid --file 'in.txt:a//b'", "'//'", "--file", "in.txt:a//b", "--", "true");
    EXPECT_BAD ("given twice", NULL, "--file", "in.txt", "--file", "blob.bin:in.txt", "--",
                "true");
    EXPECT_BAD ("cannot read --file 'missing'", "No such file", "--file", "missing", "--",
                "true");
    EXPECT_BAD ("cannot read --file 'sub'", "directory", "--file", "sub:s", "--", "true");
}
END_TEST

START_TEST (collect_options)
{
    cli_task_spec_t spec;
    char *argv[] = { "run", "--collect", "out/r.txt", "--collect", "log", "--collect",
                     "log", "--", "true", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 0);
    ck_assert_uint_eq (spec.task.collect_count, 2);        /* duplicates folded */
    ck_assert_str_eq (spec.task.collect[0], "out/r.txt");
    ck_assert_str_eq (spec.task.collect[1], "log");
    cli_task_spec_free (&spec);
    EXPECT_BAD ("invalid --collect '/abs'", "relative", "--collect", "/abs", "--", "true");
    EXPECT_BAD ("invalid --collect '../up'", "'..'", "--collect", "../up", "--", "true");
    EXPECT_BAD ("invalid --collect 'a/'", NULL, "--collect", "a/", "--", "true");
}
END_TEST

START_TEST (code_task_and_stdin)
{
    s_in_temp_dir ();
    cli_task_spec_t spec;
    char *argv[] = { "run", "--lang", "python3", "--stdin", "blob.bin", "in.txt", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 0);
    ck_assert_int_eq (spec.task.lang, PROTO_LANG_PYTHON3);
    ck_assert_uint_eq (spec.task.argc, 0);
    ck_assert_uint_eq (spec.task.code.size, 6);
    ck_assert_mem_eq (spec.task.code.data, "hello\n", 6);
    ck_assert (spec.task.has_stdin);
    ck_assert_uint_eq (spec.task.stdin_data.size, 3);
    ck_assert_mem_eq (spec.task.stdin_data.data, "\x00\xff\x01", 3);
    cli_task_spec_free (&spec);

    /*  An empty --stdin file is still "given".                             */
    FILE *f = fopen ("empty", "w");
    fclose (f);
    char *argv2[] = { "run", "--stdin", "empty", "--", "cat", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv2), argv2), 0);
    ck_assert (spec.task.has_stdin);
    ck_assert_uint_eq (spec.task.stdin_data.size, 0);
    cli_task_spec_free (&spec);

    EXPECT_BAD ("cannot both read standard input", NULL, "--lang", "sh", "--stdin", "-", "-");
    EXPECT_BAD ("cannot read FILE 'nope.py'", NULL, "--lang", "python3", "nope.py");
}
END_TEST

START_TEST (global_options_in_command)
{
    cli_task_spec_t spec;
    char *argv[] = { "run", "--endpoint", "tcp://10.0.0.1:7000", "--token=abc",
                     "--connect-timeout", "2", "--", "true", NULL };
    ck_assert_int_eq (s_parse (&spec, ARGC (argv), argv), 0);
    ck_assert_str_eq (s_global.endpoint, "tcp://10.0.0.1:7000");
    ck_assert_str_eq (s_global.token, "abc");
    ck_assert_str_eq (s_global.token_source, "--token");
    ck_assert_int_eq (s_global.connect_timeout_ms, 2000);
    cli_task_spec_free (&spec);

    setenv ("CLEUDO_ENDPOINT", "tcp://127.0.0.1:9", 1);
    ck_assert_int_eq (cli_global_init (&s_global, s_err, sizeof s_err), 0);
    ck_assert_str_eq (s_global.endpoint, "tcp://127.0.0.1:9");
    ck_assert_int_eq (s_global.connect_timeout_ms, CLI_DEFAULT_CONNECT_MS);
    setenv ("CLEUDO_ENDPOINT", "udp://x", 1);
    ck_assert_int_eq (cli_global_init (&s_global, s_err, sizeof s_err), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "CLEUDO_ENDPOINT='udp://x'"));
    unsetenv ("CLEUDO_ENDPOINT");
    setenv ("CLEUDO_CONNECT_TIMEOUT", "soon", 1);
    ck_assert_int_eq (cli_global_init (&s_global, s_err, sizeof s_err), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "CLEUDO_CONNECT_TIMEOUT 'soon'"));
    unsetenv ("CLEUDO_CONNECT_TIMEOUT");
}
END_TEST

static void
s_write (const char *path, const char *text)
{
    FILE *f = fopen (path, "w");
    ck_assert_ptr_nonnull (f);
    fputs (text, f);
    fclose (f);
}

START_TEST (token_search_order)
{
    s_in_temp_dir ();
    unsetenv ("CLEUDO_ENDPOINT");
    unsetenv ("CLEUDO_CONNECT_TIMEOUT");
    unsetenv ("CLEUDO_TOKEN");
    unsetenv ("ORCH_DATA_DIR");
    cli_global_t g;
    ck_assert_int_eq (cli_global_init (&g, s_err, sizeof s_err), 0);
    ck_assert_int_eq (cli_global_find_token (&g, s_err, sizeof s_err), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "no API token"));
    ck_assert_ptr_nonnull (strstr (s_err, "CLEUDO_TOKEN"));

    ck_assert_int_eq (mkdir ("data", 0700), 0);
    s_write ("data/token", "  tok-from-data  \n");
    ck_assert_int_eq (cli_global_find_token (&g, s_err, sizeof s_err), 0);
    ck_assert_str_eq (g.token, "tok-from-data");
    ck_assert_str_eq (g.token_source, "./data/token");
    cli_global_free (&g);

    ck_assert_int_eq (mkdir ("orch", 0700), 0);
    s_write ("orch/token", "tok-from-orch\n");
    setenv ("ORCH_DATA_DIR", "orch", 1);
    cli_global_init (&g, s_err, sizeof s_err);
    ck_assert_int_eq (cli_global_find_token (&g, s_err, sizeof s_err), 0);
    ck_assert_str_eq (g.token, "tok-from-orch");
    cli_global_free (&g);

    /*  ORCH_DATA_DIR without a token file falls back to ./data/token.      */
    setenv ("ORCH_DATA_DIR", "elsewhere", 1);
    cli_global_init (&g, s_err, sizeof s_err);
    ck_assert_int_eq (cli_global_find_token (&g, s_err, sizeof s_err), 0);
    ck_assert_str_eq (g.token, "tok-from-data");
    cli_global_free (&g);

    setenv ("CLEUDO_TOKEN", "tok-from-env", 1);
    cli_global_init (&g, s_err, sizeof s_err);
    ck_assert_int_eq (cli_global_find_token (&g, s_err, sizeof s_err), 0);
    ck_assert_str_eq (g.token, "tok-from-env");
    ck_assert_str_eq (g.token_source, "CLEUDO_TOKEN");
    ck_assert_int_eq (cli_global_option (&g, CLI_OPT_TOKEN, "--token", "tok-flag", s_err,
                                         sizeof s_err), 0);
    ck_assert_int_eq (cli_global_find_token (&g, s_err, sizeof s_err), 0);
    ck_assert_str_eq (g.token, "tok-flag");
    cli_global_free (&g);

    unsetenv ("CLEUDO_TOKEN");
    unsetenv ("ORCH_DATA_DIR");
    s_write ("data/token", "two\nlines\n");
    cli_global_init (&g, s_err, sizeof s_err);
    ck_assert_int_eq (cli_global_find_token (&g, s_err, sizeof s_err), -1);
    ck_assert_ptr_nonnull (strstr (s_err, "control characters"));
    cli_global_free (&g);
}
END_TEST

/*  ---------------------------------------------------------------------
    Exit status                                                            */

static proto_record_t
s_record (proto_status_t status)
{
    proto_record_t r;
    memset (&r, 0, sizeof r);
    r.id = "t-1";
    r.status = status;
    r.attempt = 1;
    r.task.limits.network = -1;
    return r;
}

START_TEST (exit_code_for_every_terminal_status)
{
    char msg[512];
    cli_say_t say;
    proto_record_t r = s_record (PROTO_STATUS_SUCCEEDED);
    r.result.has_exit_code = true;
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 0);
    ck_assert_int_eq (say, CLI_SAY_NOTHING);
    ck_assert_str_eq (msg, "");

    r = s_record (PROTO_STATUS_FAILED);
    r.result.has_exit_code = true;
    r.result.exit_code = 3;
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 3);
    ck_assert_int_eq (say, CLI_SAY_NOTHING);
    r.result.exit_code = 255;
    ck_assert_int_eq (cli_outcome (&r, NULL, 0, NULL), 255);
    r.result.exit_code = 0;             /* failed must never look like success */
    ck_assert_int_eq (cli_outcome (&r, NULL, 0, NULL), 1);
    r.result.has_exit_code = false;
    ck_assert_int_eq (cli_outcome (&r, NULL, 0, NULL), 1);

    r = s_record (PROTO_STATUS_TIMED_OUT);
    r.result.wall_ms = 300;
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 124);
    ck_assert_str_eq (msg, "task t-1 timed out after 300 ms");
    ck_assert_int_eq (say, CLI_SAY_NOTE);

    r = s_record (PROTO_STATUS_KILLED);
    r.result.has_signal = true;
    r.result.signal = SIGKILL;
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 137);
    ck_assert_str_eq (msg, "task t-1 killed by signal 9 (SIGKILL)");
    r.result.signal = SIGSEGV;
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 139);
    ck_assert_int_eq (say, CLI_SAY_NOTE);
    r.result.signal = SIGXCPU;
    r.result.error = "cpu limit";
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 128 + SIGXCPU);
    ck_assert_str_eq (msg, "task t-1 killed by signal 24 (SIGXCPU): cpu limit");
    r.result.has_signal = false;
    ck_assert_int_eq (cli_outcome (&r, NULL, 0, NULL), 137);

    r = s_record (PROTO_STATUS_MEMORY_LIMIT);
    r.task.limits.memory_bytes = 64 << 20;
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 137);
    ck_assert_str_eq (msg, "task t-1 exceeded its memory limit of 64 MiB");
    ck_assert_int_eq (say, CLI_SAY_NOTE);

    static const proto_status_t aborted[] = {
        PROTO_STATUS_OUTPUT_LIMIT, PROTO_STATUS_CANCELLED, PROTO_STATUS_REJECTED,
        PROTO_STATUS_LOST, PROTO_STATUS_INTERNAL_ERROR
    };
    for (size_t i = 0; i < sizeof aborted / sizeof aborted[0]; i++) {
        r = s_record (aborted[i]);
        r.result.error = "why";
        ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), 125);
        ck_assert_int_eq (say, CLI_SAY_ERROR);
        ck_assert_ptr_nonnull (strstr (msg, "why"));
    }
    r = s_record (PROTO_STATUS_REJECTED);
    r.result.error = "argv[0]: must not be empty";
    cli_outcome (&r, msg, sizeof msg, &say);
    ck_assert_str_eq (msg, "task t-1 rejected: argv[0]: must not be empty");
    r = s_record (PROTO_STATUS_LOST);
    cli_outcome (&r, msg, sizeof msg, &say);
    ck_assert_str_eq (msg, "task t-1 lost: its worker vanished and no attempt was left");

    /*  Every terminal status has a defined answer; none is "internal".     */
    for (int s = PROTO_STATUS_SUCCEEDED; s < PROTO_STATUS_COUNT_; s++) {
        r = s_record ((proto_status_t) s);
        ck_assert (proto_status_is_terminal (r.status));
        ck_assert_int_ne (cli_outcome (&r, NULL, 0, NULL), CLI_EXIT_INTERNAL);
    }
    r = s_record (PROTO_STATUS_RUNNING);
    ck_assert_int_eq (cli_outcome (&r, msg, sizeof msg, &say), CLI_EXIT_INTERNAL);
}
END_TEST

START_TEST (outcome_message_is_clean)
{
    char msg[512];
    proto_record_t r = s_record (PROTO_STATUS_INTERNAL_ERROR);
    r.result.error = "evil\033[2J\nforged line";
    cli_outcome (&r, msg, sizeof msg, NULL);
    ck_assert_str_eq (msg, "task t-1 internal_error: evil?[2J?forged line");
}
END_TEST

/*  Run cli_print_task_output into two memory files and compare bytes.     */
static int
s_print (const proto_record_t *r, bool quiet, char **out, size_t *out_len, char **err,
         size_t *err_len)
{
    FILE *o = open_memstream (out, out_len);
    FILE *e = open_memstream (err, err_len);
    int code = cli_print_task_output (r, o, e, quiet);
    fclose (o);
    fclose (e);
    return code;
}

START_TEST (run_output_is_exact)
{
    static const uint8_t bin[] = { 0, 1, 0xff, '\n', 0, 0xc3 };
    proto_record_t r = s_record (PROTO_STATUS_FAILED);
    r.result.has_exit_code = true;
    r.result.exit_code = 2;
    r.result.stdout_data = (proto_bytes_t) { bin, sizeof bin };
    r.result.stderr_data = (proto_bytes_t) { (const uint8_t *) "err", 3 };
    char *out, *err;
    size_t olen, elen;
    ck_assert_int_eq (s_print (&r, false, &out, &olen, &err, &elen), 2);
    ck_assert_uint_eq (olen, sizeof bin);
    ck_assert_mem_eq (out, bin, sizeof bin);
    ck_assert_uint_eq (elen, 3);
    ck_assert_mem_eq (err, "err", 3);
    free (out);
    free (err);

    r.result.stdout_truncated = true;
    ck_assert_int_eq (s_print (&r, false, &out, &olen, &err, &elen), 2);
    ck_assert_str_eq (err, "err\ncleudo: stdout truncated at 6 bytes\n");
    free (out);
    free (err);
    ck_assert_int_eq (s_print (&r, true, &out, &olen, &err, &elen), 2);
    ck_assert_str_eq (err, "err");
    free (out);
    free (err);

    r = s_record (PROTO_STATUS_REJECTED);
    r.result.error = "bad";
    ck_assert_int_eq (s_print (&r, true, &out, &olen, &err, &elen), 125);
    ck_assert_uint_eq (olen, 0);
    ck_assert_str_eq (err, "cleudo: task t-1 rejected: bad\n");
    free (out);
    free (err);
}
END_TEST

/*  After streaming: only the notes, on a line of their own when the
    streamed stderr did not end one.                                        */
START_TEST (notes_after_streaming)
{
    proto_record_t r = s_record (PROTO_STATUS_TIMED_OUT);
    r.task.limits.wall_ms = 2000;
    char *text;
    size_t len;
    FILE *e = open_memstream (&text, &len);
    ck_assert_int_eq (cli_print_task_notes (&r, e, false, false), 124);
    fclose (e);
    ck_assert_str_eq (text, "\ncleudo: task t-1 timed out after 2.0 s\n");
    free (text);
    e = open_memstream (&text, &len);
    ck_assert_int_eq (cli_print_task_notes (&r, e, false, true), 124);
    fclose (e);
    ck_assert_str_eq (text, "cleudo: task t-1 timed out after 2.0 s\n");
    free (text);
    e = open_memstream (&text, &len);
    ck_assert_int_eq (cli_print_task_notes (&r, e, true, false), 124);
    fclose (e);
    ck_assert_uint_eq (len, 0);
    free (text);
}
END_TEST

START_TEST (write_all_through_a_pipe)
{
    int fds[2];
    ck_assert_int_eq (pipe (fds), 0);
    static const uint8_t data[] = { 0, 0xff, 'x', '\n' };
    ck_assert_int_eq (cli_write_all (fds[1], data, sizeof data), 0);
    ck_assert_int_eq (cli_write_all (fds[1], NULL, 0), 0);
    close (fds[1]);
    uint8_t got[16];
    ck_assert_int_eq (read (fds[0], got, sizeof got), (ssize_t) sizeof data);
    ck_assert_mem_eq (got, data, sizeof data);
    close (fds[0]);
    ck_assert_int_eq (cli_write_all (-1, data, 1), -1);
}
END_TEST

/*  Columns line up by characters (UTF-8 counts once), control characters
    are cleaned, colour only when asked and only in the status column.     */
START_TEST (table_aligns_and_colours)
{
    static const char *const headers[] = { "ID", "STATUS", "TASK" };
    cli_table_t *t = cli_table_new (headers, 3, 1);
    ck_assert_ptr_nonnull (t);
    const char *row1[] = { "t-1", "succeeded", "echo h\xc3\xa9" };
    const char *row2[] = { "t-\xc3\xa9\xc3\xa9", "failed", "bad\x1b[31m" };
    ck_assert_int_eq (cli_table_add (t, row1, PROTO_STATUS_SUCCEEDED), 0);
    ck_assert_int_eq (cli_table_add (t, row2, PROTO_STATUS_FAILED), 0);
    char *text;
    size_t len;
    FILE *o = open_memstream (&text, &len);
    cli_table_print (t, o, false);
    fclose (o);
    ck_assert_str_eq (text, "ID    STATUS     TASK\n"
                            "t-1   succeeded  echo h\xc3\xa9\n"
                            "t-\xc3\xa9\xc3\xa9  failed     bad?[31m\n");
    free (text);
    o = open_memstream (&text, &len);
    cli_table_print (t, o, true);
    fclose (o);
    ck_assert_ptr_nonnull (strstr (text, "t-1   \033[32msucceeded\033[0m  echo"));
    ck_assert_ptr_nonnull (strstr (text, "\033[31mfailed\033[0m     bad"));
    ck_assert_ptr_null (strstr (text, "ID    \033"));        /* header plain */
    free (text);
    cli_table_destroy (&t);
    cli_table_destroy (&t);
    ck_assert_ptr_null (t);
}
END_TEST

START_TEST (colour_rules)
{
    /*  The test's stdout is not a terminal here; NO_COLOR wins anyway.   */
    setenv ("NO_COLOR", "", 1);
    ck_assert (!cli_use_color (STDOUT_FILENO));
    unsetenv ("NO_COLOR");
    int fd = open ("/dev/null", O_WRONLY);
    ck_assert (!cli_use_color (fd));
    close (fd);
    for (int st = PROTO_STATUS_QUEUED; st < PROTO_STATUS_COUNT_; st++)
        ck_assert_msg (*cli_status_color ((proto_status_t) st), "%d", st);
    ck_assert_str_eq (cli_status_color (PROTO_STATUS_NONE), "");
}
END_TEST

/*  ---------------------------------------------------------------------
    JSON                                                                   */

START_TEST (json_print_record_is_the_common_record_on_one_line)
{
    static const uint8_t bad[] = { 'a', 0xff };
    const char *argv[] = { "echo", "hi", NULL };
    proto_record_t r = s_record (PROTO_STATUS_SUCCEEDED);
    r.task.argv = argv;
    r.task.argc = 2;
    r.result.has_exit_code = true;
    r.result.stdout_data = (proto_bytes_t) { bad, sizeof bad };
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    ck_assert_ptr_nonnull (out);
    ck_assert_int_eq (cli_json_print_record (out, &r), 0);
    fclose (out);
    json_t *expect = record_to_json (&r, NULL);
    char *line = json_dumps (expect, JSON_COMPACT);
    ck_assert_uint_eq (len, strlen (line) + 1);
    ck_assert_mem_eq (text, line, len - 1);
    ck_assert_int_eq (text[len - 1], '\n');
    /*  The same schema as the HTTP API, summary included.                  */
    ck_assert_str_eq (json_string_value (json_object_get (expect, "summary")), "echo hi");
    ck_assert_str_eq (json_string_value (json_object_get (expect, "stdout_b64")), "Yf8=");
    free (line);
    free (text);
    json_decref (expect);
}
END_TEST

/*  ---------------------------------------------------------------------
    Display                                                                */

START_TEST (display_formats)
{
    char buf[256];
    const char *argv[] = { "sh", "-c", "echo 'hi'; exit 3", "", "a/b.txt", NULL };
    cli_format_argv (buf, sizeof buf, argv, 5);
    ck_assert_str_eq (buf, "sh -c 'echo '\\''hi'\\''; exit 3' '' a/b.txt");
    const char *ctrl[] = { "a\033b", NULL };
    cli_format_argv (buf, sizeof buf, ctrl, 1);
    ck_assert_str_eq (buf, "'a?b'");
    char small[8];
    cli_format_argv (small, sizeof small, argv, 5);
    ck_assert_str_eq (small, "sh -...");
    cli_format_ms (buf, sizeof buf, 850);
    ck_assert_str_eq (buf, "850 ms");
    cli_format_ms (buf, sizeof buf, 12345);
    ck_assert_str_eq (buf, "12.3 s");
    cli_format_ms (buf, sizeof buf, 250000);
    ck_assert_str_eq (buf, "4 min 10 s");
    cli_format_ms (buf, sizeof buf, 3600000);
    ck_assert_str_eq (buf, "1 h");
    cli_format_time (buf, sizeof buf, 1700000000123);
    ck_assert_str_eq (buf, "2023-11-14T22:13:20.123Z");
    cli_format_time (buf, sizeof buf, 0);
    ck_assert_str_eq (buf, "-");
}
END_TEST

START_TEST (summary_mentions_the_essentials)
{
    const char *argv[] = { "sh", "-c", "exit 3", NULL };
    proto_record_t r = s_record (PROTO_STATUS_FAILED);
    r.task.argv = argv;
    r.task.argc = 3;
    r.worker = "w-1";
    r.created_ms = 1700000000000;
    r.result.has_exit_code = true;
    r.result.exit_code = 3;
    r.result.stdout_data = (proto_bytes_t) { (const uint8_t *) "out", 3 };
    r.result.stderr_data = (proto_bytes_t) { (const uint8_t *) "\xff", 1 };
    r.result.error = "clamped";
    char *text;
    size_t len;
    FILE *f = open_memstream (&text, &len);
    cli_print_summary (f, &r);
    fclose (f);
    ck_assert_ptr_nonnull (strstr (text, "t-1"));
    ck_assert_ptr_nonnull (strstr (text, "failed, exit code 3"));
    ck_assert_ptr_nonnull (strstr (text, "sh -c 'exit 3'"));
    ck_assert_ptr_nonnull (strstr (text, "w-1 (attempt 1)"));
    ck_assert_ptr_nonnull (strstr (text, "2023-11-14T22:13:20.000Z"));
    ck_assert_ptr_nonnull (strstr (text, "clamped"));
    ck_assert_ptr_nonnull (strstr (text, "--- stdout (3 bytes) ---\nout\n"));
    ck_assert_ptr_nonnull (strstr (text, "not text"));
    free (text);
}
END_TEST

START_TEST (command_table_and_help)
{
    static const char *const names[] = { "run", "submit", "get", "wait", "cancel", "logs",
                                         "ls", "rerun", "files", "workers", "help" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const cli_command_t *c = cli_command_find (names[i]);
        ck_assert_ptr_nonnull (c);
        ck_assert_ptr_nonnull (c->fn);
        char usage[64];
        snprintf (usage, sizeof usage, "usage: cleudo %s", names[i]);
        ck_assert_msg (strncmp (c->help, usage, strlen (usage)) == 0, "%s", names[i]);
    }
    ck_assert_ptr_null (cli_command_find ("nope"));
    ck_assert_ptr_nonnull (strstr (cli_command_find ("run")->help, "124"));
    ck_assert_ptr_nonnull (strstr (cli_command_find ("run")->help, "bare number is seconds"));
}
END_TEST

int
main (void)
{
    Suite *s = suite_create ("cli");
    TCase *args = tcase_create ("args");
    tcase_set_timeout (args, 10);
    tcase_add_test (args, argv_task_is_untouched);
    tcase_add_test (args, limits_and_units);
    tcase_add_test (args, bad_units_name_option_and_value);
    tcase_add_test (args, unknown_and_malformed_options);
    tcase_add_test (args, help_stops_parsing);
    tcase_add_test (args, env_options);
    tcase_add_test (args, many_entries_grow);
    tcase_add_test (args, file_options);
    tcase_add_test (args, collect_options);
    tcase_add_test (args, code_task_and_stdin);
    tcase_add_test (args, global_options_in_command);
    tcase_add_test (args, token_search_order);
    suite_add_tcase (s, args);

    TCase *out = tcase_create ("output");
    tcase_set_timeout (out, 10);
    tcase_add_test (out, exit_code_for_every_terminal_status);
    tcase_add_test (out, outcome_message_is_clean);
    tcase_add_test (out, run_output_is_exact);
    tcase_add_test (out, notes_after_streaming);
    tcase_add_test (out, write_all_through_a_pipe);
    tcase_add_test (out, table_aligns_and_colours);
    tcase_add_test (out, colour_rules);
    tcase_add_test (out, json_print_record_is_the_common_record_on_one_line);
    tcase_add_test (out, display_formats);
    tcase_add_test (out, summary_mentions_the_essentials);
    tcase_add_test (out, command_table_and_help);
    suite_add_tcase (s, out);

    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? 1 : 0;
}
