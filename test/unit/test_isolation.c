/*  test_isolation.c - the isolation layers (sbx_caps, sbx_landlock,
    sbx_seccomp), proved from inside: a child applies the layers in the
    worker's order (no_new_privs, capability drop, Landlock, seccomp last)
    and execs test/probe/try-syscall, which tries each forbidden operation
    and prints the errno it got; the test asserts every line, and, where an
    operation reaches something of the test (a TCP or abstract listener, a
    canary file), the host-side effect too.

    Needs root for the uid switch and the baseline (a root probe without
    layers proves the probe really performs each operation); those cases
    say SKIP and pass otherwise. The probe: $CLEUDO_PROBE, else
    build/test/try-syscall, built from test/probe/try-syscall.c when missing
    or older than its source. The test copies it into each workspace, the
    only place from which a Landlocked task may execute it.
*/
#define _GNU_SOURCE
#include "../../services/agent-sandbox/sbx_caps.h"
#include "../../services/agent-sandbox/sbx_landlock.h"
#include "../../services/agent-sandbox/sbx_seccomp.h"

#include "testutil.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/*  Code of the child between fork/clone and execve (see child.c).         */
#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

enum {
    L_NNP = 1 << 0,                     /* PR_SET_NO_NEW_PRIVS */
    L_CAPS = 1 << 1,                    /* sbx_caps_child_drop */
    L_LANDLOCK = 1 << 2,                /* sbx_landlock_child_restrict */
    L_SECCOMP = 1 << 3,                 /* sbx_seccomp_child_install */
    L_ALL = L_NNP | L_CAPS | L_LANDLOCK | L_SECCOMP,
};

static char s_probe_src[PATH_MAX];      /* the probe binary to copy */
static sbx_seccomp_t *s_seccomp;        /* both filters, compiled once in main */
static int s_abi;                       /* Landlock ABI, or -1 */
static int s_abi_errno;                 /* why, when -1 */
static uid_t s_uid = 65534;             /* task uid for the uid switch */
static gid_t s_gid = 65534;

/*  Directories: one base per test case (unchecked fixture, in the runner:
    removed after the case even when a test failed), and in it, per test
    (checked fixture, in the test's own process), a fresh workspace and a
    fresh "outside" directory.                                              */
static char s_base[64];                 /* /tmp/cleudo-iso-XXXXXX */
static char s_ws[128];                  /* the workspace */
static char s_extra[256];               /* an extra read-write directory (ws/tmp) */
static char s_out[128];                 /* outside: mode 0777, holds the canary */
static char s_probe[256];               /* s_ws/try-syscall */
static char s_canary[256];              /* s_out/canary */
static const char s_canary_text[] = "canary: must stay untouched\n";

/*  ---- fixture --------------------------------------------------------- */

static void
s_case_setup (void)
{
    snprintf (s_base, sizeof s_base, "/tmp/cleudo-iso-XXXXXX");
    if (!mkdtemp (s_base) || chmod (s_base, 0755) < 0) {
        fprintf (stderr, "test_isolation: %s: %s\n", s_base, strerror (errno));
        exit (1);
    }
}

static void
s_case_teardown (void)
{
    tu_rm_rf (s_base);
}

static void
s_setup (void)
{
    snprintf (s_ws, sizeof s_ws, "%s/ws-XXXXXX", s_base);
    snprintf (s_out, sizeof s_out, "%s/out-XXXXXX", s_base);
    ck_assert_ptr_nonnull (mkdtemp (s_ws));
    ck_assert_ptr_nonnull (mkdtemp (s_out));
    snprintf (s_extra, sizeof s_extra, "%s/tmp", s_ws);
    ck_assert_int_eq (mkdir (s_extra, 0700), 0);
    snprintf (s_probe, sizeof s_probe, "%s/try-syscall", s_ws);
    tu_copy_file (s_probe_src, s_probe, 0755);
    /*  DAC would let anybody write outside: a refusal there is Landlock's. */
    chmod (s_out, 0777);
    snprintf (s_canary, sizeof s_canary, "%s/canary", s_out);
    int fd = open (s_canary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (write (fd, s_canary_text, sizeof s_canary_text - 1),
                      (ssize_t) sizeof s_canary_text - 1);
    close (fd);
    chmod (s_canary, 0666);
    if (geteuid () == 0) {
        /*  The task uid owns its workspace, as in the worker.             */
        int rc = chown (s_ws, s_uid, s_gid) | chown (s_extra, s_uid, s_gid)
                 | chown (s_probe, s_uid, s_gid);
        ck_assert_int_eq (rc, 0);
    }
}

/*  ---- running the probe under layers ---------------------------------- */

typedef struct {
    unsigned layers;                    /* L_* */
    bool network;                       /* seccomp and Landlock variant */
    bool switch_ids;                    /* L_CAPS: become s_uid/s_gid */
    bool vm;                            /* clone (CLONE_VM|CLONE_VFORK), like the worker */
    const char *const *argv;            /* program (NULL: probe -d ws) and args */
} run_t;

typedef struct {
    char out[32768];                    /* what the program wrote on stdout */
    int status;                         /* wait status */
} result_t;

/*  What the child reads; everything prepared by the parent.               */
typedef struct {
    unsigned layers;
    const sbx_caps_plan_t *plan;
    int ruleset_fd;
    const struct sock_fprog *prog;
    int in_fd;                          /* becomes stdin when > 0 */
    int out_fd;                         /* becomes stdout */
    const char *path;
    char *const *argv;
    char *const *envp;
    const sigset_t *mask;               /* signal mask to restore */
} child_t;

/*  Raw-call-only helpers for the child: no libc, no interceptors.         */
CHILD_CODE static size_t
s_child_strlen (const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

CHILD_CODE static void
s_child_fail (int fd, const char *step, int err)
{
    char line[80];
    size_t n = 0;
    const char *prefix = "setup-failed ";
    for (size_t i = 0; prefix[i] && n < 40; i++)
        line[n++] = prefix[i];
    for (size_t i = 0; i < s_child_strlen (step) && n < 60; i++)
        line[n++] = step[i];
    line[n++] = ' ';
    char digits[12];
    size_t d = 0;
    unsigned v = (unsigned) (err < 0 ? -err : err);
    do {
        digits[d++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v && d < sizeof digits);
    while (d)
        line[n++] = digits[--d];
    line[n++] = '\n';
    syscall (SYS_write, fd, line, n);
    syscall (SYS_exit_group, 127);
}

/*  The order is the security (DESIGN.md, STYLE.md): no_new_privs first,
    then the capability drop and uid switch (which need capabilities that
    nothing later needs), Landlock, and seccomp last, right before execve,
    so the filter never has to allow any of the set-up's own calls.        */
CHILD_CODE static int
s_child_main (void *arg)
{
    const child_t *c = arg;
    int rc;
    if (c->out_fd >= 0 && syscall (SYS_dup2, c->out_fd, 1) < 0)
        s_child_fail (c->out_fd, "stdout", errno);
    /*  Never the runner's terminal: a task's stdin is a pipe in the worker. */
    if (c->in_fd > 0 && syscall (SYS_dup2, c->in_fd, 0) < 0)
        s_child_fail (1, "stdin", errno);
    /*  Nothing but 0-2 survives execve (the ruleset fd is close-on-exec).  */
    if (syscall (SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        s_child_fail (1, "close_range", errno);
    if ((c->layers & L_NNP) && (rc = sbx_caps_child_no_new_privs ()) < 0)
        s_child_fail (1, "no_new_privs", rc);
    if ((c->layers & L_CAPS) && (rc = sbx_caps_child_drop (c->plan)) < 0)
        s_child_fail (1, "caps", rc);
    if ((c->layers & L_LANDLOCK) && (rc = sbx_landlock_child_restrict (c->ruleset_fd)) < 0)
        s_child_fail (1, "landlock", rc);
    syscall (SYS_rt_sigprocmask, SIG_SETMASK, c->mask, NULL, 8);
    /*  Last before execve: see above.                                      */
    if ((c->layers & L_SECCOMP) && (rc = sbx_seccomp_child_install (c->prog)) < 0)
        s_child_fail (1, "seccomp", rc);
    syscall (SYS_execve, c->path, c->argv, c->envp);
    s_child_fail (1, "exec", errno);
    return 127;
}

static char s_stack[256 * 1024] __attribute__ ((aligned (64)));

/*  Start the child: fork, or clone with CLONE_VM|CLONE_VFORK as the worker
    does (returns once the child has exec'd or died).                      */
static pid_t
s_spawn (const child_t *c, bool vm)
{
    sigset_t all, old;
    sigfillset (&all);
    sigprocmask (SIG_SETMASK, &all, &old);
    child_t copy = *c;
    copy.mask = &old;
    pid_t pid;
    if (vm)
        pid = clone (s_child_main, s_stack + sizeof s_stack,
                     CLONE_VM | CLONE_VFORK | SIGCHLD, &copy);
    else {
        pid = fork ();
        if (pid == 0)
            s_child_main (&copy);
    }
    sigprocmask (SIG_SETMASK, &old, NULL);
    return pid;
}

static char *s_env[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL, NULL };

/*  Prepare the layers in the parent, spawn, collect stdout and status.   */
static void
s_run (const run_t *r, result_t *res)
{
    static char home[PATH_MAX + 8];
    snprintf (home, sizeof home, "HOME=%s", s_ws);
    s_env[2] = home;
    char err[512] = "";
    sbx_caps_plan_t plan;
    memset (&plan, 0, sizeof plan);
    if (r->layers & L_CAPS) {
        ck_assert_msg (sbx_caps_plan_init (&plan, r->switch_ids, s_uid, s_gid, err,
                                           sizeof err) == 0, "%s", err);
        plan.pdeath_signal = SIGKILL;
        plan.parent = getpid ();
    }
    int ruleset = -1;
    if (r->layers & L_LANDLOCK) {
        const char *extra[] = { s_extra, NULL };
        sbx_landlock_spec_t spec = { .workspace = s_ws, .workspace_fd = -1,
                                     .extra_rw = extra, .network = r->network,
                                     .abi = s_abi };
        ck_assert_msg (sbx_landlock_prepare (&spec, &ruleset, err, sizeof err) == 0,
                       "%s", err);
    }
    const char *default_argv[] = { s_probe, "-d", s_ws, "all", NULL };
    const char *const *argv = r->argv ? r->argv : default_argv;
    int pipefd[2];
    ck_assert_int_eq (pipe2 (pipefd, O_CLOEXEC), 0);
    int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_gt (devnull, 0);
    child_t c = {
        .layers = r->layers, .plan = &plan, .ruleset_fd = ruleset,
        .prog = sbx_seccomp_prog (s_seccomp, r->network), .in_fd = devnull, .out_fd = pipefd[1],
        .path = argv[0], .argv = (char *const *) argv, .envp = s_env,
    };
    pid_t pid = s_spawn (&c, r->vm);
    ck_assert_int_gt (pid, 0);
    close (pipefd[1]);
    close (devnull);
    if (ruleset >= 0)
        close (ruleset);
    size_t used = 0;
    ssize_t n;
    while (used < sizeof res->out - 1
           && ((n = read (pipefd[0], res->out + used, sizeof res->out - 1 - used)) > 0
               || (n < 0 && errno == EINTR)))
        if (n > 0)
            used += (size_t) n;
    res->out[used] = '\0';
    close (pipefd[0]);
    ck_assert_int_eq (waitpid (pid, &res->status, 0), pid);
    ck_assert_msg (strstr (res->out, "setup-failed") == NULL, "child set-up failed:\n%s",
                   res->out);
}

/*  The result of one operation: the text after "OP " (or after "OP=" for
    the KEY=VALUE lines), up to the end of its line; NULL if absent.        */
static const char *
s_get (const result_t *res, const char *op)
{
    static char value[256];
    size_t len = strlen (op);
    for (const char *line = res->out; *line; ) {
        const char *end = strchr (line, '\n');
        if (!end)
            end = line + strlen (line);
        if ((size_t) (end - line) > len && strncmp (line, op, len) == 0
            && (line[len] == ' ' || line[len] == '=')) {
            size_t vlen = (size_t) (end - line) - len - 1;
            if (vlen >= sizeof value)
                vlen = sizeof value - 1;
            memcpy (value, line + len + 1, vlen);
            value[vlen] = '\0';
            return value;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

#define EXPECT(res, op, want) s_expect ((res), (op), (want), __LINE__)

static void
s_expect (const result_t *res, const char *op, const char *want, int line)
{
    const char *got = s_get (res, op);
    ck_assert_msg (got && strcmp (got, want) == 0,
                   "line %d: %s: want \"%s\", got \"%s\"\n--- probe output ---\n%s",
                   line, op, want, got ? got : "(no line)", res->out);
}

static bool
s_need_root (const char *what)
{
    if (geteuid () == 0)
        return true;
    fprintf (stderr, "SKIP %s: needs root (uid switch / baseline as root)\n", what);
    return false;
}

/*  Root with the capabilities of a bare machine (not, say, root in a
    container that dropped CAP_SYS_ADMIN): what the baseline needs.        */
static bool
s_need_full_root (const char *what)
{
    if (!s_need_root (what))
        return false;
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset (data, 0, sizeof data);
    if (syscall (SYS_capget, &hdr, data) == 0
        && (data[CAP_SYS_ADMIN / 32].effective >> (CAP_SYS_ADMIN % 32) & 1)
        && (data[CAP_SYS_PTRACE / 32].effective >> (CAP_SYS_PTRACE % 32) & 1)
        && (data[CAP_NET_RAW / 32].effective >> (CAP_NET_RAW % 32) & 1))
        return true;
    fprintf (stderr, "SKIP %s: root without CAP_SYS_ADMIN/CAP_SYS_PTRACE/CAP_NET_RAW\n", what);
    return false;
}

static bool
s_need_abi (int abi, const char *what)
{
    if (s_abi >= abi)
        return true;
    fprintf (stderr, "SKIP %s: needs Landlock ABI %d, have %d (%s)\n", what, abi, s_abi,
             s_abi < 0 ? strerror (s_abi_errno) : "older kernel");
    return false;
}

static void
s_expect_exit0 (const result_t *res)
{
    ck_assert_msg (WIFEXITED (res->status) && WEXITSTATUS (res->status) == 0,
                   "status 0x%x\n--- output ---\n%s", res->status, res->out);
}

/*  Run the probe the way a worker that is NOT root would: a stand-in
    worker process drops to s_uid first (so the task runs with the
    worker's own uid, no switch), prepares the layers and spawns the probe,
    whose parent it then is. Needs root only to make that stand-in.        */
static void
s_run_as_unprivileged_worker (unsigned layers, const char *const *argv, result_t *res)
{
    int pipefd[2];
    ck_assert_int_eq (pipe2 (pipefd, O_CLOEXEC), 0);
    pid_t worker = fork ();
    ck_assert_int_ge (worker, 0);
    if (worker == 0) {
        if (setgroups (0, NULL) < 0 || setresgid (s_gid, s_gid, s_gid) < 0
            || setresuid (s_uid, s_uid, s_uid) < 0)
            _exit (20);
        /*  The uid change made this process non-dumpable (its /proc files
            root's); a worker started unprivileged is dumpable.            */
        if (prctl (PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
            _exit (25);
        char err[512];
        sbx_caps_plan_t plan;
        if (sbx_caps_plan_init (&plan, false, 0, 0, err, sizeof err) < 0 || plan.have_setpcap)
            _exit (21);
        int ruleset = -1;
        sbx_landlock_spec_t spec = { .workspace = s_ws, .workspace_fd = -1, .abi = s_abi };
        if ((layers & L_LANDLOCK) && sbx_landlock_prepare (&spec, &ruleset, err, sizeof err) < 0)
            _exit (22);
        child_t c = { .layers = layers, .plan = &plan, .ruleset_fd = ruleset,
                      .prog = sbx_seccomp_prog (s_seccomp, false), .out_fd = pipefd[1],
                      .path = argv[0], .argv = (char *const *) argv, .envp = s_env };
        pid_t task = s_spawn (&c, false);
        int status = 0;
        if (task < 0 || waitpid (task, &status, 0) != task)
            _exit (23);
        _exit (WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : 24);
    }
    close (pipefd[1]);
    size_t used = 0;
    ssize_t n;
    while (used < sizeof res->out - 1
           && (n = read (pipefd[0], res->out + used, sizeof res->out - 1 - used)) > 0)
        used += (size_t) n;
    res->out[used] = '\0';
    close (pipefd[0]);
    ck_assert_int_eq (waitpid (worker, &res->status, 0), worker);
    s_expect_exit0 (res);
}

/*  What the filter answers EPERM to, from the probe's "all".              */
static const char *const s_seccomp_denied[] = {
    "ptrace", "process_vm_readv", "pidfd_getfd", "mount", "umount", "pivot_root",
    "chroot", "fsopen", "open_tree", "unshare-user", "unshare-ns", "unshare-net",
    "setns", "clone-newuser", "clone-newpid", "keyctl", "add_key", "request_key",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "kexec_load",
    "init_module", "finit_module", "delete_module", "personality", "acct", "swapon",
    "reboot", "syslog", "iopl", "ioperm", "name_to_handle_at", "open_by_handle_at",
    "socket-inet", "socket-inet6", "socket-vsock", "socket-netlink", "socket-packet",
    "socketpair-inet", NULL
};

/*  ---- seccomp ---------------------------------------------------------- */

START_TEST (seccomp_compiles_two_programs)
{
    ck_assert_int_eq (sbx_seccomp_probe (), 0);
    const struct sock_fprog *off = sbx_seccomp_prog (s_seccomp, false);
    const struct sock_fprog *on = sbx_seccomp_prog (s_seccomp, true);
    ck_assert (off && on && off->len > 0 && on->len > 0 && off->filter != on->filter);
    ck_assert_uint_ne (off->len, on->len);
    ck_assert_ptr_null (sbx_seccomp_prog (NULL, false));
    /*  First the architecture: load seccomp_data.arch, and a foreign
        architecture ends in KILL_PROCESS.                                  */
    ck_assert_uint_eq (off->filter[0].code, BPF_LD | BPF_W | BPF_ABS);
    ck_assert_uint_eq (off->filter[0].k, offsetof (struct seccomp_data, arch));
    bool kill_process = false;
    for (unsigned i = 0; i < off->len; i++)
        if (off->filter[i].code == (BPF_RET | BPF_K)
            && off->filter[i].k == SECCOMP_RET_KILL_PROCESS)
            kill_process = true;
    ck_assert (kill_process);
    fprintf (stderr, "seccomp: %u instructions (network off), %u (network on)\n",
             off->len, on->len);
    /*  Destroy is safe twice.                                              */
    char err[256];
    sbx_seccomp_t *tmp = sbx_seccomp_new (err, sizeof err);
    ck_assert_ptr_nonnull (tmp);
    sbx_seccomp_destroy (&tmp);
    ck_assert_ptr_null (tmp);
    sbx_seccomp_destroy (&tmp);
    ck_assert_int_eq (sbx_seccomp_child_install (NULL), -EINVAL);
}
END_TEST

/*  Test of the test: as root with no layer at all, the probe really does
    what it claims (each of these would pass the filter test vacuously if
    the probe were broken).                                                 */
START_TEST (probe_baseline_as_root_succeeds)
{
    if (!s_need_full_root ("probe baseline"))
        return;
    result_t res;
    const char *argv[] = { s_probe, "-d", s_ws, "all", "i386", NULL };
    run_t r = { .layers = 0, .argv = argv };
    s_run (&r, &res);
    s_expect_exit0 (&res);
    static const char *const ok[] = {
        "ptrace", "process_vm_readv", "pidfd_getfd", "mount", "chroot", "fsopen",
        "open_tree", "unshare-user", "unshare-ns", "unshare-net", "setns",
        "clone-newuser", "clone-newpid", "clone3", "fork", "thread", "keyctl",
        "add_key", "request_key", "personality", "TIOCSTI", "TIOCSTI-hi", "socket-unix",
        "socket-inet", "socket-netlink", "socket-packet", "passwd", "shadow", "environ", "kill",
        "i386", NULL
    };
    for (size_t i = 0; ok[i]; i++)
        EXPECT (&res, ok[i], "ok");
    /*  Past the permission check, refused for the harmless argument.      */
    EXPECT (&res, "umount", "errno=EINVAL");
    EXPECT (&res, "pivot_root", "errno=ENOENT");
    EXPECT (&res, "bpf", "errno=EINVAL");
    EXPECT (&res, "reboot", "errno=EINVAL");
    EXPECT (&res, "acct", "errno=ENOENT");
    EXPECT (&res, "swapon", "errno=ENOENT");
    EXPECT (&res, "socketpair-inet", "errno=EOPNOTSUPP");
    EXPECT (&res, "seccomp", "0");
    fprintf (stderr, "--- probe baseline (root, no layer) ---\n%s", res.out);
}
END_TEST

START_TEST (seccomp_denies_with_eperm)
{
    result_t res;
    run_t r = { .layers = L_NNP | L_SECCOMP };
    s_run (&r, &res);
    s_expect_exit0 (&res);
    for (size_t i = 0; s_seccomp_denied[i]; i++)
        EXPECT (&res, s_seccomp_denied[i], "errno=EPERM");
    /*  A pty of the probe's own: only the filter refuses (root may inject).
        TIOCSTI-hi sets bit 32 of the command: the kernel ignores it, the
        filter compares the low 32 bits only, so it is caught too.          */
    EXPECT (&res, "TIOCSTI", "errno=EPERM");
    EXPECT (&res, "TIOCSTI-hi", "errno=EPERM");
    EXPECT (&res, "TIOCLINUX", "errno=EPERM");
    /*  clone3 says "not implemented" so that glibc falls back to clone,
        whose flags the filter can read: threads and fork still work.       */
    EXPECT (&res, "clone3", "errno=ENOSYS");
    EXPECT (&res, "fork", "ok");
    EXPECT (&res, "thread", "ok");
    EXPECT (&res, "personality-linux", "ok");
    EXPECT (&res, "socket-unix", "ok");
    EXPECT (&res, "socketpair-unix", "ok");
    EXPECT (&res, "passwd", "ok");
    EXPECT (&res, "nnp", "1");
    EXPECT (&res, "seccomp", "2");      /* SECCOMP_MODE_FILTER */
}
END_TEST

START_TEST (seccomp_network_variant_allows_inet_only)
{
    result_t res;
    const char *argv[] = { s_probe, "socket-unix", "socket-inet", "socket-inet6",
                           "socket-vsock", "socket-netlink", "socket-packet",
                           "socketpair-inet", "unshare-net", "ptrace", NULL };
    run_t r = { .layers = L_NNP | L_SECCOMP, .network = true, .argv = argv };
    s_run (&r, &res);
    EXPECT (&res, "socket-unix", "ok");
    EXPECT (&res, "socket-inet", "ok");
    EXPECT (&res, "socket-inet6", "ok");
    EXPECT (&res, "socket-vsock", "errno=EPERM");
    EXPECT (&res, "socket-netlink", "errno=EPERM");
    EXPECT (&res, "socket-packet", "errno=EPERM");
    /*  Allowed by the filter; the kernel has no AF_INET socketpair.        */
    EXPECT (&res, "socketpair-inet", "errno=EOPNOTSUPP");
    EXPECT (&res, "unshare-net", "errno=EPERM");
    EXPECT (&res, "ptrace", "errno=EPERM");
}
END_TEST

static void
s_expect_sigsys (const char *op)
{
    result_t res;
    const char *argv[] = { s_probe, op, "nnp", NULL };  /* op runs last anyway */
    run_t r = { .layers = L_NNP | L_SECCOMP, .argv = argv };
    s_run (&r, &res);
    EXPECT (&res, "nnp", "1");          /* the probe did run */
    ck_assert_ptr_null (s_get (&res, op));
    ck_assert_msg (WIFSIGNALED (res.status) && WTERMSIG (res.status) == SIGSYS,
                   "%s: status 0x%x, want SIGSYS\n%s", op, res.status, res.out);
}

START_TEST (seccomp_kills_x32)
{
    s_expect_sigsys ("x32");
}
END_TEST

START_TEST (seccomp_kills_i386)
{
    /*  Without a filter int 0x80 must work here, or SIGSYS proves nothing. */
    result_t res;
    const char *argv[] = { s_probe, "i386", NULL };
    run_t r = { .layers = 0, .argv = argv };
    s_run (&r, &res);
    const char *got = s_get (&res, "i386");
    if (!got || strcmp (got, "ok") != 0) {
        fprintf (stderr, "SKIP i386: no 32-bit entry without a filter (%s)\n",
                 got ? got : "probe died");
        return;
    }
    s_expect_sigsys ("i386");
}
END_TEST

/*  ---- Landlock --------------------------------------------------------- */

START_TEST (landlock_abi_and_bad_specs)
{
    if (s_abi < 0) {
        ck_assert (s_abi_errno == ENOSYS || s_abi_errno == EOPNOTSUPP);
        fprintf (stderr, "SKIP landlock: unavailable (%s)\n", strerror (s_abi_errno));
        return;
    }
    ck_assert_int_ge (s_abi, 1);
    fprintf (stderr, "landlock: ABI %d\n", s_abi);
    char err[512] = "";
    int fd = 7;
    sbx_landlock_spec_t spec = { .workspace = "/nonexistent/cleudo-ws", .workspace_fd = -1,
                                 .abi = s_abi };
    ck_assert_int_eq (sbx_landlock_prepare (&spec, &fd, err, sizeof err), -1);
    ck_assert_int_eq (fd, -1);
    ck_assert_ptr_nonnull (strstr (err, "/nonexistent/cleudo-ws"));
    /*  A file is not a workspace.                                          */
    spec.workspace = s_canary;
    ck_assert_int_eq (sbx_landlock_prepare (&spec, &fd, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "canary"));
    /*  An extra directory that is missing is an error too.                 */
    const char *extra[] = { "/nonexistent/cleudo-extra", NULL };
    spec.workspace = s_ws;
    spec.extra_rw = extra;
    ck_assert_int_eq (sbx_landlock_prepare (&spec, &fd, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "cleudo-extra"));
    /*  No workspace, no ABI.                                               */
    spec.workspace = NULL;
    spec.extra_rw = NULL;
    ck_assert_int_eq (sbx_landlock_prepare (&spec, &fd, err, sizeof err), -1);
    spec.workspace = s_ws;
    spec.abi = 0;
    ck_assert_int_eq (sbx_landlock_prepare (&spec, &fd, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "unavailable"));
    /*  Every older ABI builds too (the kernel accepts the smaller struct
        and the masked rights); the fd is close-on-exec.                    */
    for (int abi = 1; abi <= s_abi; abi++) {
        spec.abi = abi;
        ck_assert_msg (sbx_landlock_prepare (&spec, &fd, err, sizeof err) == 0,
                       "abi %d: %s", abi, err);
        ck_assert_int_eq (fcntl (fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        close (fd);
    }
}
END_TEST

static bool
s_canary_intact (void)
{
    char buf[256];
    int fd = open (s_canary, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read (fd, buf, sizeof buf);
    close (fd);
    return n == (ssize_t) sizeof s_canary_text - 1
           && memcmp (buf, s_canary_text, (size_t) n) == 0;
}

/*  Landlock alone, with every capability of root still held: Landlock is
    not bypassed by CAP_DAC_OVERRIDE.                                       */
START_TEST (landlock_confines_files_even_for_root)
{
    if (!s_need_abi (1, "landlock files"))
        return;
    char w_in[PATH_MAX + 16], w_extra[PATH_MAX + 16], w_out[PATH_MAX + 16],
         w_canary[PATH_MAX + 16], r_canary[PATH_MAX + 16], d_in[PATH_MAX + 16],
         d_out[PATH_MAX + 16];
    snprintf (w_in, sizeof w_in, "write=%s/inside", s_ws);
    snprintf (w_extra, sizeof w_extra, "write=%s/file", s_extra);
    snprintf (w_out, sizeof w_out, "write=%s/new", s_out);
    snprintf (w_canary, sizeof w_canary, "write=%s", s_canary);
    snprintf (r_canary, sizeof r_canary, "read=%s", s_canary);
    snprintf (d_in, sizeof d_in, "mkdir=%s/dir", s_ws);
    snprintf (d_out, sizeof d_out, "mkdir=%s/dir", s_out);
    const char *argv[] = { s_probe, "passwd", "shadow", "environ", "read=/etc/hostname",
                           "read=/usr/bin/env", "exec=/bin/true", "write=/dev/null",
                           "read=/dev/urandom", "read=/proc/self/status",
                           "write=/proc/self/comm", "write=/tmp/cleudo-iso-escape",
                           "read=/sys/kernel",
                           "mkdir=/tmp/cleudo-iso-escape-dir",
                           w_in, w_extra, w_out, w_canary, r_canary, d_in, d_out, NULL };
    run_t r = { .layers = L_NNP | L_LANDLOCK, .argv = argv };
    result_t res;
    s_run (&r, &res);
    s_expect_exit0 (&res);
    EXPECT (&res, "passwd", "ok");
    EXPECT (&res, "read=/etc/hostname", "ok");
    EXPECT (&res, "read=/usr/bin/env", "ok");
    EXPECT (&res, "exec=/bin/true", "ok");
    EXPECT (&res, "write=/dev/null", "ok");
    EXPECT (&res, "read=/dev/urandom", "ok");
    EXPECT (&res, "read=/proc/self/status", "ok");
    /*  Root keeps reading /etc/shadow here: /etc is readable; the shadow
        file is closed by the uid switch (caps test), not by Landlock.      */
    EXPECT (&res, "shadow", geteuid () == 0 ? "ok" : "errno=EACCES");
    /*  Not asserted: measured on 6.18, a Landlocked task that still holds
        root's CAP_SYS_PTRACE reads /proc/<outside pid>/environ, maps and
        auxv (opened through mm_access), while exe, cwd, root, mem are
        refused. The worker never runs tasks as root: the uid switch closes
        environ (caps test), and for an unprivileged worker Landlock does
        (landlock_hides_unprivileged_worker_proc).                         */
    fprintf (stderr, "note: Landlock only, task uid %d: environ %s\n", (int) geteuid (),
             s_get (&res, "environ"));
    EXPECT (&res, "write=/proc/self/comm", "errno=EACCES");
    EXPECT (&res, "write=/tmp/cleudo-iso-escape", "errno=EACCES");
    EXPECT (&res, "mkdir=/tmp/cleudo-iso-escape-dir", "errno=EACCES");
    EXPECT (&res, "read=/sys/kernel", "errno=EACCES");
    EXPECT (&res, w_in, "ok");
    EXPECT (&res, w_extra, "ok");
    EXPECT (&res, d_in, "ok");
    EXPECT (&res, w_out, "errno=EACCES");
    EXPECT (&res, w_canary, "errno=EACCES");
    EXPECT (&res, r_canary, "errno=EACCES");
    EXPECT (&res, d_out, "errno=EACCES");
    /*  Host side: nothing appeared outside, the canary is intact.         */
    ck_assert (s_canary_intact ());
    struct stat st;
    ck_assert_int_eq (stat ("/tmp/cleudo-iso-escape", &st), -1);
    char p[PATH_MAX + 8];
    snprintf (p, sizeof p, "%s/new", s_out);
    ck_assert_int_eq (stat (p, &st), -1);
    snprintf (p, sizeof p, "%s/inside", s_ws);
    ck_assert_int_eq (stat (p, &st), 0);
}
END_TEST

/*  The workspace given as an O_PATH descriptor instead of a path.         */
START_TEST (landlock_workspace_as_fd)
{
    if (!s_need_abi (1, "landlock fd"))
        return;
    int dirfd = open (s_ws, O_PATH | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge (dirfd, 0);
    char err[512];
    int fd = -1;
    sbx_landlock_spec_t spec = { .workspace = NULL, .workspace_fd = dirfd, .abi = s_abi };
    ck_assert_msg (sbx_landlock_prepare (&spec, &fd, err, sizeof err) == 0, "%s", err);
    close (dirfd);
    /*  Apply it in a plain fork and try both sides.                        */
    char in[PATH_MAX + 8], out[PATH_MAX + 8];
    snprintf (in, sizeof in, "%s/via-fd", s_ws);
    snprintf (out, sizeof out, "%s/via-fd", s_out);
    pid_t pid = fork ();
    if (pid == 0) {
        if (sbx_caps_child_no_new_privs () < 0 || sbx_landlock_child_restrict (fd) < 0)
            _exit (10);
        int a = open (in, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        int b = open (out, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        _exit (a >= 0 && b < 0 && errno == EACCES ? 0 : 11);
    }
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status 0x%x", status);
    close (fd);
}
END_TEST

/*  With the system entries cached at start-up: the same domain, and the
    cached descriptors never reach the task.                               */
START_TEST (landlock_cached_system_entries)
{
    if (!s_need_abi (1, "landlock cache"))
        return;
    char err[512];
    /*  Check's forked process: the cache dies with it.                    */
    ck_assert_msg (sbx_landlock_cache_system (err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq (sbx_landlock_cache_system (err, sizeof err), 0);      /* twice */
    char w_in[PATH_MAX + 16], w_out[PATH_MAX + 16];
    snprintf (w_in, sizeof w_in, "write=%s/inside", s_ws);
    snprintf (w_out, sizeof w_out, "write=%s", s_canary);
    const char *argv[] = { s_probe, "fds", "passwd", "exec=/bin/true", "write=/dev/null",
                           "read=/dev/urandom", "write=/dev/urandom", "write=/etc/passwd",
                           w_in, w_out, NULL };
    run_t r = { .layers = L_NNP | L_LANDLOCK, .argv = argv };
    result_t res;
    s_run (&r, &res);
    EXPECT (&res, "fds", "");
    EXPECT (&res, "passwd", "ok");
    EXPECT (&res, "exec=/bin/true", "ok");
    EXPECT (&res, "write=/dev/null", "ok");
    EXPECT (&res, "read=/dev/urandom", "ok");
    EXPECT (&res, "write=/dev/urandom", "errno=EACCES");
    EXPECT (&res, "write=/etc/passwd", "errno=EACCES");
    EXPECT (&res, w_in, "ok");
    EXPECT (&res, w_out, "errno=EACCES");
    ck_assert (s_canary_intact ());
}
END_TEST

/*  Did anybody connect? (listener is non-blocking)                         */
static bool
s_accepted (int listener)
{
    int fd = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        ck_assert_int_eq (errno, EAGAIN);
        return false;
    }
    close (fd);
    return true;
}

START_TEST (landlock_denies_tcp_without_network)
{
    if (!s_need_abi (4, "landlock tcp"))
        return;
    uint16_t port;
    int listener = tu_tcp_listener (&port);
    char conn[32];
    snprintf (conn, sizeof conn, "connect=%u", port);
    const char *argv[] = { s_probe, conn, "bind=0", "socket-inet", NULL };
    /*  Landlock only (no seccomp): socket () works, connect and bind do
        not. Landlock answers EACCES for TCP (EPERM is for its scopes).     */
    run_t r = { .layers = L_NNP | L_LANDLOCK, .argv = argv };
    result_t res;
    s_run (&r, &res);
    EXPECT (&res, "socket-inet", "ok");
    EXPECT (&res, conn, "errno=EACCES");
    EXPECT (&res, "bind=0", "errno=EACCES");
    ck_assert_msg (!s_accepted (listener), "the listener saw a connection");
    /*  The same probe with network on reaches the listener: the probe and
        the listener work, so the refusal above is Landlock's.              */
    run_t net = { .layers = L_NNP | L_LANDLOCK, .network = true, .argv = argv };
    s_run (&net, &res);
    EXPECT (&res, conn, "ok");
    EXPECT (&res, "bind=0", "ok");
    ck_assert (s_accepted (listener));
    close (listener);
}
END_TEST

static int
s_abstract_listener (char *name, size_t size)
{
    snprintf (name, size, "cleudo-iso-%d", (int) getpid ());
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge (fd, 0);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    size_t len = strlen (name);
    memcpy (sa.sun_path + 1, name, len);
    ck_assert_int_eq (bind (fd, (struct sockaddr *) &sa,
                            (socklen_t) (offsetof (struct sockaddr_un, sun_path) + 1 + len)), 0);
    ck_assert_int_eq (listen (fd, 8), 0);
    return fd;
}

START_TEST (landlock_scopes_abstract_sockets_and_signals)
{
    if (!s_need_abi (6, "landlock scopes"))
        return;
    char name[64], op[80];
    int listener = s_abstract_listener (name, sizeof name);
    snprintf (op, sizeof op, "abstract=%s", name);
    const char *argv[] = { s_probe, op, "kill", "socket-unix", NULL };
    /*  Baseline: without Landlock both reach the test process.             */
    run_t plain = { .layers = L_NNP, .argv = argv };
    result_t res;
    s_run (&plain, &res);
    EXPECT (&res, op, "ok");
    EXPECT (&res, "kill", "ok");
    ck_assert (s_accepted (listener));
    /*  Scoped: the test process is outside the task's domain. Landlock
        answers EPERM for scope violations.                                 */
    run_t scoped = { .layers = L_NNP | L_LANDLOCK, .argv = argv };
    s_run (&scoped, &res);
    EXPECT (&res, "socket-unix", "ok");
    EXPECT (&res, op, "errno=EPERM");
    EXPECT (&res, "kill", "errno=EPERM");
    ck_assert_msg (!s_accepted (listener), "the abstract listener saw a connection");
    close (listener);
}
END_TEST

/*  A worker running unprivileged shares its uid with its tasks, so only
    Landlock's ptrace rule keeps a task out of /proc/<worker>/environ (the
    canary secret of the issue) and /proc/<worker>/maps.                   */
START_TEST (landlock_hides_unprivileged_worker_proc)
{
    if (!s_need_abi (1, "landlock ptrace rule") || !s_need_root ("unprivileged worker"))
        return;
    const char *argv[] = { s_probe, "environ", "ptrace", "kill", "ids", NULL };
    result_t res;
    /*  Baseline: same uid, no Landlock: the environment is readable.      */
    s_run_as_unprivileged_worker (L_NNP, argv, &res);
    EXPECT (&res, "environ", "ok");
    EXPECT (&res, "kill", "ok");
    s_run_as_unprivileged_worker (L_NNP | L_CAPS | L_LANDLOCK, argv, &res);
    EXPECT (&res, "environ", "errno=EACCES");
    EXPECT (&res, "ptrace", "errno=EPERM");
    if (s_abi >= 6)
        EXPECT (&res, "kill", "errno=EPERM");
}
END_TEST

/*  ---- capabilities ----------------------------------------------------- */

START_TEST (caps_plan)
{
    char err[256];
    sbx_caps_plan_t plan;
    ck_assert_int_eq (sbx_caps_plan_init (&plan, false, 0, 0, err, sizeof err), 0);
    FILE *f = fopen ("/proc/sys/kernel/cap_last_cap", "re");
    ck_assert_ptr_nonnull (f);
    int last = -1;
    ck_assert_int_eq (fscanf (f, "%d", &last), 1);
    fclose (f);
    ck_assert_int_eq (plan.last_cap, last);
    ck_assert (!plan.switch_ids);
    ck_assert_int_eq (sbx_caps_plan_init (&plan, true, 0, 1000, err, sizeof err), -1);
    ck_assert_ptr_nonnull (strstr (err, "uid 0"));
    ck_assert_int_eq (sbx_caps_plan_init (&plan, true, 1000, 0, err, sizeof err), -1);
    if (geteuid () == 0) {
        ck_assert_int_eq (sbx_caps_plan_init (&plan, true, s_uid, s_gid, err, sizeof err), 0);
        ck_assert (plan.switch_ids && plan.have_setpcap);
    }
    else {
        ck_assert_int_eq (sbx_caps_plan_init (&plan, true, s_uid, s_gid, err, sizeof err), -1);
        ck_assert_ptr_nonnull (strstr (err, "CAP_SETUID"));
    }
}
END_TEST

START_TEST (caps_drop_as_root_leaves_nothing)
{
    if (!s_need_root ("caps drop with uid switch"))
        return;
    const char *argv[] = { s_probe, "capeff", "capprm", "capinh", "capbnd", "capamb", "ids",
                           "nnp", "securebits", "pdeathsig", "shadow", "environ", "kill",
                           "ptrace", NULL };
    run_t r = { .layers = L_NNP | L_CAPS, .switch_ids = true, .argv = argv };
    result_t res;
    s_run (&r, &res);
    s_expect_exit0 (&res);
    EXPECT (&res, "capeff", "0000000000000000");
    EXPECT (&res, "capprm", "0000000000000000");
    EXPECT (&res, "capinh", "0000000000000000");
    EXPECT (&res, "capbnd", "0000000000000000");
    EXPECT (&res, "capamb", "0000000000000000");
    char ids[64];
    snprintf (ids, sizeof ids, "%u,%u,%u/%u,%u,%u/0", (unsigned) s_uid, (unsigned) s_uid,
              (unsigned) s_uid, (unsigned) s_gid, (unsigned) s_gid, (unsigned) s_gid);
    EXPECT (&res, "ids", ids);
    EXPECT (&res, "nnp", "1");
    /*  NOROOT|NOROOT_LOCKED|KEEP_CAPS_LOCKED|NO_CAP_AMBIENT_RAISE(_LOCKED). */
    EXPECT (&res, "securebits", "227");
    /*  Re-armed after the uid switch, which clears it; survives execve.    */
    EXPECT (&res, "pdeathsig", "9");
    EXPECT (&res, "shadow", "errno=EACCES");
    EXPECT (&res, "environ", "errno=EACCES");
    EXPECT (&res, "kill", "errno=EPERM");
    EXPECT (&res, "ptrace", "errno=EPERM");
}
END_TEST

/*  The start-up helper empties the bounding set but leaves the worker's
    own capabilities alone; a task made afterwards ends up the same.       */
START_TEST (caps_clear_bounding_set_keeps_worker_caps)
{
    if (!s_need_root ("bounding set"))
        return;
    char err[256];
    /*  This is Check's forked process: changing it affects no other test. */
    ck_assert_msg (sbx_caps_clear_bounding_set (err, sizeof err) == 0, "%s", err);
    for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
        ck_assert_int_ne (prctl (PR_CAPBSET_READ, cap, 0, 0, 0), 1);
    sbx_caps_plan_t plan;
    ck_assert_msg (sbx_caps_plan_init (&plan, true, s_uid, s_gid, err, sizeof err) == 0,
                   "%s: the worker lost CAP_SETUID/CAP_SETGID", err);
    ck_assert (plan.have_setpcap);
    ck_assert_int_eq (sbx_caps_clear_bounding_set (err, sizeof err), 0);    /* twice */
    const char *argv[] = { s_probe, "capeff", "capprm", "capbnd", "ids", NULL };
    run_t r = { .layers = L_NNP | L_CAPS, .switch_ids = true, .vm = true, .argv = argv };
    result_t res;
    s_run (&r, &res);
    EXPECT (&res, "capeff", "0000000000000000");
    EXPECT (&res, "capprm", "0000000000000000");
    EXPECT (&res, "capbnd", "0000000000000000");
}
END_TEST

/*  A worker that is not root: no CAP_SETPCAP, no uid switch. The drop still
    succeeds; the bounding set stays (only CAP_SETPCAP may shrink it) and
    no_new_privs is what keeps execve from granting anything.              */
START_TEST (caps_drop_unprivileged_worker)
{
    if (!s_need_root ("unprivileged worker (made from root)"))
        return;
    const char *argv[] = { s_probe, "capeff", "capprm", "capbnd", "nnp", "securebits", NULL };
    result_t res;
    s_run_as_unprivileged_worker (L_NNP | L_CAPS, argv, &res);
    EXPECT (&res, "capeff", "0000000000000000");
    EXPECT (&res, "capprm", "0000000000000000");
    EXPECT (&res, "nnp", "1");
    EXPECT (&res, "securebits", "0");
    const char *bnd = s_get (&res, "capbnd");
    ck_assert_msg (bnd && strcmp (bnd, "0000000000000000") != 0, "%s", res.out);
}
END_TEST

/*  ---- everything together, spawned like the worker does ---------------- */

START_TEST (full_stack_in_vfork_child)
{
    bool root = geteuid () == 0;
    uint16_t port;
    int tcp = tu_tcp_listener (&port);
    char name[64];
    int unix_listener = s_abstract_listener (name, sizeof name);
    char conn[32], abstract[96], w_in[PATH_MAX + 16], w_out[PATH_MAX + 16];
    snprintf (conn, sizeof conn, "connect=%u", port);
    snprintf (abstract, sizeof abstract, "abstract=%s", name);
    snprintf (w_in, sizeof w_in, "write=%s/inside", s_ws);
    snprintf (w_out, sizeof w_out, "write=%s", s_canary);
    const char *argv[] = { s_probe, "-d", s_ws, "all", conn, "bind=0", abstract, w_in, w_out,
                           "exec=/usr/bin/true", NULL };
    unsigned layers = L_NNP | L_SECCOMP | (s_abi >= 1 ? L_LANDLOCK : 0) | L_CAPS;
    run_t r = { .layers = layers, .switch_ids = root, .vm = true, .argv = argv };
    result_t res;
    s_run (&r, &res);
    s_expect_exit0 (&res);

    EXPECT (&res, "fds", "");
    EXPECT (&res, "capeff", "0000000000000000");
    if (root)
        EXPECT (&res, "capbnd", "0000000000000000");
    EXPECT (&res, "nnp", "1");
    EXPECT (&res, "seccomp", "2");
    for (size_t i = 0; s_seccomp_denied[i]; i++)
        EXPECT (&res, s_seccomp_denied[i], "errno=EPERM");
    EXPECT (&res, "clone3", "errno=ENOSYS");
    EXPECT (&res, "fork", "ok");
    EXPECT (&res, "thread", "ok");
    EXPECT (&res, "socket-unix", "ok");
    EXPECT (&res, "passwd", "ok");
    EXPECT (&res, "exec=/usr/bin/true", "ok");
    EXPECT (&res, w_in, "ok");
    if (s_abi >= 1) {
        EXPECT (&res, w_out, "errno=EACCES");
        EXPECT (&res, "environ", "errno=EACCES");
        /*  No terminal is reachable: /dev/ptmx, /dev/tty are not in the
            domain and fd 0 is not a tty, so TIOCSTI cannot even be tried. */
        EXPECT (&res, "TIOCSTI", "skip errno=EACCES");
    }
    if (root)
        EXPECT (&res, "shadow", "errno=EACCES");
    /*  socket (AF_INET) is refused first, by the filter.                  */
    EXPECT (&res, conn, "errno=EPERM");
    EXPECT (&res, "bind=0", "errno=EPERM");
    if (s_abi >= 6) {
        EXPECT (&res, abstract, "errno=EPERM");
        EXPECT (&res, "kill", "errno=EPERM");
    }
    ck_assert (!s_accepted (tcp));
    ck_assert (!s_accepted (unix_listener));
    ck_assert (s_canary_intact ());
    close (tcp);
    close (unix_listener);

    /*  And the foreign-architecture kill, through the same spawn path.     */
    const char *x32[] = { s_probe, "nnp", "x32", NULL };
    run_t rx = { .layers = layers, .switch_ids = root, .vm = true, .argv = x32 };
    s_run (&rx, &res);
    EXPECT (&res, "nnp", "1");
    ck_assert_msg (WIFSIGNALED (res.status) && WTERMSIG (res.status) == SIGSYS,
                   "status 0x%x", res.status);
}
END_TEST

/*  The deny-list must not break what tasks are: sh, bash, python3 and
    coreutils, with threads, subprocesses, pipes, renames in the workspace. */
START_TEST (full_stack_runs_shells_and_python)
{
    bool root = geteuid () == 0;
    unsigned layers = L_NNP | L_SECCOMP | (s_abi >= 1 ? L_LANDLOCK : 0) | L_CAPS;
    char sh_script[PATH_MAX * 2];
    snprintf (sh_script, sizeof sh_script,
              "set -e; cd '%s'; echo hello > a; mkdir -p d/e; mv a d/e/b; cat d/e/b;"
              " ln -s d/e/b link; cat link >/dev/null; rm -r d link;"
              " ls /usr/bin >/dev/null; cat /etc/passwd | wc -l >/dev/null;"
              " echo x | tr x y; id -u >/dev/null; echo sh-ok", s_ws);
    const char *sh[] = { "/bin/sh", "-c", sh_script, NULL };
    run_t r = { .layers = layers, .switch_ids = root, .vm = true, .argv = sh };
    result_t res;
    s_run (&r, &res);
    s_expect_exit0 (&res);
    ck_assert_ptr_nonnull (strstr (res.out, "hello\ny\nsh-ok\n"));

    const char *bash[] = { "/bin/bash", "-c",
                           "cat <(echo procsub) && read v < <(echo fd) && echo $v"
                           " && (sleep 0 &) && wait && echo bash-ok", NULL };
    r.argv = bash;
    s_run (&r, &res);
    s_expect_exit0 (&res);
    ck_assert_ptr_nonnull (strstr (res.out, "procsub\nfd\nbash-ok\n"));

    char py_script[PATH_MAX * 2];
    snprintf (py_script, sizeof py_script,
              "import os, subprocess, threading, socket, json, tempfile\n"
              "os.chdir('%s')\n"
              "out = []\n"
              "t = threading.Thread(target=lambda: out.append(1)); t.start(); t.join()\n"
              "p = subprocess.run(['/bin/echo', 'child'], capture_output=True, check=True)\n"
              "a, b = socket.socketpair(); a.send(b'x'); assert b.recv(1) == b'x'\n"
              "try:\n"
              "    socket.socket(socket.AF_INET)\n"
              "    print('inet-allowed')\n"
              "except PermissionError:\n"
              "    pass\n"
              "with tempfile.TemporaryDirectory(dir='.') as d:\n"
              "    open(os.path.join(d, 'f'), 'w').write(json.dumps(out))\n"
              "try:\n"
              "    open('/tmp/cleudo-iso-py-escape', 'w')\n"
              "    print('escaped')\n"
              "except PermissionError:\n"
              "    pass\n"
              "print('py-ok', p.stdout.decode().strip(), len(out))\n", s_ws);
    const char *py[] = { "/usr/bin/python3", "-c", py_script, NULL };
    if (access ("/usr/bin/python3", X_OK) == 0) {
        r.argv = py;
        s_run (&r, &res);
        s_expect_exit0 (&res);
        ck_assert_ptr_nonnull (strstr (res.out, "py-ok child 1\n"));
        ck_assert_ptr_null (strstr (res.out, "inet-allowed"));
        if (s_abi >= 1)
            ck_assert_ptr_null (strstr (res.out, "escaped"));
    }
}
END_TEST

/*  ---- cost ------------------------------------------------------------- */

/*  µs of one clone(CLONE_VM|CLONE_VFORK) + layers + execve /bin/true +
    waitpid, with everything prepared beforehand.                          */
static double
s_spawn_once (unsigned layers, const sbx_caps_plan_t *plan, int ruleset, int devnull)
{
    static char *argv[] = { "/bin/true", NULL };
    child_t c = { .layers = layers, .plan = plan, .ruleset_fd = ruleset,
                  .prog = sbx_seccomp_prog (s_seccomp, false), .out_fd = devnull,
                  .path = "/bin/true", .argv = argv, .envp = s_env };
    double start = tu_now_us ();
    pid_t pid = s_spawn (&c, true);
    ck_assert_int_gt (pid, 0);
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    double us = tu_now_us () - start;
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
                   "layers 0x%x: status 0x%x", layers, status);
    return us;
}

/*  Per-call cost of the filter, in a forked child: getppid in a loop.      */
static double
s_syscall_cost (bool filtered)
{
    int pipefd[2];
    ck_assert_int_eq (pipe2 (pipefd, O_CLOEXEC), 0);
    pid_t pid = fork ();
    if (pid == 0) {
        if (filtered && (sbx_caps_child_no_new_privs () < 0
                         || sbx_seccomp_child_install (sbx_seccomp_prog (s_seccomp, false)) < 0))
            _exit (1);
        const int n = 200000;
        double start = tu_now_us ();
        for (int i = 0; i < n; i++)
            syscall (SYS_getppid);
        double ns = (tu_now_us () - start) * 1000.0 / n;
        ssize_t w = write (pipefd[1], &ns, sizeof ns);
        _exit (w == (ssize_t) sizeof ns ? 0 : 2);
    }
    close (pipefd[1]);
    double ns = -1;
    ck_assert_int_eq (read (pipefd[0], &ns, sizeof ns), (ssize_t) sizeof ns);
    close (pipefd[0]);
    int status;
    waitpid (pid, &status, 0);
    return ns;
}

/*  Printed, not asserted: for the README and `make bench`. The
    configurations are interleaved round by round and the median is kept,
    so that load from elsewhere hits them all alike.                       */
START_TEST (cost_per_layer)
{
    enum { ROUNDS = 400, CONFIGS = 6 };
    bool root = geteuid () == 0;
    bool ll = s_abi >= 1;
    char err[512];
    sbx_caps_plan_t keep_uid, plan;
    ck_assert_int_eq (sbx_caps_plan_init (&keep_uid, false, 0, 0, err, sizeof err), 0);
    ck_assert_int_eq (sbx_caps_plan_init (&plan, root, s_uid, s_gid, err, sizeof err), 0);
    const char *extra[] = { s_extra, NULL };
    sbx_landlock_spec_t spec = { .workspace = s_ws, .workspace_fd = -1, .extra_rw = extra,
                                 .abi = s_abi };
    int devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    const unsigned ll_layer = ll ? L_LANDLOCK : 0;
    const struct {
        const char *name;
        unsigned layers;
        const sbx_caps_plan_t *plan;
    } cfg[CONFIGS] = {
        { "bare", 0, &plan },
        { "+ no_new_privs", L_NNP, &plan },
        { "+ caps drop (uid kept)", L_NNP | L_CAPS, &keep_uid },
        { root ? "+ caps drop + uid switch" : "+ caps drop", L_NNP | L_CAPS, &plan },
        { ll ? "+ landlock (ruleset ready)" : "+ landlock (unavailable)",
          L_NNP | L_CAPS | ll_layer, &plan },
        { "+ seccomp (program ready)", L_NNP | L_CAPS | ll_layer | L_SECCOMP, &plan },
    };
    static double t[CONFIGS][ROUNDS], prep[ROUNDS];
    for (int r = -20; r < ROUNDS; r++) {            /* 20 rounds of warm-up */
        int ruleset = -1;
        double t0 = tu_now_us ();
        if (ll)
            ck_assert_int_eq (sbx_landlock_prepare (&spec, &ruleset, err, sizeof err), 0);
        double p = tu_now_us () - t0;
        for (int k = 0; k < CONFIGS; k++) {
            double us = s_spawn_once (cfg[k].layers, cfg[k].plan, ruleset, devnull);
            if (r >= 0)
                t[k][r] = us;
        }
        if (ruleset >= 0)
            close (ruleset);
        if (r >= 0)
            prep[r] = p;
    }
    close (devnull);
    fprintf (stderr, "cost: clone(CLONE_VM|CLONE_VFORK) + layers + execve(/bin/true) + wait,"
             " median of %d rounds, µs\n", ROUNDS);
    double prev = 0;
    for (int k = 0; k < CONFIGS; k++) {
        double m = tu_median (t[k], ROUNDS);
        fprintf (stderr, "  %-28s %7.1f", cfg[k].name, m);
        if (k == 2 || k == 3)
            fprintf (stderr, "  (+%.1f over no_new_privs)\n", m - tu_median (t[1], ROUNDS));
        else if (k > 0)
            fprintf (stderr, "  (+%.1f)\n", m - prev);
        else
            fprintf (stderr, "\n");
        if (k != 2)
            prev = m;
    }
    /*  The same after sbx_caps_clear_bounding_set, as a worker would call
        it at start-up (this test's process is Check's fork, thrown away). */
    if (plan.have_setpcap) {
        ck_assert_msg (sbx_caps_clear_bounding_set (err, sizeof err) == 0, "%s", err);
        int fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
        static double bare[ROUNDS / 2], dropped[ROUNDS / 2];
        for (int r = 0; r < ROUNDS / 2; r++) {
            bare[r] = s_spawn_once (0, &plan, -1, fd);
            dropped[r] = s_spawn_once (L_NNP | L_CAPS, &plan, -1, fd);
        }
        close (fd);
        double b = tu_median (bare, ROUNDS / 2), d = tu_median (dropped, ROUNDS / 2);
        fprintf (stderr, "  after sbx_caps_clear_bounding_set at start: bare %.1f,"
                 " no_new_privs + %s %.1f (+%.1f)\n", b,
                 root ? "caps drop + uid switch" : "caps drop", d, d - b);
    }
    fprintf (stderr, "  all layers over bare         %+7.1f\n",
             tu_median (t[CONFIGS - 1], ROUNDS) - tu_median (t[0], ROUNDS));
    if (ll) {
        fprintf (stderr, "  landlock ruleset, prepared per task in the parent: %.1f",
                 tu_median (prep, ROUNDS));
        ck_assert_msg (sbx_landlock_cache_system (err, sizeof err) == 0, "%s", err);
        for (int r = 0; r < ROUNDS; r++) {
            int ruleset = -1;
            double t0 = tu_now_us ();
            ck_assert_int_eq (sbx_landlock_prepare (&spec, &ruleset, err, sizeof err), 0);
            close (ruleset);
            prep[r] = tu_now_us () - t0;
        }
        fprintf (stderr, ", %.1f with sbx_landlock_cache_system\n", tu_median (prep, ROUNDS));
    }
    double t0 = tu_now_us ();
    sbx_seccomp_t *sc = sbx_seccomp_new (err, sizeof err);
    double compile = tu_now_us () - t0;
    sbx_seccomp_destroy (&sc);
    fprintf (stderr, "  seccomp_new, both programs, once at start: %.0f\n", compile);
    double sys_plain = s_syscall_cost (false), sys_filtered = s_syscall_cost (true);
    fprintf (stderr, "  getppid: %.0f ns plain, %.0f ns under the filter\n",
             sys_plain, sys_filtered);
}
END_TEST

/*  ---- runner ----------------------------------------------------------- */

/*  The probe: $CLEUDO_PROBE, else build/test/try-syscall (rebuilt when
    older than its source).                                                 */
static int
s_find_probe (void)
{
    const char *env = getenv ("CLEUDO_PROBE");
    const char *bin = env && *env ? env : "build/test/try-syscall";
    const char *src = "test/probe/try-syscall.c";
    struct stat sb, ss;
    if (!(env && *env) && stat (src, &ss) == 0
        && (stat (bin, &sb) != 0 || sb.st_mtime < ss.st_mtime)) {
        fprintf (stderr, "building %s\n", bin);
        if (system ("mkdir -p build/test && cc -O2 -o build/test/try-syscall "
                    "test/probe/try-syscall.c") != 0) {
            fprintf (stderr, "test_isolation: cannot build the probe\n");
            return -1;
        }
    }
    if (!realpath (bin, s_probe_src) || access (s_probe_src, X_OK) != 0) {
        fprintf (stderr, "test_isolation: no probe at %s (set CLEUDO_PROBE, or run from the"
                 " repository root)\n", bin);
        return -1;
    }
    return 0;
}

int
main (void)
{
    if (s_find_probe () < 0)
        return 1;
    const char *uid = getenv ("CLEUDO_TEST_UID");
    if (uid && *uid)
        s_uid = s_gid = (uid_t) atoi (uid);
    s_abi = sbx_landlock_abi ();
    s_abi_errno = s_abi < 0 ? errno : 0;
    char err[256];
    s_seccomp = sbx_seccomp_new (err, sizeof err);
    if (!s_seccomp) {
        fprintf (stderr, "test_isolation: %s\n", err);
        return 1;
    }
    if (geteuid () != 0)
        fprintf (stderr, "test_isolation: not root: uid-switch and baseline cases SKIP\n");

    Suite *s = suite_create ("isolation");
    TCase *tc = tcase_create ("seccomp");
    tcase_add_unchecked_fixture (tc, s_case_setup, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, seccomp_compiles_two_programs);
    tcase_add_test (tc, probe_baseline_as_root_succeeds);
    tcase_add_test (tc, seccomp_denies_with_eperm);
    tcase_add_test (tc, seccomp_network_variant_allows_inet_only);
    tcase_add_test (tc, seccomp_kills_x32);
    tcase_add_test (tc, seccomp_kills_i386);
    suite_add_tcase (s, tc);

    tc = tcase_create ("landlock");
    tcase_add_unchecked_fixture (tc, s_case_setup, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, landlock_abi_and_bad_specs);
    tcase_add_test (tc, landlock_confines_files_even_for_root);
    tcase_add_test (tc, landlock_workspace_as_fd);
    tcase_add_test (tc, landlock_cached_system_entries);
    tcase_add_test (tc, landlock_denies_tcp_without_network);
    tcase_add_test (tc, landlock_scopes_abstract_sockets_and_signals);
    tcase_add_test (tc, landlock_hides_unprivileged_worker_proc);
    suite_add_tcase (s, tc);

    tc = tcase_create ("caps");
    tcase_add_unchecked_fixture (tc, s_case_setup, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, caps_plan);
    tcase_add_test (tc, caps_drop_as_root_leaves_nothing);
    tcase_add_test (tc, caps_clear_bounding_set_keeps_worker_caps);
    tcase_add_test (tc, caps_drop_unprivileged_worker);
    suite_add_tcase (s, tc);

    tc = tcase_create ("full");
    tcase_add_unchecked_fixture (tc, s_case_setup, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, full_stack_in_vfork_child);
    tcase_add_test (tc, full_stack_runs_shells_and_python);
    tcase_add_test (tc, cost_per_layer);
    suite_add_tcase (s, tc);

    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    sbx_seccomp_destroy (&s_seccomp);
    return failed ? 1 : 0;
}
