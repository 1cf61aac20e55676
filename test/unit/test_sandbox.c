/*  test_sandbox.c - the agent-sandbox's task machinery driven directly, no
    sockets: child set-up, runs (I/O, limits, deadlines, results), the
    workspace's defences, the capped output buffer, the configuration.

    Every test runs in its own process (Check's fork mode) with a fresh
    temporary SANDBOX_WORK_DIR, removed afterwards.
*/
#define _GNU_SOURCE
#include "../../services/agent-sandbox/child.h"
#include "log.h"
#include "../../services/agent-sandbox/outcap.h"
#include "proto.h"
#include "../../services/agent-sandbox/run.h"
#include "../../services/agent-sandbox/sbx_config.h"
#include "../../services/agent-sandbox/spec.h"
#include "utf8.h"
#include "../../services/agent-sandbox/workspace.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024u * 1024u)

static char s_tmp[256];            /* per-test scratch: work/ and outside/ */
static char s_work[300];           /* SANDBOX_WORK_DIR of the test */
static char s_outside[300];        /* a directory no task should touch */
static sbx_run_conf_t s_conf;

static void
s_setup (void)
{
    snprintf (s_tmp, sizeof s_tmp, "/tmp/sbx-unit-XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_tmp));
    snprintf (s_work, sizeof s_work, "%s/work", s_tmp);
    snprintf (s_outside, sizeof s_outside, "%s/outside", s_tmp);
    char err[256];
    ck_assert_int_eq (sbx_workspace_prepare_root (s_work, err, sizeof err), 0);
    ck_assert_int_eq (mkdir (s_outside, 0755), 0);
    memset (&s_conf, 0, sizeof s_conf);
    s_conf.work_dir = s_work;
    s_conf.worker = "unit-worker";
    s_conf.defaults = (sbx_limits_t) { 10000, 10000, 512ull * MIB, 64, 1 * MIB, 16 * MIB };
    s_conf.maxima = (sbx_limits_t) { 600000, 600000, 4096ull * MIB, 1024, 4 * MIB, 1024 * MIB };
    s_conf.max_collect = 8 * MIB;
    s_conf.open_files = 256;
    log_set_level (CLOG_ERROR);
}

static void
s_teardown (void)
{
    sbx_remove_tree_at (AT_FDCWD, s_tmp);
}

/*  Number of entries in a directory (without . and ..).                    */
static int
s_entries (const char *path)
{
    DIR *d = opendir (path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
            n++;
    closedir (d);
    return n;
}

/*  A task running argv (NULL-terminated); the arrays live in statics, one
    task per test at a time.                                                */
static proto_task_t
s_task (const char *const *argv)
{
    proto_task_t t;
    memset (&t, 0, sizeof t);
    t.id = "t-1";
    t.attempt = 1;
    t.argv = (const char **) argv;
    while (argv && argv[t.argc])
        t.argc++;
    t.limits.network = -1;
    return t;
}

static proto_task_t
s_sh (const char *script)
{
    static const char *argv[4];
    argv[0] = "sh";
    argv[1] = "-c";
    argv[2] = script;
    argv[3] = NULL;
    return s_task (argv);
}

static sbx_run_t *
s_run (const proto_task_t *t)
{
    sbx_run_t *run = sbx_run_new (&s_conf, t, NULL);
    ck_assert_ptr_nonnull (run);
    sbx_run_wait (run);
    ck_assert (sbx_run_done (run));
    ck_assert_ptr_nonnull (sbx_run_result (run));
    return run;
}

static bool
s_bytes_eq (proto_bytes_t b, const char *text)
{
    return b.size == strlen (text) && (b.size == 0 || memcmp (b.data, text, b.size) == 0);
}

static bool
s_contains (const char *haystack, const char *needle)
{
    return haystack && strstr (haystack, needle);
}

/*  A process is gone: no /proc entry or a zombie waiting for its reaper.  */
static bool
s_process_dead (pid_t pid)
{
    char path[64], buf[512];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return true;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = '\0';
    const char *close_paren = strrchr (buf, ')');
    return close_paren && (close_paren[2] == 'Z' || close_paren[2] == 'X');
}

/*  ---- runs: basics ------------------------------------------------------- */

START_TEST (echo_succeeds)
{
    const char *argv[] = { "echo", "hello", NULL };
    proto_task_t t = s_task (argv);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    ck_assert (r->has_exit_code);
    ck_assert_int_eq (r->exit_code, 0);
    ck_assert (!r->has_signal);
    ck_assert (s_bytes_eq (r->stdout_data, "hello\n"));
    ck_assert_uint_eq (r->stderr_data.size, 0);
    ck_assert (!r->stdout_truncated && !r->stderr_truncated);
    ck_assert_str_eq (r->id, "t-1");
    ck_assert_uint_eq (r->attempt, 1);
    ck_assert_str_eq (r->worker, "unit-worker");
    ck_assert_ptr_null (r->error);
    ck_assert_uint_lt (r->wall_ms, 5000);
    ck_assert_uint_gt (r->max_rss_kb, 0);
    /*  The workspace is gone once the result is there.                     */
    ck_assert_int_eq (s_entries (s_work), 0);
    sbx_run_destroy (&run);
    ck_assert_ptr_null (run);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (exit_code_is_failed)
{
    proto_task_t t = s_sh ("exit 3");
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_FAILED);
    ck_assert (r->has_exit_code);
    ck_assert_int_eq (r->exit_code, 3);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (stderr_captured)
{
    proto_task_t t = s_sh ("echo out; echo oops >&2");
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert (s_bytes_eq (r->stdout_data, "out\n"));
    ck_assert (s_bytes_eq (r->stderr_data, "oops\n"));
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (stdin_bigger_than_a_pipe)
{
    size_t size = MIB;
    uint8_t *data = malloc (size);
    for (size_t i = 0; i < size; i++)
        data[i] = (uint8_t) (i * 7 + (i >> 11));
    const char *argv[] = { "cat", NULL };
    proto_task_t t = s_task (argv);
    t.has_stdin = true;
    t.stdin_data = (proto_bytes_t) { data, size };
    t.limits.output_bytes = 2 * MIB;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    ck_assert_uint_eq (r->stdout_data.size, size);
    ck_assert (memcmp (r->stdout_data.data, data, size) == 0);
    sbx_run_destroy (&run);
    free (data);
}
END_TEST

START_TEST (stdin_not_read_is_fine)
{
    /*  The task exits without reading: EPIPE must not hurt the worker.     */
    static uint8_t data[512 * 1024];
    signal (SIGPIPE, SIG_IGN);
    proto_task_t t = s_sh ("echo done");
    t.has_stdin = true;
    t.stdin_data = (proto_bytes_t) { data, sizeof data };
    sbx_run_t *run = s_run (&t);
    ck_assert_int_eq (sbx_run_result (run)->status, PROTO_STATUS_SUCCEEDED);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (environment_is_scrubbed)
{
    setenv ("SECRET_OF_THE_WORKER", "leak", 1);
    const char *argv[] = { "env", NULL };
    proto_task_t t = s_task (argv);
    proto_env_t env[] = { { "FOO", "bar baz" }, { "PATH", "/evil" }, { "HOME", "/nope" },
                          { "LANG", "xx" } };
    t.env = env;
    t.env_count = 4;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    char *out = strndup ((const char *) r->stdout_data.data, r->stdout_data.size);
    int lines = 0;
    bool foo = false, path = false, home = false, lang = false;
    for (char *save = NULL, *line = strtok_r (out, "\n", &save); line;
         line = strtok_r (NULL, "\n", &save)) {
        lines++;
        if (strcmp (line, "FOO=bar baz") == 0)
            foo = true;
        else if (strcmp (line, "PATH=/usr/local/bin:/usr/bin:/bin") == 0)
            path = true;
        else if (strcmp (line, "LANG=C.UTF-8") == 0)
            lang = true;
        else if (strncmp (line, "HOME=", 5) == 0) {
            home = strncmp (line + 5, s_work, strlen (s_work)) == 0
                && strstr (line, "/t-1-1-") != NULL;
        }
        else
            ck_abort_msg ("unexpected variable: %s", line);
    }
    ck_assert_int_eq (lines, 4);
    ck_assert (foo && path && home && lang);
    free (out);
    sbx_run_destroy (&run);
}
END_TEST

/*  While the task runs: only 0-2 open, own session and process group,
    inside its workspace.                                                    */
START_TEST (child_is_a_fresh_process)
{
    int leak = open ("/dev/null", O_RDONLY);      /* not close-on-exec */
    ck_assert_int_ge (leak, 3);
    const char *argv[] = { "sleep", "5", NULL };
    proto_task_t t = s_task (argv);
    sbx_run_t *run = sbx_run_new (&s_conf, &t, NULL);
    ck_assert_ptr_nonnull (run);
    ck_assert (!sbx_run_done (run));
    pid_t pid = sbx_run_pid (run);
    ck_assert_int_gt (pid, 0);
    usleep (100 * 1000);

    char path[64];
    snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
    DIR *d = opendir (path);
    ck_assert_ptr_nonnull (d);
    struct dirent *e;
    int count = 0;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi (e->d_name);
        ck_assert_msg (fd >= 0 && fd <= 2, "fd %d open in the child", fd);
        count++;
    }
    closedir (d);
    ck_assert_int_eq (count, 3);

    ck_assert_int_eq (getpgid (pid), pid);
    ck_assert_int_eq (getsid (pid), pid);
    ck_assert_int_ne (getpgid (pid), getpgrp ());
    ck_assert_int_ne (getsid (pid), getsid (0));

    char cwd[PATH_MAX];
    snprintf (path, sizeof path, "/proc/%d/cwd", (int) pid);
    ssize_t n = readlink (path, cwd, sizeof cwd - 1);
    ck_assert_int_gt (n, 0);
    cwd[n] = '\0';
    ck_assert_msg (strncmp (cwd, s_work, strlen (s_work)) == 0, "cwd %s", cwd);

    struct rlimit rl;
    ck_assert_int_eq (prlimit (pid, RLIMIT_NOFILE, NULL, &rl), 0);
    ck_assert_uint_eq (rl.rlim_cur, 256);
    ck_assert_int_eq (prlimit (pid, RLIMIT_CORE, NULL, &rl), 0);
    ck_assert_uint_eq (rl.rlim_max, 0);
    ck_assert_int_eq (prlimit (pid, RLIMIT_CPU, NULL, &rl), 0);
    ck_assert_uint_eq (rl.rlim_cur, 10);
    ck_assert_uint_eq (rl.rlim_max, 11);

    /*  Destroying a running task kills and reaps it.                      */
    sbx_run_destroy (&run);
    ck_assert_int_eq (kill (pid, 0), -1);
    ck_assert_int_eq (errno, ESRCH);
    ck_assert_int_eq (s_entries (s_work), 0);
    close (leak);
}
END_TEST

START_TEST (timeout_kills_the_whole_group)
{
    proto_task_t t = s_sh ("echo before; sleep 100 & echo $!; sleep 100");
    t.limits.wall_ms = 500;
    sbx_run_t *run = sbx_run_new (&s_conf, &t, NULL);
    pid_t main_pid = sbx_run_pid (run);
    sbx_run_wait (run);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_TIMED_OUT);
    ck_assert (r->has_signal);
    ck_assert_int_eq (r->signal, SIGKILL);
    ck_assert_uint_ge (r->wall_ms, 450);
    ck_assert_uint_lt (r->wall_ms, 3000);
    ck_assert (s_contains (r->error, "wall time limit of 500 ms exceeded"));
    char *out = strndup ((const char *) r->stdout_data.data, r->stdout_data.size);
    ck_assert_msg (strncmp (out, "before\n", 7) == 0, "stdout: %s", out);
    pid_t bg = atoi (out + 7);
    ck_assert_int_gt (bg, 0);
    free (out);
    ck_assert (s_process_dead (main_pid));
    for (int i = 0; i < 50 && !s_process_dead (bg); i++)
        usleep (10000);
    ck_assert_msg (s_process_dead (bg), "background sleep %d survived", (int) bg);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (group_killed_when_main_exits)
{
    /*  No process outlives the task: a background child dies with it.    */
    proto_task_t t = s_sh ("sleep 100 >/dev/null 2>&1 & echo $!");
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    pid_t bg = atoi ((const char *) r->stdout_data.data);
    ck_assert_int_gt (bg, 0);
    for (int i = 0; i < 50 && !s_process_dead (bg); i++)
        usleep (10000);
    ck_assert (s_process_dead (bg));
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (output_truncated_with_flag)
{
    proto_task_t t = s_sh ("head -c 300000 /dev/zero; echo tail >&2");
    t.limits.output_bytes = 1000;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    ck_assert_uint_eq (r->stdout_data.size, 1000);
    ck_assert (r->stdout_truncated);
    ck_assert (!r->stderr_truncated);
    ck_assert (s_bytes_eq (r->stderr_data, "tail\n"));
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (cpu_limit_kills)
{
    proto_task_t t = s_sh ("while :; do :; done");
    t.limits.cpu_ms = 1000;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_KILLED);
    ck_assert (r->has_signal);
    ck_assert (r->signal == SIGXCPU || r->signal == SIGKILL);
    ck_assert_uint_ge (r->cpu_ms, 500);
    ck_assert_msg (s_contains (r->error, "cpu limit of 1000 ms exceeded"), "error: %s",
                   r->error ? r->error : "(none)");
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (cpu_hard_limit_when_sigxcpu_ignored)
{
    proto_task_t t = s_sh ("trap '' XCPU; while :; do :; done");
    t.limits.cpu_ms = 1000;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_KILLED);
    ck_assert_int_eq (r->signal, SIGKILL);
    ck_assert_uint_ge (r->cpu_ms, 1500);
    ck_assert_msg (s_contains (r->error, "cpu limit of 1000 ms exceeded"), "error: %s",
                   r->error ? r->error : "(none)");
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (memory_limit_fails)
{
    const char *argv[] = { "python3", "-c", "x = bytearray(400 * 1024 * 1024)\nprint('allocated')",
                           NULL };
    proto_task_t t = s_task (argv);
    t.limits.memory_bytes = 128 * MIB;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_msg (r->status == PROTO_STATUS_FAILED || r->status == PROTO_STATUS_KILLED,
                   "status %s", proto_status_name (r->status));
    ck_assert_uint_eq (r->stdout_data.size, 0);
    ck_assert (r->stderr_data.size > 0 && memmem (r->stderr_data.data, r->stderr_data.size,
                                                   "MemoryError", 11));
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (file_size_limit)
{
    const char *argv[] = { "dd", "if=/dev/zero", "of=big", "bs=1024", "count=200", NULL };
    proto_task_t t = s_task (argv);
    t.limits.file_bytes = 10000;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_ne (r->status, PROTO_STATUS_SUCCEEDED);
    if (r->status == PROTO_STATUS_KILLED) {
        ck_assert_int_eq (r->signal, SIGXFSZ);
        ck_assert (s_contains (r->error, "file size limit of 10000 bytes exceeded"));
    }
    else {
        ck_assert_int_eq (r->status, PROTO_STATUS_FAILED);
        ck_assert (memmem (r->stderr_data.data, r->stderr_data.size, "File too large", 14));
    }
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (files_in_and_collect_out)
{
    proto_task_t t = s_sh ("cat in.txt d1/d2/nested.txt > out.txt; mkdir -p o/p; "
                           "printf 'hi\\000' > o/p/q.bin; test -d d1/d2");
    proto_file_t files[] = {
        { "in.txt", { (const uint8_t *) "abc", 3 } },
        { "d1/d2/nested.txt", { (const uint8_t *) "xyz", 3 } },
        { "empty", { NULL, 0 } },
    };
    t.files = files;
    t.file_count = 3;
    const char *collect[] = { "out.txt", "o/p/q.bin", "missing.txt", "empty", "out.txt" };
    t.collect = collect;
    t.collect_count = 5;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    ck_assert_uint_eq (r->file_count, 3);
    ck_assert_str_eq (r->files[0].path, "out.txt");
    ck_assert (s_bytes_eq (r->files[0].content, "abcxyz"));
    ck_assert_str_eq (r->files[1].path, "o/p/q.bin");
    ck_assert_uint_eq (r->files[1].content.size, 3);
    ck_assert (memcmp (r->files[1].content.data, "hi\0", 3) == 0);
    ck_assert_str_eq (r->files[2].path, "empty");
    ck_assert_uint_eq (r->files[2].content.size, 0);
    ck_assert_str_eq (r->error, "collect missing.txt: not found");
    ck_assert_int_eq (s_entries (s_work), 0);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (collect_refuses_links_and_specials)
{
    char script[4096];
    snprintf (script, sizeof script,
              "echo secret > %s/target; ln -s %s/target link; echo x > a; ln a hard; "
              "mkfifo fifo; mkdir dir; mkdir sub; ln -s %s subout; echo big > big; "
              "head -c 5000 /dev/zero > large",
              s_outside, s_outside, s_outside);
    proto_task_t t = s_sh (script);
    const char *collect[] = { "link", "hard", "a", "fifo", "dir", "subout/target", "large" };
    t.collect = collect;
    t.collect_count = 7;
    uint64_t saved = s_conf.max_collect;
    s_conf.max_collect = 4096;
    sbx_run_t *run = s_run (&t);
    s_conf.max_collect = saved;
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    ck_assert_uint_eq (r->file_count, 0);
    const char *e = r->error;
    ck_assert_ptr_nonnull (e);
    ck_assert_msg (s_contains (e, "collect link: refused: symbolic link;"), "%s", e);
    ck_assert (s_contains (e, "collect hard: refused: 2 hard links"));
    ck_assert (s_contains (e, "collect a: refused: 2 hard links"));
    ck_assert (s_contains (e, "collect fifo: refused: not a regular file"));
    ck_assert (s_contains (e, "collect dir: refused: not a regular file"));
    ck_assert (s_contains (e, "collect subout/target: refused: symbolic link in path"));
    ck_assert (s_contains (e, "collect large: refused: 5000 bytes exceed the remaining collect budget"));
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (command_not_found_is_127)
{
    const char *argv[] = { "no-such-program-xyz", "arg", NULL };
    proto_task_t t = s_task (argv);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_FAILED);
    ck_assert (r->has_exit_code);
    ck_assert_int_eq (r->exit_code, 127);
    ck_assert_str_eq (r->error, "command not found: no-such-program-xyz");
    ck_assert (s_bytes_eq (r->stderr_data, "command not found: no-such-program-xyz"));
    ck_assert_int_eq (s_entries (s_work), 0);
    sbx_run_destroy (&run);

    /*  A workspace file without execute permission is not a program.       */
    const char *argv2[] = { "./run.sh", NULL };
    t = s_task (argv2);
    proto_file_t files[] = { { "run.sh", { (const uint8_t *) "echo hi\n", 8 } } };
    t.files = files;
    t.file_count = 1;
    run = s_run (&t);
    ck_assert_int_eq (sbx_run_result (run)->exit_code, 127);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (code_in_each_language)
{
    struct { proto_lang_t lang; const char *code; const char *out; } cases[] = {
        { PROTO_LANG_SH, "echo sh-$((1+2)); cat", "sh-3\nfed\n" },
        { PROTO_LANG_BASH, "a=(x y); echo ${BASH_VERSION:+bash}-${a[1]}", "bash-y\n" },
        { PROTO_LANG_PYTHON3, "import sys\nprint('py', sys.version_info[0], sys.argv[0])",
          "py 3 main.py\n" },
    };
    for (size_t i = 0; i < 3; i++) {
        proto_task_t t = s_task (NULL);
        t.lang = cases[i].lang;
        t.code = (proto_bytes_t) { (const uint8_t *) cases[i].code, strlen (cases[i].code) };
        t.has_stdin = true;
        t.stdin_data = (proto_bytes_t) { (const uint8_t *) "fed\n", 4 };
        sbx_run_t *run = s_run (&t);
        const proto_result_t *r = sbx_run_result (run);
        ck_assert_msg (r->status == PROTO_STATUS_SUCCEEDED, "%s: %s %.*s",
                       proto_lang_name (cases[i].lang), proto_status_name (r->status),
                       (int) r->stderr_data.size, (const char *) r->stderr_data.data);
        ck_assert_msg (s_bytes_eq (r->stdout_data, cases[i].out), "%s: %.*s",
                       proto_lang_name (cases[i].lang), (int) r->stdout_data.size,
                       (const char *) r->stdout_data.data);
        sbx_run_destroy (&run);
    }
}
END_TEST

START_TEST (binary_output_exact)
{
    proto_task_t t = s_sh ("printf '\\000\\377abc\\000\\200'; printf '\\377\\000' >&2");
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_uint_eq (r->stdout_data.size, 7);
    ck_assert (memcmp (r->stdout_data.data, "\0\377abc\0\200", 7) == 0);
    ck_assert_uint_eq (r->stderr_data.size, 2);
    ck_assert (memcmp (r->stderr_data.data, "\377\0", 2) == 0);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (setup_failure_is_internal_error)
{
    /*  An open-files limit above the kernel's nr_open fails in the child's
        rlimits step: reported over the pipe, not as the program's failure. */
    s_conf.open_files = 1ull << 40;
    const char *argv[] = { "true", NULL };
    proto_task_t t = s_task (argv);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_INTERNAL_ERROR);
    ck_assert (!r->has_exit_code);
    ck_assert_msg (s_contains (r->error, "child setup failed at step 'rlimits': "), "%s", r->error);
    ck_assert_int_eq (s_entries (s_work), 0);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (limits_default_and_clamp)
{
    proto_task_t t = s_sh ("ulimit -t; ulimit -f");
    t.limits.wall_ms = 10 * 600000;
    t.limits.cpu_ms = 2500;
    t.limits.file_bytes = 5ull << 40;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    ck_assert (s_bytes_eq (r->stdout_data, "3\n2097152\n"));   /* seconds; 1 GiB in 512 B blocks */
    ck_assert_str_eq (r->error, "limits.wall_ms clamped from 6000000 to 600000; "
                                "limits.file_bytes clamped from 5497558138880 to 1073741824");
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (bad_input_path_rejected)
{
    proto_task_t t = s_sh ("true");
    proto_file_t files[] = {
        { "a", { (const uint8_t *) "1", 1 } },
        { "a/b", { (const uint8_t *) "2", 1 } },
    };
    t.files = files;
    t.file_count = 2;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_REJECTED);
    ck_assert_str_eq (r->error, "files[a/b]: a parent is not a directory");
    ck_assert_int_eq (s_entries (s_work), 0);
    sbx_run_destroy (&run);
}
END_TEST

/*  Several runs driven at once from one poll loop, as the worker does.    */
START_TEST (runs_in_parallel)
{
    enum { N = 4 };
    sbx_run_t *runs[N];
    char scripts[N][64];
    const char *argv[N][4];
    proto_task_t tasks[N];              /* must outlive the runs */
    int64_t start = sbx_now_ms ();
    for (int i = 0; i < N; i++) {
        snprintf (scripts[i], sizeof scripts[i], "sleep 0.3; echo run-%d", i);
        argv[i][0] = "sh";
        argv[i][1] = "-c";
        argv[i][2] = scripts[i];
        argv[i][3] = NULL;
        tasks[i] = s_task (argv[i]);
        runs[i] = sbx_run_new (&s_conf, &tasks[i], NULL);
    }
    int done = 0;
    while (done < N) {
        struct pollfd pfd[N * SBX_RUN_POLLFDS_MAX];
        sbx_run_t *owner[N * SBX_RUN_POLLFDS_MAX];
        size_t n = 0;
        for (int i = 0; i < N; i++) {
            sbx_pollfd_t fds[SBX_RUN_POLLFDS_MAX];
            size_t k = sbx_run_pollfds (runs[i], fds, SBX_RUN_POLLFDS_MAX);
            for (size_t j = 0; j < k; j++) {
                pfd[n] = (struct pollfd) { fds[j].fd,
                                           (short) (fds[j].events == SBX_POLL_OUT ? POLLOUT : POLLIN),
                                           0 };
                owner[n++] = runs[i];
            }
        }
        poll (pfd, n, 50);
        int64_t now = sbx_now_ms ();
        for (size_t i = 0; i < n; i++)
            if (pfd[i].revents)
                sbx_run_ready (owner[i], pfd[i].fd, now);
        done = 0;
        for (int i = 0; i < N; i++) {
            sbx_run_tick (runs[i], now);
            done += sbx_run_done (runs[i]);
        }
    }
    ck_assert_int_lt (sbx_now_ms () - start, 1500);
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf (want, sizeof want, "run-%d\n", i);
        ck_assert (s_bytes_eq (sbx_run_result (runs[i])->stdout_data, want));
        sbx_run_destroy (&runs[i]);
    }
}
END_TEST

START_TEST (spawn_cost)
{
    /*  Not a limit, a measurement: printed for the report.                 */
    const char *argv[] = { "/bin/true", NULL };
    proto_task_t t = s_task (argv);
    enum { N = 100 };
    int64_t start = sbx_now_ms ();
    for (int i = 0; i < N; i++) {
        sbx_run_t *run = s_run (&t);
        ck_assert_int_eq (sbx_run_result (run)->status, PROTO_STATUS_SUCCEEDED);
        sbx_run_destroy (&run);
    }
    int64_t total = sbx_now_ms () - start;
    fprintf (stderr, "spawn_cost: %d runs of /bin/true (workspace, clone, exec, wait, "
             "remove) in %lld ms: %.2f ms each\n", N, (long long) total, (double) total / N);
}
END_TEST

/*  ---- workspace ------------------------------------------------------------ */

START_TEST (workspace_write_never_follows_links)
{
    char canary[PATH_MAX];
    snprintf (canary, sizeof canary, "%s/canary", s_outside);
    FILE *f = fopen (canary, "w");
    fputs ("canary", f);
    fclose (f);

    sbx_workspace_t *ws = sbx_workspace_new (s_work, "w", 1);
    ck_assert_ptr_nonnull (ws);
    int fd = sbx_workspace_fd (ws);
    ck_assert_int_eq (symlinkat (canary, fd, "in.txt"), 0);
    ck_assert_int_eq (symlinkat (s_outside, fd, "sub"), 0);
    ck_assert_int_eq (linkat (AT_FDCWD, canary, fd, "hard", 0), 0);
    ck_assert_int_eq (mkdirat (fd, "d", 0755), 0);
    ck_assert_int_eq (symlinkat (s_outside, fd, "d/inner"), 0);

    char why[160];
    ck_assert_int_eq (sbx_workspace_write (ws, "in.txt", "evil", 4, 0644, why, sizeof why), -1);
    ck_assert_str_eq (why, "already exists");
    ck_assert_int_eq (sbx_workspace_write (ws, "sub/x.txt", "evil", 4, 0644, why, sizeof why), -1);
    ck_assert_str_eq (why, "refused: symbolic link in path");
    ck_assert_int_eq (sbx_workspace_write (ws, "d/inner/y/z.txt", "evil", 4, 0644, why, sizeof why), -1);
    ck_assert_int_eq (sbx_workspace_write (ws, "hard", "evil", 4, 0644, why, sizeof why), -1);
    ck_assert_int_eq (sbx_workspace_write (ws, "../escape", "evil", 4, 0644, why, sizeof why), -1);
    ck_assert_int_eq (sbx_workspace_write (ws, "/etc/passwd", "evil", 4, 0644, why, sizeof why), -1);
    ck_assert_int_eq (sbx_workspace_write (ws, "ok/fine.txt", "good", 4, 0644, why, sizeof why), 0);

    uint8_t *data;
    size_t size;
    ck_assert_int_eq (sbx_workspace_read (ws, "in.txt", 100, &data, &size, why, sizeof why), -1);
    ck_assert_int_eq (sbx_workspace_read (ws, "sub/canary", 100, &data, &size, why, sizeof why), -1);
    ck_assert_int_eq (sbx_workspace_read (ws, "hard", 100, &data, &size, why, sizeof why), -1);
    ck_assert_int_eq (sbx_workspace_read (ws, "ok/fine.txt", 100, &data, &size, why, sizeof why), 0);
    ck_assert_uint_eq (size, 4);
    free (data);

    sbx_workspace_destroy (&ws);
    ck_assert_int_eq (s_entries (s_work), 0);
    /*  The canary, its directory and its hard link count survived.        */
    char buf[16] = "";
    f = fopen (canary, "r");
    ck_assert_ptr_nonnull (f);
    ck_assert_ptr_nonnull (fgets (buf, sizeof buf, f));
    fclose (f);
    ck_assert_str_eq (buf, "canary");
    struct stat st;
    ck_assert_int_eq (stat (canary, &st), 0);
    ck_assert_uint_eq (st.st_nlink, 1);
    ck_assert_int_eq (s_entries (s_outside), 1);
}
END_TEST

START_TEST (workspace_removed_whatever_the_task_left)
{
    char script[4096];
    snprintf (script, sizeof script,
              "echo keep > %s/file; mkdir %s/dir; echo keep > %s/dir/inner;"
              "mkdir -p ro/sub/deeper; echo x > ro/sub/f; chmod 0 ro/sub/f; chmod 0500 ro/sub;"
              "chmod 0 ro; ln -s %s link_dir; ln -s %s/file link_file; ln -s /etc link_etc;"
              "mkfifo fifo; mkdir -p a/b/c; ln -s ../../.. a/b/c/up; chmod 0 a/b; "
              "python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind(\"sock\")'",
              s_outside, s_outside, s_outside, s_outside, s_outside);
    proto_task_t t = s_sh (script);
    sbx_run_t *run = s_run (&t);
    ck_assert_msg (sbx_run_result (run)->status == PROTO_STATUS_SUCCEEDED, "%.*s",
                   (int) sbx_run_result (run)->stderr_data.size,
                   (const char *) sbx_run_result (run)->stderr_data.data);
    ck_assert_int_eq (s_entries (s_work), 0);
    sbx_run_destroy (&run);
    struct stat st;
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/file", s_outside);
    ck_assert_int_eq (stat (path, &st), 0);
    snprintf (path, sizeof path, "%s/dir/inner", s_outside);
    ck_assert_int_eq (stat (path, &st), 0);
    ck_assert_int_eq (stat ("/etc/passwd", &st), 0);
    ck_assert_int_eq (s_entries (s_outside), 2);
}
END_TEST

START_TEST (remove_tree_very_deep)
{
    /*  Deeper than the removal's descriptor budget: moved up and finished. */
    char root[PATH_MAX];
    snprintf (root, sizeof root, "%s/deep", s_tmp);
    ck_assert_int_eq (mkdir (root, 0700), 0);
    int fd = open (root, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq (mkdirat (fd, "d", 0700), 0);
        int next = openat (fd, "d", O_RDONLY | O_DIRECTORY);
        if (i % 100 == 0) {
            int f = openat (next, "file", O_WRONLY | O_CREAT, 0600);
            close (f);
            symlinkat ("/", next, "root");
        }
        close (fd);
        fd = next;
    }
    close (fd);
    ck_assert_int_eq (sbx_remove_tree_at (AT_FDCWD, root), 0);
    ck_assert_int_eq (access (root, F_OK), -1);
}
END_TEST

/*  ---- outcap and child ------------------------------------------------------ */

START_TEST (outcap_keeps_cap_and_counts)
{
    sbx_outcap_t *c = sbx_outcap_new (10);
    sbx_outcap_append (c, "hello", 5);
    ck_assert (!sbx_outcap_truncated (c));
    sbx_outcap_append (c, " world!", 7);
    ck_assert_uint_eq (sbx_outcap_size (c), 10);
    ck_assert (memcmp (sbx_outcap_data (c), "hello worl", 10) == 0);
    ck_assert (sbx_outcap_truncated (c));
    ck_assert_uint_eq (sbx_outcap_total (c), 12);

    int p[2];
    ck_assert_int_eq (pipe2 (p, O_NONBLOCK), 0);
    ck_assert_int_eq (write (p[1], "abc", 3), 3);
    ck_assert_int_eq (sbx_outcap_read (c, p[0]), 0);
    close (p[1]);
    ck_assert_int_eq (sbx_outcap_read (c, p[0]), 1);
    ck_assert_uint_eq (sbx_outcap_total (c), 15);
    close (p[0]);
    sbx_outcap_destroy (&c);
    ck_assert_ptr_null (c);
    sbx_outcap_destroy (&c);

    sbx_outcap_t *none = sbx_outcap_new (0);
    sbx_outcap_append (none, "x", 1);
    ck_assert_uint_eq (sbx_outcap_size (none), 0);
    ck_assert (sbx_outcap_truncated (none));
    sbx_outcap_destroy (&none);
}
END_TEST

START_TEST (utf8_names_in_results_are_fixed)
{
    /*  A task naming a non-UTF-8 program or file gets valid text back
        (utf8_valid and utf8_fix themselves are tested in test_common.c).  */
    const char *argv[] = { "no\xffsuch", NULL };
    proto_task_t t = s_task (argv);
    const char *collect[] = { "bad\xfe" };
    t.collect = collect;
    t.collect_count = 1;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->exit_code, 127);
    ck_assert_str_eq (r->error, "command not found: no?such");
    ck_assert (utf8_valid (r->error, strlen (r->error)));
    sbx_run_destroy (&run);

    argv[0] = "true";
    run = s_run (&t);
    ck_assert_str_eq (sbx_run_result (run)->error, "collect bad?: refused: name is not valid UTF-8");
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (child_step_names)
{
    ck_assert_str_eq (sbx_child_step_name (SBX_STEP_SESSION), "session");
    ck_assert_str_eq (sbx_child_step_name (SBX_STEP_RLIMITS), "rlimits");
    ck_assert_str_eq (sbx_child_step_name (SBX_STEP_EXEC), "exec");
    ck_assert_str_eq (sbx_child_step_name (99), "unknown");
    ck_assert_str_eq (sbx_child_step_name (-1), "unknown");
}
END_TEST

START_TEST (child_exec_failure_reported)
{
    /*  Bypass the lookup: the exec step itself fails and says so.         */
    int p[2], q[2], r[2];
    ck_assert_int_eq (pipe2 (p, O_CLOEXEC), 0);
    ck_assert_int_eq (pipe2 (q, O_CLOEXEC), 0);
    ck_assert_int_eq (pipe2 (r, O_CLOEXEC), 0);
    int dir = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *argv[] = { "nope", NULL };
    char *envp[] = { NULL };
    sbx_child_spec_t spec = {
        .path = "/nonexistent/nope", .argv = argv, .envp = envp,
        .stdin_fd = p[0], .stdout_fd = q[1], .stderr_fd = r[1], .workdir_fd = dir,
    };
    pid_t pid = 0;
    int pidfd = -1, step = 0, err = 0;
    ck_assert_int_eq (sbx_child_spawn (&spec, &pid, &pidfd, &step, &err), -1);
    ck_assert_int_eq (step, SBX_STEP_EXEC);
    ck_assert_int_eq (err, ENOENT);
    /*  The failed child was reaped.                                        */
    ck_assert_int_eq (waitpid (-1, NULL, WNOHANG), -1);
    ck_assert_int_eq (errno, ECHILD);

    spec.path = "/bin/true";
    ck_assert_int_eq (sbx_child_spawn (&spec, &pid, &pidfd, &step, &err), 0);
    ck_assert_int_ge (pidfd, 0);
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    ck_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    close (pidfd);

    spec.stdin_fd = 1;                  /* misuse: a descriptor below 3 */
    ck_assert_int_eq (sbx_child_spawn (&spec, &pid, &pidfd, &step, &err), -1);
    ck_assert_int_eq (step, SBX_STEP_NONE);
    ck_assert_int_eq (err, EINVAL);
}
END_TEST

START_TEST (spec_find_program_and_env)
{
    char out[256];
    ck_assert_int_eq (sbx_spec_find_program ("sh", AT_FDCWD, out, sizeof out), 0);
    ck_assert_msg (strcmp (out, "/usr/bin/sh") == 0 || strcmp (out, "/bin/sh") == 0, "%s", out);
    ck_assert_int_eq (sbx_spec_find_program ("python3", AT_FDCWD, out, sizeof out), 0);
    ck_assert_msg (strncmp (out, "/usr/", 5) == 0 || strncmp (out, "/bin/", 5) == 0, "%s", out);
    ck_assert_int_eq (sbx_spec_find_program ("/bin/sh", AT_FDCWD, out, sizeof out), 0);
    ck_assert_int_eq (sbx_spec_find_program ("/etc/passwd", AT_FDCWD, out, sizeof out), -1);
    ck_assert_int_eq (sbx_spec_find_program ("", AT_FDCWD, out, sizeof out), -1);
    ck_assert_int_eq (sbx_spec_find_program ("definitely-not-here", AT_FDCWD, out, sizeof out), -1);

    proto_env_t env[] = { { "A", "1" }, { "HOME", "x" } };
    char **envp = sbx_spec_envp (env, 2, "/w");
    ck_assert_str_eq (envp[0], "A=1");
    ck_assert_str_eq (envp[1], "PATH=" SBX_FIXED_PATH);
    ck_assert_str_eq (envp[2], "HOME=/w");
    ck_assert_str_eq (envp[3], "LANG=C.UTF-8");
    ck_assert_ptr_null (envp[4]);
    free (envp);
}
END_TEST

/*  ---- configuration ----------------------------------------------------------- */

static void
s_clear_sandbox_env (void)
{
    extern char **environ;
    for (;;) {
        char **e = environ;
        while (*e && strncmp (*e, "SANDBOX_", 8) != 0)
            e++;
        if (!*e)
            break;
        char name[128];
        size_t n = strcspn (*e, "=");
        snprintf (name, sizeof name, "%.*s", (int) n, *e);
        unsetenv (name);
    }
}

START_TEST (config_defaults_and_checks)
{
    s_clear_sandbox_env ();
    setenv ("SANDBOX_WORK_DIR", s_work, 1);
    static sbx_config_t cfg;
    char err[512] = "";
    char *argv[] = { "agent-sandbox", NULL };
    ck_assert_msg (sbx_config_load (&cfg, 1, argv, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq (cfg.tasks_endpoint, "tcp://127.0.0.1:5557");
    ck_assert_str_eq (cfg.results_endpoint, "tcp://127.0.0.1:5558");
    ck_assert_str_eq (cfg.control_endpoint, "tcp://127.0.0.1:5559");
    ck_assert_int_eq (cfg.slots, sysconf (_SC_NPROCESSORS_ONLN));
    ck_assert_int_eq (cfg.heartbeat_ms, 1000);
    ck_assert_int_eq (cfg.max_frame, 16 * MIB);
    ck_assert_int_eq (cfg.default_wall, 10000);
    ck_assert_int_eq (cfg.max_wall, 600000);
    ck_assert_int_eq (cfg.default_memory, 512 * (int64_t) MIB);
    ck_assert_int_eq (cfg.max_memory, 4096 * (int64_t) MIB);
    ck_assert_int_eq (cfg.max_collect, 8 * MIB - 64 * 1024);
    ck_assert_ptr_nonnull (strchr (cfg.worker_id, '-'));
    ck_assert_str_eq (cfg.work_dir, s_work);

    /*  Flags win; a relative work dir becomes absolute and is created.   */
    char wd[512];
    snprintf (wd, sizeof wd, "--work-dir=/etc/passwd/made");
    char *argv2[] = { "agent-sandbox", "--slots", "3", "--worker-id=w-1", wd, NULL };
    ck_assert_int_eq (sbx_config_load (&cfg, 5, argv2, err, sizeof err), -1);
    ck_assert_msg (strstr (err, "cannot create work directory '/etc/passwd/made'"), "%s", err);
    snprintf (wd, sizeof wd, "--work-dir=%s/made/deeper", s_tmp);
    ck_assert_msg (sbx_config_load (&cfg, 5, argv2, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq (cfg.slots, 3);
    ck_assert_str_eq (cfg.worker_id, "w-1");
    struct stat st;
    ck_assert_int_eq (stat (cfg.work_dir, &st), 0);
    ck_assert_uint_eq (st.st_mode & 0777, 0700);

    setenv ("SANDBOX_SLOTS", "0", 1);
    ck_assert_int_eq (sbx_config_load (&cfg, 1, argv, err, sizeof err), -1);
    ck_assert_msg (strstr (err, "SANDBOX_SLOTS") && strstr (err, "between 1 and 256"), "%s", err);
    unsetenv ("SANDBOX_SLOTS");

    setenv ("SANDBOX_MAX_OUTPUT", "8M", 1);
    ck_assert_int_eq (sbx_config_load (&cfg, 1, argv, err, sizeof err), -1);
    ck_assert_msg (strstr (err, "SANDBOX_MAX_FRAME"), "%s", err);
    unsetenv ("SANDBOX_MAX_OUTPUT");

    setenv ("SANDBOX_DEFAULT_WALL", "20m", 1);
    ck_assert_int_eq (sbx_config_load (&cfg, 1, argv, err, sizeof err), -1);
    ck_assert_msg (strstr (err, "SANDBOX_DEFAULT_WALL") && strstr (err, "SANDBOX_MAX_WALL"), "%s", err);
    unsetenv ("SANDBOX_DEFAULT_WALL");

    setenv ("SANDBOX_WORKER_ID", "has space", 1);
    ck_assert_int_eq (sbx_config_load (&cfg, 1, argv, err, sizeof err), -1);
    ck_assert_msg (strstr (err, "SANDBOX_WORKER_ID"), "%s", err);
    unsetenv ("SANDBOX_WORKER_ID");

    sbx_run_conf_t rc;
    ck_assert_msg (sbx_config_load (&cfg, 1, argv, err, sizeof err) == 0, "%s", err);
    sbx_config_run_conf (&cfg, &rc);
    ck_assert_uint_eq (rc.defaults.output_bytes, MIB);
    ck_assert_uint_eq (rc.maxima.output_bytes, 4 * MIB);
    ck_assert_uint_eq (rc.open_files, 256);
}
END_TEST

static Suite *
s_suite (void)
{
    Suite *s = suite_create ("sandbox");
    TCase *tc = tcase_create ("run");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, echo_succeeds);
    tcase_add_test (tc, exit_code_is_failed);
    tcase_add_test (tc, stderr_captured);
    tcase_add_test (tc, stdin_bigger_than_a_pipe);
    tcase_add_test (tc, stdin_not_read_is_fine);
    tcase_add_test (tc, environment_is_scrubbed);
    tcase_add_test (tc, child_is_a_fresh_process);
    tcase_add_test (tc, timeout_kills_the_whole_group);
    tcase_add_test (tc, group_killed_when_main_exits);
    tcase_add_test (tc, output_truncated_with_flag);
    tcase_add_test (tc, cpu_limit_kills);
    tcase_add_test (tc, cpu_hard_limit_when_sigxcpu_ignored);
    tcase_add_test (tc, memory_limit_fails);
    tcase_add_test (tc, file_size_limit);
    tcase_add_test (tc, files_in_and_collect_out);
    tcase_add_test (tc, collect_refuses_links_and_specials);
    tcase_add_test (tc, command_not_found_is_127);
    tcase_add_test (tc, code_in_each_language);
    tcase_add_test (tc, binary_output_exact);
    tcase_add_test (tc, setup_failure_is_internal_error);
    tcase_add_test (tc, limits_default_and_clamp);
    tcase_add_test (tc, bad_input_path_rejected);
    tcase_add_test (tc, runs_in_parallel);
    tcase_add_test (tc, spawn_cost);
    suite_add_tcase (s, tc);

    tc = tcase_create ("workspace");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, workspace_write_never_follows_links);
    tcase_add_test (tc, workspace_removed_whatever_the_task_left);
    tcase_add_test (tc, remove_tree_very_deep);
    suite_add_tcase (s, tc);

    tc = tcase_create ("parts");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 10);
    tcase_add_test (tc, outcap_keeps_cap_and_counts);
    tcase_add_test (tc, utf8_names_in_results_are_fixed);
    tcase_add_test (tc, child_step_names);
    tcase_add_test (tc, child_exec_failure_reported);
    tcase_add_test (tc, spec_find_program_and_env);
    tcase_add_test (tc, config_defaults_and_checks);
    suite_add_tcase (s, tc);
    return s;
}

int
main (void)
{
    SRunner *sr = srunner_create (s_suite ());
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
