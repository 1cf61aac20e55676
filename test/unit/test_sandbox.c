/*  test_sandbox.c - the agent-sandbox's task machinery driven directly, no
    sockets: child set-up, runs (I/O, limits, deadlines, results), the
    workspace's defences, the capped output buffer, the configuration, and
    the isolation layers wired into the child (isolation.h).

    Every test runs in its own process (Check's fork mode) with a fresh
    temporary SANDBOX_WORK_DIR, removed afterwards. The "run" tests run
    twice: with a plain child ("run") and with every isolation layer this
    machine has ("run-isolated", as the worker runs tasks), where a few
    expectations legitimately differ (HOME is /workspace in the mount
    namespace, pids printed by a task are those of its PID namespace, the
    memory limit is the cgroup's). The "isolation" tests prove each layer
    from inside the task and from the host; they say SKIP for a layer the
    machine lacks.
*/
#define _GNU_SOURCE
#include "../../services/agent-sandbox/child.h"
#include "../../services/agent-sandbox/isolation.h"
#include "cert.h"
#include "log.h"
#include "../../services/agent-sandbox/outbox.h"
#include "../../services/agent-sandbox/outcap.h"
#include "proto.h"
#include "../../services/agent-sandbox/run.h"
#include "../../services/agent-sandbox/sbx_config.h"
#include "../../services/agent-sandbox/spec.h"
#include "utf8.h"
#include "../../services/agent-sandbox/workspace.h"

#include "testutil.h"
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024u * 1024u)
#define UID_BASE 240000                 /* per-slot host uids of these tests */
#define ISO_SLOTS 4

static char s_tmp[256];            /* per-test scratch: work/ and outside/ */
static char s_work[300];           /* SANDBOX_WORK_DIR of the test */
static char s_outside[300];        /* a directory no task should touch */
static sbx_run_conf_t s_conf;
static sbx_iso_t *s_iso;           /* "run-isolated" and "isolation": every layer */
static char s_cg_name[64];         /* the tests' cgroup name: cleudo-unit-<runner pid> */

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
    signal (SIGPIPE, SIG_IGN);          /* as the worker: a task may stop reading */
}

static void
s_teardown (void)
{
    sbx_remove_tree_at (AT_FDCWD, s_tmp);
}

/*  An isolation context like the worker's (slots ISO_SLOTS), replacing
    any earlier one.                                                        */
static bool s_cgroup_join;         /* tasks join their cgroup (no spawner threads) */

static void
s_iso_make (bool namespaces, bool cgroup, bool allow_network)
{
    sbx_iso_destroy (&s_iso);
    sbx_iso_config_t ic = {
        .seccomp = true, .landlock = true, .namespaces = namespaces, .cgroup = cgroup,
        .uid_base = UID_BASE, .work_dir = s_work, .slots = ISO_SLOTS,
        .allow_network = allow_network, .cgroup_name = s_cg_name,
        .cgroup_join = s_cgroup_join,
    };
    char err[512] = "";
    s_iso = sbx_iso_new (&ic, err, sizeof err);
    ck_assert_msg (s_iso != NULL, "%s", err);
    s_conf.iso = s_iso;
    s_conf.allow_network = allow_network;
}

static void
s_setup_iso (void)
{
    s_setup ();
    s_iso_make (true, true, false);
}

static void
s_teardown_iso (void)
{
    sbx_iso_destroy (&s_iso);
    s_teardown ();
}

/*  In the runner (survives a failed test): a test's leftover cgroup.      */
static void
s_case_teardown (void)
{
    char err[256];
    sbx_cgroup_config_t cfg = { .name = s_cg_name };
    sbx_cgroup_t *cg = sbx_cgroup_new (&cfg, NULL, err, sizeof err);
    sbx_cgroup_destroy (&cg);
}

static bool
s_on (int layer)
{
    return s_iso && sbx_iso_status (s_iso, layer) == SBX_ISO_ENFORCED;
}

static bool
s_need (int layer, const char *test)
{
    if (s_on (layer))
        return true;
    fprintf (stderr, "SKIP %s: %s %s (%s)\n", test, sbx_iso_layer_name (layer),
             s_iso ? sbx_iso_status_name (sbx_iso_status (s_iso, layer)) : "-",
             s_iso ? sbx_iso_detail (s_iso, layer) : "no isolation");
    return false;
}

/*  Wait (up to 2 s) until no host process has marker in its command line. */
static int
s_marker_gone (const char *marker)
{
    int n = tu_count_marker (marker);
    for (int i = 0; i < 200 && n > 0; i++) {
        usleep (10000);
        n = tu_count_marker (marker);
    }
    return n;
}

/*  A field of /proc/PID/status seen from the host ("Uid", ...).           */
static void
s_status_field (pid_t pid, const char *field, char *out, size_t size)
{
    char path[64], buf[1024];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "re");
    out[0] = '\0';
    if (!f)
        return;
    size_t len = strlen (field);
    while (fgets (buf, sizeof buf, f))
        if (strncmp (buf, field, len) == 0 && buf[len] == ':') {
            snprintf (out, size, "%s", buf + len + 1 + strspn (buf + len + 1, " \t"));
            out[strcspn (out, "\n")] = '\0';
            break;
        }
    fclose (f);
}

/*  Live (not zombie) host processes whose real uid is uid.                */
static int
s_procs_of_uid (uid_t uid)
{
    int n = 0;
    DIR *d = opendir ("/proc");
    struct dirent *e;
    while (d && (e = readdir (d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char field[128], state[64];
        s_status_field ((pid_t) atoi (e->d_name), "Uid", field, sizeof field);
        s_status_field ((pid_t) atoi (e->d_name), "State", state, sizeof state);
        if (field[0] && (uid_t) strtoul (field, NULL, 10) == uid && state[0] != 'Z')
            n++;
    }
    if (d)
        closedir (d);
    return n;
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
    sbx_run_t *run = sbx_run_new (&s_conf, 0, t, NULL);
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
            /*  The workspace as the task sees it: in the minimal root of
                the mount namespace it is /workspace.                       */
            if (s_on (SBX_ISO_MOUNTNS))
                home = strcmp (line + 5, "/workspace") == 0;
            else
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
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    ck_assert_ptr_nonnull (run);
    sbx_run_settle (run);
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
    if (s_on (SBX_ISO_MOUNTNS))         /* its own root: the path inside */
        ck_assert_str_eq (cwd, "/workspace");
    else
        ck_assert_msg (strncmp (cwd, s_work, strlen (s_work)) == 0, "cwd %s", cwd);
    /*  The same directory as the workspace on the host.                    */
    DIR *wd = opendir (s_work);
    struct dirent *we = wd ? readdir (wd) : NULL;
    while (we && we->d_name[0] == '.')
        we = readdir (wd);
    ck_assert_ptr_nonnull (we);
    char host_ws[PATH_MAX];
    snprintf (host_ws, sizeof host_ws, "%s/%s", s_work, we->d_name);
    closedir (wd);
    struct stat st_cwd, st_ws;
    ck_assert_int_eq (stat (path, &st_cwd), 0);
    ck_assert_int_eq (stat (host_ws, &st_ws), 0);
    ck_assert (st_cwd.st_ino == st_ws.st_ino && st_cwd.st_dev == st_ws.st_dev);

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

/*  The background sleep is found on the host by its unique argument (in a
    PID namespace the pid a task prints is not the host's).                */
START_TEST (timeout_kills_the_whole_group)
{
    char marker[32], script[128];
    snprintf (marker, sizeof marker, "100.%d1", (int) getpid ());
    /*  "$d.": the marker is in the sleep's arguments, not in sh's.          */
    snprintf (script, sizeof script, "d=100; echo before; sleep $d.%d1 & echo $!; sleep 100",
              (int) getpid ());
    proto_task_t t = s_sh (script);
    t.limits.wall_ms = 500;
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    pid_t main_pid = sbx_run_pid (run);
    for (int i = 0; i < 400 && tu_count_marker (marker) == 0; i++)
        usleep (5000);
    ck_assert_int_eq (tu_count_marker (marker), 1);     /* it did run */
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
    ck_assert_msg (s_marker_gone (marker) == 0, "background sleep %d survived", (int) bg);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (group_killed_when_main_exits)
{
    /*  No process outlives the task: a background child dies with it.    */
    char marker[32], script[128];
    snprintf (marker, sizeof marker, "100.%d2", (int) getpid ());
    snprintf (script, sizeof script, "d=100; sleep $d.%d2 >/dev/null 2>&1 & echo $!; sleep 0.1",
              (int) getpid ());
    proto_task_t t = s_sh (script);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    pid_t bg = atoi ((const char *) r->stdout_data.data);
    ck_assert_int_gt (bg, 0);
    ck_assert_int_eq (s_marker_gone (marker), 0);
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
    /*  PID 1 of a PID namespace ignores the kernel's SIGXCPU: the hard
        limit's SIGKILL (soft + 1 s) ends it.                              */
    if (s_on (SBX_ISO_PIDNS))
        ck_assert_int_eq (r->signal, SIGKILL);
    else
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
    ck_assert_uint_eq (r->stdout_data.size, 0);
    if (s_on (SBX_ISO_CGROUP)) {
        /*  The cgroup limits memory (no RLIMIT_AS): its OOM kill says so. */
        ck_assert_msg (r->status == PROTO_STATUS_MEMORY_LIMIT, "status %s: %s",
                       proto_status_name (r->status), r->error ? r->error : "");
        ck_assert_str_eq (r->error, "memory limit of 134217728 bytes exceeded (1 process"
                                    " killed by the OOM killer)");
        ck_assert (r->has_signal && r->signal == SIGKILL);
    }
    else {
        /*  RLIMIT_AS: the program's own failure.                           */
        ck_assert_msg (r->status == PROTO_STATUS_FAILED || r->status == PROTO_STATUS_KILLED,
                       "status %s", proto_status_name (r->status));
        ck_assert (r->stderr_data.size > 0 && memmem (r->stderr_data.data, r->stderr_data.size,
                                                       "MemoryError", 11));
    }
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
    /*  "step: errno", whichever stage of the child failed.                  */
    ck_assert_msg (s_contains (r->error, "child setup failed at step 'rlimits': "
                                         "Operation not permitted (EPERM)"), "%s", r->error);
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
        runs[i] = sbx_run_new (&s_conf, (size_t) i, &tasks[i], NULL);
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
    fprintf (stderr, "spawn_cost%s: %d runs of /bin/true (workspace, clone, exec, wait, "
             "remove) in %lld ms: %.2f ms each\n", s_iso ? " (every isolation layer)" : "",
             N, (long long) total, (double) total / N);
}
END_TEST


/*  ---- isolation: each layer, from inside the task and from the host ------- */

/*  Text of a result's stdout (NUL-terminated copy; free it).               */
static char *
s_out (const proto_result_t *r)
{
    return strndup ((const char *) r->stdout_data.data, r->stdout_data.size);
}

#define EXPECT_OK(r)                                                           \
    ck_assert_msg ((r)->status == PROTO_STATUS_SUCCEEDED, "status %s error %s\n%.*s\n%.*s", \
                   proto_status_name ((r)->status), (r)->error ? (r)->error : "-",          \
                   (int) (r)->stdout_data.size, (const char *) (r)->stdout_data.data,         \
                   (int) (r)->stderr_data.size, (const char *) (r)->stderr_data.data)

START_TEST (iso_hello_map_and_lines)
{
    proto_layer_t layers[SBX_ISO_LAYER_COUNT];
    ck_assert_uint_eq (sbx_iso_hello (s_iso, layers), SBX_ISO_LAYER_COUNT);
    const char *want[] = { "seccomp", "landlock", "userns", "pidns", "mountns", "netns",
                           "ipcns", "utsns", "cgroup", "rlimits", "caps" };
    for (int l = 0; l < SBX_ISO_LAYER_COUNT; l++) {
        ck_assert_str_eq (layers[l].name, want[l]);
        ck_assert_str_eq (sbx_iso_layer_name (l), want[l]);
        ck_assert (sbx_iso_detail (s_iso, l)[0]);
        if (l == SBX_ISO_LANDLOCK) {
            ck_assert (!layers[l].is_bool);
            ck_assert_int_eq (layers[l].value, sbx_iso_landlock_abi (s_iso));
            ck_assert_int_eq (layers[l].value > 0, s_on (l));
        }
        else {
            ck_assert (layers[l].is_bool);
            ck_assert_int_eq (layers[l].value, s_on (l));
        }
        fprintf (stderr, "  %-8s %-11s %s\n", want[l],
                 sbx_iso_status_name (sbx_iso_status (s_iso, l)), sbx_iso_detail (s_iso, l));
    }
    ck_assert (s_on (SBX_ISO_RLIMITS) && s_on (SBX_ISO_CAPS));
    /*  Disabled by configuration: said so, and the map says false.         */
    s_iso_make (false, false, false);
    sbx_iso_hello (s_iso, layers);
    for (int l = SBX_ISO_USERNS; l <= SBX_ISO_CGROUP; l++) {
        ck_assert_int_eq (sbx_iso_status (s_iso, l), SBX_ISO_DISABLED);
        ck_assert_int_eq (layers[l].value, 0);
    }
    ck_assert_str_eq (sbx_iso_detail (s_iso, SBX_ISO_PIDNS), "SANDBOX_NAMESPACES=off");
    ck_assert_str_eq (sbx_iso_detail (s_iso, SBX_ISO_CGROUP), "SANDBOX_CGROUP=off");
}
END_TEST

START_TEST (iso_require_refuses_what_is_missing)
{
    char err[512] = "";
    sbx_iso_destroy (&s_iso);
    sbx_iso_config_t ic = { .seccomp = true, .landlock = true, .namespaces = true,
                            .cgroup = false, .uid_base = UID_BASE, .work_dir = s_work,
                            .slots = 1, .require = "seccomp,cgroup", .cgroup_name = s_cg_name };
    s_iso = sbx_iso_new (&ic, err, sizeof err);
    ck_assert_msg (s_iso, "%s", err);
    ck_assert_int_eq (sbx_iso_check_required (s_iso, err, sizeof err), -1);
    ck_assert_str_eq (err, "SANDBOX_REQUIRE names cgroup, which is disabled by SANDBOX_CGROUP=off;"
                           " refusing to start");
    sbx_iso_destroy (&s_iso);
    /*  What works passes.                                                  */
    ic.require = "rlimits,caps";
    s_iso = sbx_iso_new (&ic, err, sizeof err);
    ck_assert_int_eq (sbx_iso_check_required (s_iso, err, sizeof err), 0);
    sbx_iso_destroy (&s_iso);
    /*  A name that is no layer.                                            */
    ic.require = "seccomp,magic";
    ck_assert_ptr_null (sbx_iso_new (&ic, err, sizeof err));
    ck_assert_msg (strstr (err, "SANDBOX_REQUIRE") && strstr (err, "'magic'"), "%s", err);
}
END_TEST

/*  CapEff 0, no_new_privs, the filter, the uid: inside and on the host.    */
START_TEST (iso_task_holds_no_privilege)
{
    proto_task_t t = s_sh ("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):'"
                           " /proc/self/status; echo uid=$(id -u);"
                           " cat /etc/shadow >/dev/null 2>&1 && echo shadow=read || echo shadow=no;"
                           " test -s /etc/shadow && echo shadow=nonempty; echo ready; sleep 2");
    sbx_run_t *run = sbx_run_new (&s_conf, 2, &t, NULL);
    sbx_run_settle (run);
    pid_t pid = sbx_run_pid (run);
    ck_assert_int_gt (pid, 0);
    usleep (300 * 1000);
    char uid[128], caps[128];
    s_status_field (pid, "Uid", uid, sizeof uid);
    s_status_field (pid, "CapEff", caps, sizeof caps);
    sbx_run_wait (run);
    const proto_result_t *r = sbx_run_result (run);
    EXPECT_OK (r);
    char *out = s_out (r);
    ck_assert_msg (strstr (out, "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n"
                                "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
                                "CapAmb:\t0000000000000000\n"), "%s", out);
    ck_assert_msg (strstr (out, "NoNewPrivs:\t1\n"), "%s", out);
    if (s_on (SBX_ISO_SECCOMP))
        ck_assert_msg (strstr (out, "Seccomp:\t2\n"), "%s", out);
    ck_assert_msg (strstr (out, "shadow=no\n"), "%s", out);
    ck_assert_str_eq (caps, "0000000000000000");
    if (geteuid () == 0) {
        /*  Slot 2's own host uid, in every id field.                       */
        char want[128];
        snprintf (want, sizeof want, "%d\t%d\t%d\t%d", UID_BASE + 2, UID_BASE + 2, UID_BASE + 2,
                  UID_BASE + 2);
        ck_assert_str_eq (uid, want);
        ck_assert_msg (strstr (out, s_on (SBX_ISO_USERNS) ? "uid=1000\n" : "uid=240002\n"),
                       "%s", out);
    }
    free (out);
    sbx_run_destroy (&run);
}
END_TEST

/*  Two slots at once: two host uids, two workspaces that are each their
    own task's, neither visible to the other.                              */
START_TEST (iso_slots_have_their_own_uid_and_workspace)
{
    if (geteuid () != 0) {
        fprintf (stderr, "SKIP per-slot uids: needs root\n");
        return;
    }
    const char *argv0[] = { "sh", "-c", "echo mine > f; ls -a ..; echo ready; sleep 1", NULL };
    const char *argv1[] = { "sh", "-c", "echo mine > f; echo ready; sleep 1", NULL };
    proto_task_t t0 = s_task (argv0);
    proto_task_t t1 = s_task (argv1);
    sbx_run_t *a = sbx_run_new (&s_conf, 0, &t0, NULL);
    sbx_run_t *b = sbx_run_new (&s_conf, 1, &t1, NULL);
    sbx_run_settle (a);
    sbx_run_settle (b);
    usleep (300 * 1000);
    char ua[128], ub[128];
    s_status_field (sbx_run_pid (a), "Uid", ua, sizeof ua);
    s_status_field (sbx_run_pid (b), "Uid", ub, sizeof ub);
    ck_assert_uint_eq (strtoul (ua, NULL, 10), UID_BASE);
    ck_assert_uint_eq (strtoul (ub, NULL, 10), UID_BASE + 1);
    /*  On the host: each workspace (0700) belongs to its slot's uid.       */
    DIR *d = opendir (s_work);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir (d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf (path, sizeof path, "%s/%s", s_work, e->d_name);
        ck_assert_int_eq (stat (path, &st), 0);
        ck_assert_uint_eq (st.st_mode & 07777, 0700);
        ck_assert (st.st_uid == UID_BASE || st.st_uid == UID_BASE + 1);
        seen++;
    }
    closedir (d);
    ck_assert_int_eq (seen, 2);
    struct stat wd;
    ck_assert_int_eq (stat (s_work, &wd), 0);
    ck_assert_uint_eq (wd.st_mode & 0777, 0711);   /* passable, not listable */
    sbx_run_wait (a);
    sbx_run_wait (b);
    EXPECT_OK (sbx_run_result (a));
    EXPECT_OK (sbx_run_result (b));
    if (s_on (SBX_ISO_MOUNTNS)) {
        /*  Above the workspace: the minimal root, no other workspace.      */
        char *out = s_out (sbx_run_result (a));
        ck_assert_msg (!strstr (out, "t-1-1-"), "%s", out);
        ck_assert_msg (strstr (out, "usr\n") && strstr (out, "workspace\n"), "%s", out);
        free (out);
    }
    sbx_run_destroy (&a);
    sbx_run_destroy (&b);
}
END_TEST

/*  Landlock alone (no mount namespace hides anything): nothing outside the
    workspace is writable, nor readable outside the system directories.    */
START_TEST (iso_landlock_confines_files)
{
    s_iso_make (false, true, false);
    if (!s_need (SBX_ISO_LANDLOCK, "landlock"))
        return;
    char canary[PATH_MAX], script[4 * PATH_MAX];
    snprintf (canary, sizeof canary, "%s/canary", s_outside);
    FILE *f = fopen (canary, "w");
    fputs ("canary", f);
    fclose (f);
    chmod (canary, 0666);
    chmod (s_outside, 0777);
    snprintf (script, sizeof script,
              "echo x > %s/new 2>/dev/null && echo new=yes || echo new=no;"
              " echo x >> %s 2>/dev/null && echo append=yes || echo append=no;"
              " cat %s >/dev/null 2>&1 && echo read=yes || echo read=no;"
              " echo x > /tmp/sbx-unit-escape 2>/dev/null && echo tmp=yes || echo tmp=no;"
              " echo x > inside && echo inside=yes; cat /etc/passwd > /dev/null && echo etc=yes",
              s_outside, canary, canary);
    proto_task_t t = s_sh (script);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    EXPECT_OK (r);
    char *out = s_out (r);
    ck_assert_str_eq (out, "new=no\nappend=no\nread=no\ntmp=no\ninside=yes\netc=yes\n");
    free (out);
    char buf[32] = "";
    f = fopen (canary, "r");
    ck_assert_ptr_nonnull (fgets (buf, sizeof buf, f));
    fclose (f);
    ck_assert_str_eq (buf, "canary");
    ck_assert_int_eq (s_entries (s_outside), 1);
    ck_assert_int_ne (access ("/tmp/sbx-unit-escape", F_OK), 0);
    sbx_run_destroy (&run);
}
END_TEST

/*  Only loopback; no TCP to a host listener; no AF_INET socket at all.     */
START_TEST (iso_network_off_only_loopback)
{
    if (!s_need (SBX_ISO_NETNS, "netns"))
        return;
    int lis = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    ck_assert_int_eq (bind (lis, (struct sockaddr *) &sa, sizeof sa), 0);
    ck_assert_int_eq (listen (lis, 4), 0);
    socklen_t len = sizeof sa;
    getsockname (lis, (struct sockaddr *) &sa, &len);
    char script[1024];
    snprintf (script, sizeof script,
              "import socket\n"
              "print('ifaces', ','.join(l.split(':')[0].strip() for l in open('/proc/net/dev')"
              ".read().splitlines()[2:]))\n"
              "try:\n"
              "    s = socket.create_connection(('127.0.0.1', %d), timeout=1)\n"
              "    print('connect ok')\n"
              "except OSError as e:\n"
              "    print('connect', type(e).__name__)\n", (int) ntohs (sa.sin_port));
    const char *argv[] = { "python3", "-c", script, NULL };
    proto_task_t t = s_task (argv);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    EXPECT_OK (r);
    char *out = s_out (r);
    ck_assert_str_eq (out, "ifaces lo\nconnect PermissionError\n");
    free (out);
    ck_assert_int_lt (accept (lis, NULL, NULL), 0);    /* nobody knocked */
    sbx_run_destroy (&run);

    /*  Asking for network on a worker that does not allow it: rejected.    */
    t.limits.network = 1;
    run = s_run (&t);
    r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_REJECTED);
    ck_assert_str_eq (r->error, "limits.network: this worker does not allow network access"
                                " (SANDBOX_ALLOW_NETWORK=false)");
    ck_assert_int_eq (s_entries (s_work), 0);
    sbx_run_destroy (&run);

    /*  Allowed: the host's network, TCP allowed by seccomp and Landlock.   */
    s_iso_make (true, true, true);
    run = s_run (&t);
    r = sbx_run_result (run);
    EXPECT_OK (r);
    out = s_out (r);
    ck_assert_msg (strstr (out, "connect ok\n") && strncmp (out, "ifaces lo\n", 10) != 0, "%s",
                   out);
    free (out);
    int c = accept (lis, NULL, NULL);
    ck_assert_int_ge (c, 0);
    close (c);
    sbx_run_destroy (&run);
    /*  ... and a task that does not ask still has none.                    */
    t.limits.network = -1;
    run = s_run (&t);
    out = s_out (sbx_run_result (run));
    ck_assert_str_eq (out, "ifaces lo\nconnect PermissionError\n");
    free (out);
    sbx_run_destroy (&run);
    close (lis);
}
END_TEST

/*  The task is PID 1 and sees nothing else; the worker is out of reach.   */
START_TEST (iso_pid_namespace_hides_the_worker)
{
    if (!s_need (SBX_ISO_PIDNS, "pidns"))
        return;
    char script[256];
    snprintf (script, sizeof script, "echo self=$$; kill -0 %d 2>/dev/null && echo worker=seen"
              " || echo worker=unseen; ls /proc | grep '^[0-9]' | sort -n | tr '\\n' ' '",
              (int) getpid ());
    proto_task_t t = s_sh (script);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    EXPECT_OK (r);
    char *out = s_out (r);
    ck_assert_msg (strncmp (out, "self=1\nworker=unseen\n", 21) == 0, "%s", out);
    if (s_on (SBX_ISO_MOUNTNS)) {
        /*  A fresh /proc: the task's own few processes (sh, ls, grep, sort,
            tr), numbered from 1, nothing of the host.                      */
        ck_assert_msg (strncmp (out + 21, "1 ", 2) == 0, "%s", out);
        int count = 0;
        for (char *p = out + 21; *p; ) {
            char *end;
            long pid = strtol (p, &end, 10);
            if (end == p)
                break;
            ck_assert_msg (pid >= 1 && pid < 20, "host pid %ld visible: %s", pid, out);
            count++;
            p = end;
        }
        ck_assert_msg (count >= 2 && count <= 6, "%s", out);
    }
    free (out);
    sbx_run_destroy (&run);
}
END_TEST

/*  A double-forked daemon (setsid, re-parented) is dead when the result is
    there: in every configuration that can prove it.                       */
static void
s_daemon_dies (const char *what)
{
    char marker[32], script[256];
    snprintf (marker, sizeof marker, "300.%d3", (int) getpid ());
    snprintf (script, sizeof script, "d=300; (setsid sleep $d.%d3 > /dev/null 2>&1 < /dev/null &);"
              " sleep 0.2; echo forked", (int) getpid ());
    proto_task_t t = s_sh (script);
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    EXPECT_OK (r);
    ck_assert_msg (tu_count_marker (marker) == 0, "%s: the daemon outlived its task", what);
    sbx_run_destroy (&run);
}

START_TEST (iso_double_fork_daemon_dies_with_the_task)
{
    s_daemon_dies ("every layer");
    if (s_on (SBX_ISO_CGROUP)) {
        s_iso_make (false, true, false);     /* the cgroup alone finds it */
        s_daemon_dies ("cgroup, no PID namespace");
        s_cgroup_join = true;               /* ... also when the task joins it */
        s_iso_make (false, true, false);
        s_daemon_dies ("cgroup joined, no PID namespace");
    }
    else
        fprintf (stderr, "SKIP daemon without PID namespace: no cgroup\n");
}
END_TEST

/*  A fork bomb hits pids.max / RLIMIT_NPROC, is ended with everything it
    made, and the slot runs the next task normally.                         */
START_TEST (iso_fork_bomb_contained)
{
    proto_task_t t = s_sh ("b() { b | b & }; b; sleep 2");
    t.limits.processes = 32;
    t.limits.wall_ms = 1500;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_msg (r->status == PROTO_STATUS_TIMED_OUT || r->status == PROTO_STATUS_FAILED,
                   "status %s", proto_status_name (r->status));
    sbx_run_destroy (&run);
    if (geteuid () == 0) {
        for (int i = 0; i < 200 && s_procs_of_uid (UID_BASE); i++)
            usleep (10000);
        ck_assert_int_eq (s_procs_of_uid (UID_BASE), 0);
    }
    proto_task_t next = s_sh ("echo fine");
    run = s_run (&next);
    r = sbx_run_result (run);
    EXPECT_OK (r);
    ck_assert (s_bytes_eq (r->stdout_data, "fine\n"));
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (iso_memory_bomb_is_memory_limit)
{
    /*  Both ways into the group: born there (a spawner thread parked in it,
        v1) and joined by the task (v2, and v1 when parking fails).        */
    if (_i == 1) {
        s_cgroup_join = true;
        s_iso_make (true, true, false);
    }
    if (!s_need (SBX_ISO_CGROUP, "memory bomb"))
        return;
    fprintf (stderr, "memory bomb, %s: %s\n", _i ? "tasks join" : "tasks born inside",
             sbx_iso_detail (s_iso, SBX_ISO_CGROUP));
    const char *argv[] = { "python3", "-c", "import sys\nprint('start', flush=True)\n"
                           "b = []\nwhile True: b.append(bytearray(16 << 20))", NULL };
    proto_task_t t = s_task (argv);
    t.limits.memory_bytes = 64 * MIB;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_msg (r->status == PROTO_STATUS_MEMORY_LIMIT, "status %s: %s",
                   proto_status_name (r->status), r->error ? r->error : "-");
    ck_assert (s_bytes_eq (r->stdout_data, "start\n"));       /* partial output kept */
    ck_assert_msg (s_contains (r->error, "memory limit of 67108864 bytes exceeded"), "%s",
                   r->error);
    sbx_run_destroy (&run);
    /*  The slot's group was reused: the next task is not "memory_limit".   */
    proto_task_t next = s_sh ("echo fine");
    run = s_run (&next);
    EXPECT_OK (sbx_run_result (run));
    ck_assert_ptr_null (sbx_run_result (run)->error);
    sbx_run_destroy (&run);
}
END_TEST

/*  Whatever the task does to itself, its pipes or its signals, the worker
    (this process) carries on and the next task is normal.                  */
START_TEST (iso_hostile_tasks_leave_the_worker_alone)
{
    const char *scripts[] = {
        "kill -9 -1; echo after",                       /* everything it may signal */
        "exec >&- 2>&- <&-; sleep 0.2",                 /* closes its pipes */
        "trap '' TERM HUP INT; sleep 30",               /* ignores SIGTERM: wall limit */
        "yes | head -c 5000000",                        /* output flood */
    };
    for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
        proto_task_t t = s_sh (scripts[i]);
        t.limits.wall_ms = 1000;
        t.limits.output_bytes = 4096;
        sbx_run_t *run = s_run (&t);
        const proto_result_t *r = sbx_run_result (run);
        if (i == 2)
            ck_assert_int_eq (r->status, PROTO_STATUS_TIMED_OUT);
        else if (i == 3) {
            EXPECT_OK (r);
            ck_assert (r->stdout_truncated && r->stdout_data.size == 4096);
        }
        else
            ck_assert_msg (r->status == PROTO_STATUS_SUCCEEDED || r->status == PROTO_STATUS_KILLED,
                           "%s: %s", scripts[i], proto_status_name (r->status));
        sbx_run_destroy (&run);
        proto_task_t next = s_sh ("echo fine");
        run = s_run (&next);
        EXPECT_OK (sbx_run_result (run));
        ck_assert (s_bytes_eq (sbx_run_result (run)->stdout_data, "fine\n"));
        sbx_run_destroy (&run);
    }
}
END_TEST

/*  SANDBOX_OUTPUT_POLICY=kill: the first byte over the cap ends the task,
    status output_limit, what was kept stays.                               */
START_TEST (iso_output_policy_kill)
{
    s_conf.output_kill = true;
    proto_task_t t = s_sh ("echo first; head -c 100000 /dev/zero; sleep 10");
    t.limits.output_bytes = 1000;
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_OUTPUT_LIMIT);
    ck_assert_uint_eq (r->stdout_data.size, 1000);
    ck_assert (r->stdout_truncated);
    ck_assert (memcmp (r->stdout_data.data, "first\n", 6) == 0);
    ck_assert_uint_lt (r->wall_ms, 5000);
    ck_assert_str_eq (r->error, "output limit of 1000 bytes exceeded on stdout (output policy:"
                                " kill)");
    sbx_run_destroy (&run);
    /*  Within the cap: no effect.                                          */
    proto_task_t ok = s_sh ("echo small");
    run = s_run (&ok);
    EXPECT_OK (sbx_run_result (run));
    sbx_run_destroy (&run);
}
END_TEST

/*  Without namespaces and cgroup: the uid switch (as root), Landlock,
    seccomp; the worker is a subreaper and must sweep leftovers itself.    */
START_TEST (iso_fallback_without_namespaces_or_cgroup)
{
    s_iso_make (false, false, false);
    ck_assert (sbx_iso_needs_sweep (s_iso));
    proto_task_t t = s_sh ("id -u; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; pwd");
    sbx_run_t *run = s_run (&t);
    const proto_result_t *r = sbx_run_result (run);
    EXPECT_OK (r);
    char *out = s_out (r);
    char want[512];
    snprintf (want, sizeof want, "%d\nCapEff:\t0000000000000000\nNoNewPrivs:\t1\n%s/",
              geteuid () == 0 ? UID_BASE : (int) geteuid (), s_work);
    ck_assert_msg (strncmp (out, want, strlen (want)) == 0, "%s", out);
    free (out);
    sbx_run_destroy (&run);
    /*  The sweep the worker does before each result.                       */
    char marker[32], script[256];
    snprintf (marker, sizeof marker, "300.%d4", (int) getpid ());
    snprintf (script, sizeof script, "d=300; (setsid sleep $d.%d4 > /dev/null 2>&1 < /dev/null &);"
              " sleep 0.2",
              (int) getpid ());
    proto_task_t d = s_sh (script);
    run = s_run (&d);
    EXPECT_OK (sbx_run_result (run));
    for (int i = 0; i < 100 && tu_count_marker (marker) == 0; i++)
        usleep (10000);
    ck_assert_int_eq (tu_count_marker (marker), 1);      /* re-parented to us */
    /*  To the main thread: the sweep that skips the spawner threads (the
        task came from one) finds it all the same.                          */
    pid_t spawners[8];
    size_t skip = sbx_iso_spawner_tids (s_iso, spawners, 8);
    ck_assert_uint_ge (skip, 1);
    ck_assert_int_ge (sbx_reap_descendants_except (NULL, 0, spawners, skip, 1000), 1);
    ck_assert_int_eq (tu_count_marker (marker), 0);
    sbx_run_destroy (&run);
}
END_TEST

/*  ---- spawner threads ------------------------------------------------------ */

/*  With isolation every slot has a spawner thread: sbx_run_new returns
    while the task is being started, and two slots start at once.          */
START_TEST (iso_spawn_does_not_block_the_caller)
{
    proto_task_t t0 = s_sh ("echo zero");
    proto_task_t t1 = s_sh ("echo one");
    sbx_run_t *a = sbx_run_new (&s_conf, 0, &t0, NULL);
    sbx_run_t *b = sbx_run_new (&s_conf, 1, &t1, NULL);
    ck_assert_ptr_nonnull (a);
    ck_assert_ptr_nonnull (b);
    /*  Neither spawn has been ended: no pid known, one fd each to watch.   */
    ck_assert_int_eq (sbx_run_pid (a), 0);
    ck_assert_int_eq (sbx_run_pid (b), 0);
    ck_assert_uint_eq (sbx_iso_spawning (s_iso), 2);
    pid_t tids[4];
    ck_assert_uint_ge (sbx_iso_spawner_tids (s_iso, tids, 4), 2);
    ck_assert_int_ne (tids[0], tids[1]);
    ck_assert_int_ne (tids[0], (pid_t) syscall (SYS_gettid));
    sbx_pollfd_t fds[SBX_RUN_POLLFDS_MAX];
    ck_assert_uint_eq (sbx_run_pollfds (a, fds, SBX_RUN_POLLFDS_MAX), 1);
    sbx_run_wait (a);
    sbx_run_wait (b);
    ck_assert_uint_eq (sbx_iso_spawning (s_iso), 0);
    EXPECT_OK (sbx_run_result (a));
    EXPECT_OK (sbx_run_result (b));
    char *out = s_out (sbx_run_result (b));
    ck_assert_str_eq (out, "one\n");
    free (out);
    sbx_run_destroy (&a);
    sbx_run_destroy (&b);
}
END_TEST

/*  A cancel that comes while the spawn is in flight kills the task as soon
    as it has a process: cancelled, not left running.                      */
START_TEST (iso_cancel_while_spawning)
{
    proto_task_t t = s_sh ("sleep 20");
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    ck_assert_int_eq (sbx_run_pid (run), 0);
    ck_assert (sbx_run_cancel (run));
    ck_assert (!sbx_run_cancel (run));  /* once */
    int64_t t0 = sbx_now_ms ();
    sbx_run_wait (run);
    ck_assert_int_lt (sbx_now_ms () - t0, 5000);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_CANCELLED);
    ck_assert (r->has_signal);
    ck_assert_int_eq (r->signal, SIGKILL);
    sbx_run_destroy (&run);
}
END_TEST

/*  Destroyed while being spawned: the spawn is waited for, its process
    killed and reaped; nothing is left.                                     */
START_TEST (iso_destroy_while_spawning)
{
    proto_task_t t = s_sh ("sleep 20");
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    ck_assert_int_eq (sbx_run_pid (run), 0);
    sbx_run_destroy (&run);
    ck_assert_ptr_null (run);
    ck_assert_uint_eq (sbx_iso_spawning (s_iso), 0);
    errno = 0;
    ck_assert_int_eq (waitpid (-1, NULL, WNOHANG | __WALL), -1);
    ck_assert_int_eq (errno, ECHILD);
}
END_TEST

typedef struct {
    int go[2];                          /* main -> thread: exit now */
    pid_t tid;                          /* the thread */
    pid_t child;                        /* its child */
} s_holder_t;

static void *
s_holder_main (void *arg)
{
    s_holder_t *h = arg;
    h->tid = (pid_t) syscall (SYS_gettid);
    h->child = fork ();
    if (h->child == 0) {
        execlp ("sleep", "sleep", "30", (char *) NULL);
        _exit (127);
    }
    char c;
    ssize_t n = read (h->go[0], &c, 1);
    (void) n;
    return NULL;
}

/*  The sweep leaves alone the children of the threads it is told to skip
    (a spawner thread whose new task the loop does not know yet), and kills
    them once they are not skipped.                                        */
START_TEST (sweep_skips_busy_spawner_threads)
{
    s_holder_t h = { .tid = 0, .child = 0 };
    ck_assert_int_eq (pipe (h.go), 0);
    pthread_t th;
    ck_assert_int_eq (pthread_create (&th, NULL, s_holder_main, &h), 0);
    for (int i = 0; i < 500 && h.child == 0; i++)
        usleep (1000);
    ck_assert_int_gt (h.child, 0);
    ck_assert_int_eq (sbx_reap_descendants_except (NULL, 0, &h.tid, 1, 1000), 0);
    ck_assert_int_eq (kill (h.child, 0), 0);
    ck_assert_int_eq (sbx_reap_descendants_except (NULL, 0, NULL, 0, 1000), 1);
    ck_assert_int_eq (kill (h.child, 0), -1);
    ck_assert_int_eq (write (h.go[1], "q", 1), 1);
    pthread_join (th, NULL);
    close (h.go[0]);
    close (h.go[1]);
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
    sbx_outcap_append (c, "hello", 5, 0);
    ck_assert (!sbx_outcap_truncated (c));
    sbx_outcap_append (c, " world!", 7, 0);
    ck_assert_uint_eq (sbx_outcap_size (c), 10);
    ck_assert (memcmp (sbx_outcap_data (c), "hello worl", 10) == 0);
    ck_assert (sbx_outcap_truncated (c));
    ck_assert_uint_eq (sbx_outcap_total (c), 12);

    int p[2];
    ck_assert_int_eq (pipe2 (p, O_NONBLOCK), 0);
    ck_assert_int_eq (write (p[1], "abc", 3), 3);
    ck_assert_int_eq (sbx_outcap_read (c, p[0], 0), 0);
    close (p[1]);
    ck_assert_int_eq (sbx_outcap_read (c, p[0], 0), 1);
    ck_assert_uint_eq (sbx_outcap_total (c), 15);
    close (p[0]);
    sbx_outcap_destroy (&c);
    ck_assert_ptr_null (c);
    sbx_outcap_destroy (&c);

    sbx_outcap_t *none = sbx_outcap_new (0);
    sbx_outcap_append (none, "x", 1, 0);
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


START_TEST (config_keys_load_and_errors)
{
    char server_pub[400], server_sec[400], own_sec[400], own_pub[400], err[8192];
    snprintf (server_pub, sizeof server_pub, "%s/server.key", s_tmp);
    snprintf (server_sec, sizeof server_sec, "%s/server.key_secret", s_tmp);
    snprintf (own_pub, sizeof own_pub, "%s/worker.key", s_tmp);
    snprintf (own_sec, sizeof own_sec, "%s/worker.key_secret", s_tmp);
    cert_t server, own;
    ck_assert_int_eq (cert_generate (&server), 0);
    ck_assert_int_eq (cert_generate (&own), 0);
    ck_assert_int_eq (cert_save_public (&server, server_pub, err, sizeof err), 0);
    ck_assert_int_eq (cert_save_secret (&server, server_sec, err, sizeof err), 0);
    ck_assert_int_eq (cert_save_public (&own, own_pub, err, sizeof err), 0);
    ck_assert_int_eq (cert_save_secret (&own, own_sec, err, sizeof err), 0);

    sbx_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    cfg.curve = "on";
    cfg.server_key_file = server_pub;
    cfg.cert_file = own_sec;
    sbx_link_curve_t keys;
    ck_assert_msg (sbx_config_load_keys (&cfg, &keys, err, sizeof err) == 0, "%s", err);
    ck_assert_mem_eq (keys.server_key, server.public_key, 32);
    ck_assert_mem_eq (keys.public_key, own.public_key, 32);
    ck_assert_mem_eq (keys.secret_key, own.secret_key, 32);
    /*  The server's secret file works as its public key too (only the
        public key is taken).                                               */
    cfg.server_key_file = server_sec;
    ck_assert_int_eq (sbx_config_load_keys (&cfg, &keys, err, sizeof err), 0);
    ck_assert_mem_eq (keys.server_key, server.public_key, 32);

    /*  Missing files: the variable, the file and what to do.              */
    char missing[400];
    snprintf (missing, sizeof missing, "%s/nope", s_tmp);
    cfg.cert_file = missing;
    ck_assert_int_eq (sbx_config_load_keys (&cfg, &keys, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "SANDBOX_CERT="));
    ck_assert_ptr_nonnull (strstr (err, missing));
    ck_assert_ptr_nonnull (strstr (err, "orchestrator keygen"));
    cfg.cert_file = own_sec;
    cfg.server_key_file = missing;
    ck_assert_int_eq (sbx_config_load_keys (&cfg, &keys, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "SANDBOX_SERVER_KEY="));
    ck_assert_ptr_nonnull (strstr (err, missing));
    /*  The public certificate where the secret one belongs.               */
    cfg.server_key_file = server_pub;
    cfg.cert_file = own_pub;
    ck_assert_int_eq (sbx_config_load_keys (&cfg, &keys, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "SANDBOX_CERT="));
    ck_assert_ptr_nonnull (strstr (err, "_secret"));
    /*  Off: nothing is read, the keys stay zero.                          */
    cfg.curve = "off";
    cfg.cert_file = missing;
    ck_assert_int_eq (sbx_config_load_keys (&cfg, &keys, err, sizeof err), 1);
    uint8_t zero[32] = { 0 };
    ck_assert_mem_eq (keys.secret_key, zero, 32);
}
END_TEST

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
    ck_assert (!rc.allow_network && !rc.output_kill);
    ck_assert (rc.stream_output);
    ck_assert_ptr_null (rc.iso);
    setenv ("SANDBOX_STREAM_OUTPUT", "off", 1);
    ck_assert_msg (sbx_config_load (&cfg, 1, argv, err, sizeof err) == 0, "%s", err);
    sbx_config_run_conf (&cfg, &rc);
    ck_assert (!rc.stream_output);
    unsetenv ("SANDBOX_STREAM_OUTPUT");

    /*  Isolation settings: every layer on where it works, nothing required. */
    sbx_iso_config_t ic;
    sbx_config_iso (&cfg, &ic);
    ck_assert (ic.seccomp && ic.landlock && ic.namespaces && ic.cgroup && !ic.allow_network);
    ck_assert_str_eq (ic.require, "");
    ck_assert_uint_eq (ic.uid_base, 200000);
    ck_assert_uint_eq (ic.slots, (size_t) cfg.slots);
    ck_assert_str_eq (ic.work_dir, cfg.work_dir);
    setenv ("SANDBOX_REQUIRE", "seccomp,landlock,userns,pidns,mountns,netns,cgroup", 1);
    setenv ("SANDBOX_NAMESPACES", "off", 1);
    setenv ("SANDBOX_CGROUP", "off", 1);
    setenv ("SANDBOX_ALLOW_NETWORK", "true", 1);
    setenv ("SANDBOX_OUTPUT_POLICY", "kill", 1);
    setenv ("SANDBOX_UID_BASE", "300000", 1);
    ck_assert_msg (sbx_config_load (&cfg, 1, argv, err, sizeof err) == 0, "%s", err);
    sbx_config_iso (&cfg, &ic);
    sbx_config_run_conf (&cfg, &rc);
    ck_assert (ic.seccomp && ic.landlock && !ic.namespaces && !ic.cgroup && ic.allow_network);
    ck_assert_str_eq (ic.require, "seccomp,landlock,userns,pidns,mountns,netns,cgroup");
    ck_assert_uint_eq (ic.uid_base, 300000);
    ck_assert (rc.allow_network && rc.output_kill);
    const struct { const char *var, *value, *want; } bad[] = {
        { "SANDBOX_REQUIRE", "seccomp,magic", "'magic' is not one of seccomp|landlock" },
        { "SANDBOX_NAMESPACES", "maybe", "SANDBOX_NAMESPACES" },
        { "SANDBOX_SECCOMP", "on", "SANDBOX_SECCOMP" },
        { "SANDBOX_OUTPUT_POLICY", "drop", "truncate|kill" },
        { "SANDBOX_UID_BASE", "0", "SANDBOX_UID_BASE" },
        { "SANDBOX_ALLOW_NETWORK", "perhaps", "SANDBOX_ALLOW_NETWORK" },
        { "SANDBOX_STREAM_OUTPUT", "sometimes", "SANDBOX_STREAM_OUTPUT" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *saved = getenv (bad[i].var) ? strdup (getenv (bad[i].var)) : NULL;
        setenv (bad[i].var, bad[i].value, 1);
        ck_assert_int_eq (sbx_config_load (&cfg, 1, argv, err, sizeof err), -1);
        ck_assert_msg (strstr (err, bad[i].want) && strstr (err, bad[i].value), "%s", err);
        if (saved)
            setenv (bad[i].var, saved, 1);
        else
            unsetenv (bad[i].var);
        free (saved);
    }
    s_clear_sandbox_env ();
}
END_TEST

/*  ---- reliability: the acknowledged outbox, cancel ----------------------- */

typedef struct {
    int fail_after;                     /* sends accepted before refusing; -1: all */
    int sent;                           /* frames taken */
    char log[512];                      /* first byte of each frame, in order */
} s_sink_t;

static int
s_sink_send (void *arg, const uint8_t *frame, size_t size)
{
    s_sink_t *sink = arg;
    if (sink->fail_after >= 0 && sink->sent >= sink->fail_after)
        return -1;
    sink->sent++;
    size_t len = strlen (sink->log);
    if (len + 2 < sizeof sink->log) {
        sink->log[len] = size ? (char) frame[0] : '?';
        sink->log[len + 1] = '\0';
    }
    return 0;
}

static uint8_t *
s_frame_of (char tag, size_t size)
{
    uint8_t *f = malloc (size);
    ck_assert_ptr_nonnull (f);
    memset (f, tag, size);
    return f;
}

START_TEST (outbox_keeps_results_until_acked)
{
    sbx_outbox_t *box = sbx_outbox_new (3, 1000, 100);
    s_sink_t sink = { .fail_after = -1 };
    /*  started (once) then the result (kept): in order.                    */
    ck_assert_int_eq (sbx_outbox_add_once (box, s_frame_of ('s', 10), 10), 0);
    ck_assert_int_eq (sbx_outbox_add_result (box, "t1", 1, s_frame_of ('r', 100), 100), 0);
    ck_assert (sbx_outbox_pending (box));
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 1000, true), 2);
    ck_assert_str_eq (sink.log, "sr");
    ck_assert (!sbx_outbox_pending (box));
    ck_assert_uint_eq (sbx_outbox_count (box), 1);          /* "started" is gone */
    ck_assert_uint_eq (sbx_outbox_results (box), 1);
    ck_assert_uint_eq (sbx_outbox_bytes (box), 100);
    /*  Re-sent after 100 ms, then 200, 400 ... (only when the link is up). */
    ck_assert_int_eq (sbx_outbox_next_resend (box), 1100);
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 1099, true), 0);
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 1100, false), 0);
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 1100, true), 1);
    ck_assert_int_eq (sbx_outbox_next_resend (box), 1300);
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 1300, true), 1);
    ck_assert_int_eq (sbx_outbox_next_resend (box), 1700);
    ck_assert_uint_eq (sbx_outbox_resends (box), 2);
    /*  The link came back: everything is due now, gaps start over.         */
    sbx_outbox_resend_all (box, 1400);
    ck_assert_int_eq (sbx_outbox_next_resend (box), 1400);
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 1400, true), 1);
    ck_assert_int_eq (sbx_outbox_next_resend (box), 1600);
    /*  An ack for another attempt leaves it; the right one removes it.    */
    ck_assert_uint_eq (sbx_outbox_ack (box, "t1", 2), 0);
    ck_assert_uint_eq (sbx_outbox_ack (box, "t9", 0), 0);
    ck_assert_uint_eq (sbx_outbox_ack (box, "t1", 1), 1);
    ck_assert_uint_eq (sbx_outbox_ack (box, "t1", 1), 0);    /* a duplicate ack */
    ck_assert_uint_eq (sbx_outbox_results (box), 0);
    ck_assert_uint_eq (sbx_outbox_bytes (box), 0);
    ck_assert_int_eq (sbx_outbox_next_resend (box), -1);
    sbx_outbox_destroy (&box);
    sbx_outbox_destroy (&box);
}
END_TEST

START_TEST (outbox_order_when_the_socket_is_full)
{
    sbx_outbox_t *box = sbx_outbox_new (10, 1 << 20, 100);
    s_sink_t sink = { .fail_after = 1 };
    sbx_outbox_add_once (box, s_frame_of ('a', 1), 1);
    sbx_outbox_add_result (box, "t1", 1, s_frame_of ('b', 1), 1);
    sbx_outbox_add_once (box, s_frame_of ('c', 1), 1);
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 0, true), 1);
    ck_assert_str_eq (sink.log, "a");
    ck_assert (sbx_outbox_pending (box));
    /*  Nothing overtakes: "c" waits behind "b", re-sends wait too.         */
    sink.fail_after = -1;
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 1, true), 2);
    ck_assert_str_eq (sink.log, "abc");
    /*  An ack of a result never sent removes it all the same.             */
    sbx_outbox_add_result (box, "t2", 3, s_frame_of ('d', 1), 1);
    ck_assert_uint_eq (sbx_outbox_ack (box, "t2", 0), 1);
    ck_assert (!sbx_outbox_pending (box));
    ck_assert_uint_eq (sbx_outbox_flush (box, s_sink_send, &sink, 2, true), 0);
    ck_assert_str_eq (sink.log, "abc");
    sbx_outbox_destroy (&box);
}
END_TEST

START_TEST (outbox_bounds_by_count_and_bytes)
{
    sbx_outbox_t *box = sbx_outbox_new (2, 150, 100);
    ck_assert (!sbx_outbox_full (box));
    sbx_outbox_add_once (box, s_frame_of ('s', 500), 500);   /* "once" frames don't count */
    ck_assert (!sbx_outbox_full (box));
    sbx_outbox_add_result (box, "a", 1, s_frame_of ('r', 100), 100);
    ck_assert (!sbx_outbox_full (box));
    sbx_outbox_add_result (box, "b", 1, s_frame_of ('r', 10), 10);
    ck_assert (sbx_outbox_full (box));                       /* 2 results */
    sbx_outbox_ack (box, "b", 1);
    ck_assert (!sbx_outbox_full (box));
    sbx_outbox_add_result (box, "c", 1, s_frame_of ('r', 60), 60);
    ck_assert (sbx_outbox_full (box));                       /* 160 bytes */
    /*  Over the bound it still keeps what it is given (running tasks).    */
    ck_assert_int_eq (sbx_outbox_add_result (box, "d", 1, s_frame_of ('r', 1), 1), 0);
    ck_assert_uint_eq (sbx_outbox_results (box), 3);
    sbx_outbox_destroy (&box);                               /* frees everything */
}
END_TEST

START_TEST (run_cancel_keeps_partial_output)
{
    const char *argv[] = { "sh", "-c", "echo partial; sleep 30 & sleep 30", NULL };
    proto_task_t t = { .id = "cancel-1", .attempt = 2, .argv = argv, .argc = 3 };
    t.limits.network = -1;
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    ck_assert_ptr_nonnull (run);
    /*  Let it write before the kill.                                      */
    int64_t until = sbx_now_ms () + 300;
    while (sbx_now_ms () < until) {
        sbx_pollfd_t fds[SBX_RUN_POLLFDS_MAX];
        struct pollfd pfd[SBX_RUN_POLLFDS_MAX];
        size_t n = sbx_run_pollfds (run, fds, SBX_RUN_POLLFDS_MAX);
        for (size_t i = 0; i < n; i++)
            pfd[i] = (struct pollfd) { fds[i].fd, fds[i].events == SBX_POLL_OUT ? POLLOUT
                                                                               : POLLIN, 0 };
        int rc = poll (pfd, n, 20);
        for (size_t i = 0; rc > 0 && i < n; i++)
            if (pfd[i].revents)
                sbx_run_ready (run, pfd[i].fd, sbx_now_ms ());
    }
    ck_assert (!sbx_run_done (run));
    int64_t t0 = sbx_now_ms ();
    ck_assert (sbx_run_cancel (run));
    ck_assert (!sbx_run_cancel (run));                       /* once */
    sbx_run_wait (run);
    ck_assert_int_lt (sbx_now_ms () - t0, 2000);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_CANCELLED);
    ck_assert_uint_eq (r->attempt, 2);
    ck_assert (r->has_signal && r->signal == SIGKILL);
    ck_assert_uint_eq (r->stdout_data.size, 8);
    ck_assert (memcmp (r->stdout_data.data, "partial\n", 8) == 0);
    ck_assert_ptr_nonnull (strstr (r->error, "cancelled by a client"));
    ck_assert (!sbx_run_cancel (run));                       /* done: nothing to kill */
    sbx_run_destroy (&run);
}
END_TEST

/*  ---- live output: outcap's batching, a run's chunks ----------------------- */

/*  Take the chunk due at now, "send" it (append to sent) or not.           */
static bool
s_chunk (sbx_outcap_t *c, int64_t now, bool ok, char *sent, size_t *sent_size, uint64_t *seq)
{
    sbx_outcap_chunk_t chunk;
    if (!sbx_outcap_chunk (c, now, &chunk))
        return false;
    ck_assert_uint_gt (chunk.size, 0);
    if (ok) {
        ck_assert_uint_eq (chunk.seq, *seq);            /* no gaps */
        memcpy (sent + *sent_size, chunk.data, chunk.size);
        *sent_size += chunk.size;
        (*seq)++;
    }
    sbx_outcap_chunk_done (c, &chunk, ok, now);
    return true;
}

START_TEST (outcap_stream_timer_50ms)
{
    static char sent[64];
    size_t sent_size = 0;
    uint64_t seq = 0;
    sbx_outcap_t *c = sbx_outcap_new (1024);
    sbx_outcap_append (c, "off", 3, 900);
    ck_assert_int_eq (sbx_outcap_next_flush (c), -1);       /* not streaming */
    sbx_outcap_stream (c, 1000);                             /* earlier bytes pend now */
    ck_assert_int_eq (sbx_outcap_next_flush (c), 1000 + SBX_OUTCAP_CHUNK_MS);
    ck_assert (s_chunk (c, 1050, true, sent, &sent_size, &seq));
    ck_assert_int_eq (sbx_outcap_next_flush (c), -1);
    ck_assert (!s_chunk (c, 5000, true, sent, &sent_size, &seq));

    /*  The timer starts with the first pending byte; later ones do not
        push it back.                                                       */
    sbx_outcap_append (c, "ab", 2, 2010);
    sbx_outcap_append (c, "cd", 2, 2040);
    ck_assert_int_eq (sbx_outcap_next_flush (c), 2060);
    ck_assert (!s_chunk (c, 2059, true, sent, &sent_size, &seq));
    ck_assert (s_chunk (c, 2060, true, sent, &sent_size, &seq));
    ck_assert_uint_eq (seq, 2);
    ck_assert_uint_eq (sbx_outcap_seq (c), 2);
    ck_assert_uint_eq (sent_size, 7);
    ck_assert (memcmp (sent, "offabcd", 7) == 0);
    ck_assert_uint_eq (sbx_outcap_streamed (c), 7);
    sbx_outcap_destroy (&c);
}
END_TEST

START_TEST (outcap_stream_threshold_16k)
{
    static char sent[64 * 1024];
    size_t sent_size = 0;
    uint64_t seq = 0;
    static char block[SBX_OUTCAP_CHUNK_BYTES];
    memset (block, 'x', sizeof block);
    sbx_outcap_t *c = sbx_outcap_new (sizeof sent);
    sbx_outcap_stream (c, 0);
    sbx_outcap_append (c, block, SBX_OUTCAP_CHUNK_BYTES - 1, 1000);
    ck_assert_int_eq (sbx_outcap_next_flush (c), 1050);     /* one byte short */
    sbx_outcap_append (c, "y", 1, 1010);
    ck_assert_int_le (sbx_outcap_next_flush (c), 1010);     /* full: due at once */
    ck_assert (s_chunk (c, 1010, true, sent, &sent_size, &seq));
    ck_assert_uint_eq (sent_size, SBX_OUTCAP_CHUNK_BYTES);

    /*  Through a pipe: one read of 20000 bytes is one chunk, due at once. */
    int p[2];
    ck_assert_int_eq (pipe2 (p, O_NONBLOCK), 0);
    ck_assert_int_eq (write (p[1], block, sizeof block), (ssize_t) sizeof block);
    ck_assert_int_eq (write (p[1], block, 3616), 3616);
    ck_assert_int_eq (sbx_outcap_read (c, p[0], 2000), 0);
    ck_assert_int_le (sbx_outcap_next_flush (c), 2000);
    ck_assert (s_chunk (c, 2000, true, sent, &sent_size, &seq));
    ck_assert_uint_eq (sent_size, SBX_OUTCAP_CHUNK_BYTES + 20000);
    ck_assert_uint_eq (seq, 2);
    ck_assert (memcmp (sent, sbx_outcap_data (c), sent_size) == 0);
    close (p[0]);
    close (p[1]);
    sbx_outcap_destroy (&c);
}
END_TEST

START_TEST (outcap_stream_stops_at_the_cap)
{
    static char sent[256];
    size_t sent_size = 0;
    uint64_t seq = 0;
    char sixty[60];
    memset (sixty, 'a', sizeof sixty);
    sbx_outcap_t *c = sbx_outcap_new (100);
    sbx_outcap_stream (c, 0);
    sbx_outcap_append (c, sixty, 60, 1000);
    ck_assert (s_chunk (c, 1050, true, sent, &sent_size, &seq));
    sixty[0] = 'b';
    sbx_outcap_append (c, sixty, 60, 1100);                 /* 40 kept, 20 cut */
    ck_assert (sbx_outcap_truncated (c));
    ck_assert (s_chunk (c, 1150, true, sent, &sent_size, &seq));
    ck_assert_uint_eq (sent_size, 100);
    /*  Beyond the cap nothing is kept, so nothing more is streamed.       */
    sbx_outcap_append (c, sixty, 60, 1200);
    ck_assert_int_eq (sbx_outcap_next_flush (c), -1);
    ck_assert (!s_chunk (c, 9999, true, sent, &sent_size, &seq));
    ck_assert_uint_eq (sbx_outcap_size (c), 100);
    ck_assert (memcmp (sent, sbx_outcap_data (c), 100) == 0);
    ck_assert_uint_eq (sbx_outcap_total (c), 180);
    sbx_outcap_destroy (&c);
}
END_TEST

START_TEST (outcap_stream_failed_send_keeps_bytes)
{
    static char sent[64];
    size_t sent_size = 0;
    uint64_t seq = 0;
    sbx_outcap_t *c = sbx_outcap_new (1024);
    sbx_outcap_stream (c, 0);
    sbx_outcap_append (c, "x", 1, 1000);
    ck_assert (s_chunk (c, 1050, false, sent, &sent_size, &seq));   /* would block */
    ck_assert_int_eq (sbx_outcap_next_flush (c), 1100);     /* retried later, no spin */
    ck_assert (!s_chunk (c, 1099, true, sent, &sent_size, &seq));
    sbx_outcap_append (c, "y", 1, 1080);
    ck_assert (s_chunk (c, 1100, true, sent, &sent_size, &seq));
    ck_assert_uint_eq (sent_size, 2);
    ck_assert (memcmp (sent, "xy", 2) == 0);
    ck_assert_uint_eq (seq, 1);                              /* seq 0 went once */
    /*  A full chunk that cannot go waits too.                              */
    static char block[SBX_OUTCAP_CHUNK_BYTES];
    sbx_outcap_append (c, block, 900, 2000);
    sbx_outcap_t *big = sbx_outcap_new (sizeof block);
    sbx_outcap_stream (big, 0);
    sbx_outcap_append (big, block, sizeof block, 3000);
    sbx_outcap_chunk_t chunk;
    ck_assert (sbx_outcap_chunk (big, 3000, &chunk));
    sbx_outcap_chunk_done (big, &chunk, false, 3000);
    ck_assert_int_eq (sbx_outcap_next_flush (big), 3050);
    ck_assert (sbx_outcap_chunk (big, 3050, &chunk));
    ck_assert_uint_eq (chunk.seq, 0);
    ck_assert_uint_eq (chunk.size, sizeof block);
    sbx_outcap_destroy (&big);
    sbx_outcap_destroy (&c);
}
END_TEST

/*  What a run's chunks add up to, per stream.                              */
typedef struct {
    char data[2][4096];                 /* stdout, stderr */
    size_t size[2];
    uint64_t chunks[2];                 /* = the next seq expected */
    int64_t first_at;                   /* when the first chunk came */
    int refuse_every;                   /* every Nth offer per stream "would block" */
    int offers[2];
} s_stream_log_t;

static int
s_collect_chunk (void *arg, const proto_output_t *o)
{
    s_stream_log_t *log = arg;
    int s = o->stream == PROTO_STREAM_STDERR;
    if (log->refuse_every && ++log->offers[s] % log->refuse_every == 0)
        return -1;
    ck_assert_uint_eq (o->seq, log->chunks[s]);
    ck_assert_str_eq (o->id, "t-1");
    ck_assert_uint_eq (o->attempt, 1);
    ck_assert_uint_le (log->size[s] + o->data.size, sizeof log->data[s]);
    memcpy (log->data[s] + log->size[s], o->data.data, o->data.size);
    log->size[s] += o->data.size;
    log->chunks[s]++;
    if (!log->first_at)
        log->first_at = sbx_now_ms ();
    return 0;
}

/*  sbx_run_wait, plus the flush timer and sbx_run_stream (as the worker). */
static void
s_run_streaming (sbx_run_t *run, s_stream_log_t *log)
{
    while (!sbx_run_done (run)) {
        sbx_pollfd_t fds[SBX_RUN_POLLFDS_MAX];
        struct pollfd pfd[SBX_RUN_POLLFDS_MAX];
        size_t n = sbx_run_pollfds (run, fds, SBX_RUN_POLLFDS_MAX);
        for (size_t i = 0; i < n; i++)
            pfd[i] = (struct pollfd) { fds[i].fd, fds[i].events == SBX_POLL_OUT ? POLLOUT
                                                                               : POLLIN, 0 };
        int64_t next = sbx_run_next_timer (run), flush = sbx_run_next_flush (run);
        if (flush >= 0 && (next < 0 || flush < next))
            next = flush;
        int64_t wait = next < 0 ? 1000 : next - sbx_now_ms ();
        int rc = poll (pfd, n, wait < 0 ? 0 : wait > 1000 ? 1000 : (int) wait);
        int64_t now = sbx_now_ms ();
        for (size_t i = 0; rc > 0 && i < n; i++)
            if (pfd[i].revents)
                sbx_run_ready (run, pfd[i].fd, now);
        sbx_run_tick (run, now);
        sbx_run_stream (run, now, s_collect_chunk, log);
    }
}

static void
s_check_prefix (const proto_result_t *r, const s_stream_log_t *log)
{
    ck_assert_uint_le (log->size[0], r->stdout_data.size);
    ck_assert_uint_le (log->size[1], r->stderr_data.size);
    ck_assert (log->size[0] == 0 || memcmp (log->data[0], r->stdout_data.data, log->size[0]) == 0);
    ck_assert (log->size[1] == 0 || memcmp (log->data[1], r->stderr_data.data, log->size[1]) == 0);
}

START_TEST (run_streams_a_prefix_of_the_result)
{
    s_conf.stream_output = true;
    s_stream_log_t *log = calloc (1, sizeof *log);
    log->refuse_every = _i ? _i + 1 : 0;    /* never, every 2nd, 3rd, 4th offer */
    proto_task_t t = s_sh ("for i in 1 2 3 4 5 6; do echo out$i; echo err$i >&2; sleep 0.1;"
                           " done; echo last");
    int64_t t0 = sbx_now_ms ();
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    ck_assert_ptr_nonnull (run);
    s_run_streaming (run, log);
    int64_t t1 = sbx_now_ms ();
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_SUCCEEDED);
    ck_assert (s_bytes_eq (r->stdout_data, "out1\nout2\nout3\nout4\nout5\nout6\nlast\n"));
    s_check_prefix (r, log);
    /*  Chunks while it ran, the first long before the end; "last" came
        after the final sleep and goes with the result only.               */
    ck_assert_uint_ge (log->chunks[0], 3);
    ck_assert_uint_ge (log->chunks[1], 3);
    ck_assert_int_lt (log->first_at - t0, (t1 - t0) / 2);
    ck_assert_uint_lt (log->size[0], r->stdout_data.size);
    sbx_run_destroy (&run);
    free (log);
}
END_TEST

START_TEST (run_short_task_streams_nothing)
{
    s_conf.stream_output = true;
    s_stream_log_t log;
    memset (&log, 0, sizeof log);
    proto_task_t t = s_sh ("echo hi; echo there >&2");
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    ck_assert_ptr_nonnull (run);
    s_run_streaming (run, &log);
    ck_assert (s_bytes_eq (sbx_run_result (run)->stdout_data, "hi\n"));
    ck_assert_uint_eq (log.chunks[0] + log.chunks[1], 0);
    sbx_run_destroy (&run);

    /*  Streaming off: not a chunk however long it runs.                   */
    s_conf.stream_output = false;
    t = s_sh ("echo a; sleep 0.3; echo b");
    run = sbx_run_new (&s_conf, 0, &t, NULL);
    s_run_streaming (run, &log);
    ck_assert (s_bytes_eq (sbx_run_result (run)->stdout_data, "a\nb\n"));
    ck_assert_uint_eq (log.chunks[0] + log.chunks[1], 0);
    sbx_run_destroy (&run);
}
END_TEST

START_TEST (run_cancelled_stream_is_a_prefix)
{
    s_conf.stream_output = true;
    s_stream_log_t *log = calloc (1, sizeof *log);
    proto_task_t t = s_sh ("while :; do echo tick; sleep 0.05; done");
    sbx_run_t *run = sbx_run_new (&s_conf, 0, &t, NULL);
    ck_assert_ptr_nonnull (run);
    while (log->chunks[0] < 2) {
        sbx_pollfd_t fds[SBX_RUN_POLLFDS_MAX];
        struct pollfd pfd[SBX_RUN_POLLFDS_MAX];
        size_t n = sbx_run_pollfds (run, fds, SBX_RUN_POLLFDS_MAX);
        for (size_t i = 0; i < n; i++)
            pfd[i] = (struct pollfd) { fds[i].fd, POLLIN, 0 };
        int rc = poll (pfd, n, 10);
        for (size_t i = 0; rc > 0 && i < n; i++)
            if (pfd[i].revents)
                sbx_run_ready (run, pfd[i].fd, sbx_now_ms ());
        ck_assert (!sbx_run_done (run));
        sbx_run_stream (run, sbx_now_ms (), s_collect_chunk, log);
    }
    ck_assert (sbx_run_cancel (run));
    s_run_streaming (run, log);
    const proto_result_t *r = sbx_run_result (run);
    ck_assert_int_eq (r->status, PROTO_STATUS_CANCELLED);
    s_check_prefix (r, log);
    sbx_run_destroy (&run);
    free (log);
}
END_TEST

/*  The run tests, with and without isolation.                              */
static void
s_add_run_tests (TCase *tc)
{
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
}

static Suite *
s_suite (void)
{
    Suite *s = suite_create ("sandbox");
    TCase *tc = tcase_create ("run");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 30);
    s_add_run_tests (tc);
    suite_add_tcase (s, tc);

    tc = tcase_create ("run-isolated");
    tcase_add_unchecked_fixture (tc, NULL, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup_iso, s_teardown_iso);
    tcase_set_timeout (tc, 30);
    s_add_run_tests (tc);
    suite_add_tcase (s, tc);

    tc = tcase_create ("isolation");
    tcase_add_unchecked_fixture (tc, NULL, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup_iso, s_teardown_iso);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, iso_hello_map_and_lines);
    tcase_add_test (tc, iso_require_refuses_what_is_missing);
    tcase_add_test (tc, iso_task_holds_no_privilege);
    tcase_add_test (tc, iso_slots_have_their_own_uid_and_workspace);
    tcase_add_test (tc, iso_spawn_does_not_block_the_caller);
    tcase_add_test (tc, iso_cancel_while_spawning);
    tcase_add_test (tc, iso_destroy_while_spawning);
    tcase_add_test (tc, iso_landlock_confines_files);
    tcase_add_test (tc, iso_network_off_only_loopback);
    tcase_add_test (tc, iso_pid_namespace_hides_the_worker);
    tcase_add_test (tc, iso_double_fork_daemon_dies_with_the_task);
    tcase_add_test (tc, iso_fork_bomb_contained);
    tcase_add_loop_test (tc, iso_memory_bomb_is_memory_limit, 0, 2);
    tcase_add_test (tc, iso_hostile_tasks_leave_the_worker_alone);
    tcase_add_test (tc, iso_output_policy_kill);
    tcase_add_test (tc, iso_fallback_without_namespaces_or_cgroup);
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
    tcase_add_test (tc, sweep_skips_busy_spawner_threads);
    tcase_add_test (tc, spec_find_program_and_env);
    tcase_add_test (tc, config_defaults_and_checks);
    tcase_add_test (tc, config_keys_load_and_errors);
    suite_add_tcase (s, tc);

    tc = tcase_create ("reliability");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, outbox_keeps_results_until_acked);
    tcase_add_test (tc, outbox_order_when_the_socket_is_full);
    tcase_add_test (tc, outbox_bounds_by_count_and_bytes);
    tcase_add_test (tc, run_cancel_keeps_partial_output);
    suite_add_tcase (s, tc);

    tc = tcase_create ("live-output");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, outcap_stream_timer_50ms);
    tcase_add_test (tc, outcap_stream_threshold_16k);
    tcase_add_test (tc, outcap_stream_stops_at_the_cap);
    tcase_add_test (tc, outcap_stream_failed_send_keeps_bytes);
    tcase_add_loop_test (tc, run_streams_a_prefix_of_the_result, 0, 4);
    tcase_add_test (tc, run_short_task_streams_nothing);
    tcase_add_test (tc, run_cancelled_stream_is_a_prefix);
    suite_add_tcase (s, tc);
    return s;
}

int
main (void)
{
    snprintf (s_cg_name, sizeof s_cg_name, "cleudo-unit-%d", (int) getpid ());
    SRunner *sr = srunner_create (s_suite ());
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
