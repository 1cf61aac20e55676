/*  test_ns.c - namespaces (sbx_ns) and per-task cgroups (sbx_cgroup),
    proved from inside and from the host.

    Each test spawns real tasks the way the worker will: a CLONE_VM |
    CLONE_VFORK child A joins the slot's namespaces and starts the task B
    (CLONE_PARENT, new PID/mount/IPC/UTS namespaces), which joins its
    cgroup, builds the minimal root and execs /bin/sh scripts, python3 or
    the syscall probe (build/test/try-syscall, copied into the workspace:
    the only non-system place a task sees). Assertions are made on what the
    task printed AND on the host: its host uid in /proc/PID/status, files in
    the workspace, a TCP listener that must see nothing, leftover
    processes, the cgroup directories.

    Needs root for the per-slot uids and the cgroup cases (they say SKIP
    otherwise); the "unprivileged worker" case drops a forked stand-in to
    uid 65534 with no capabilities and runs the same checks, the path a
    non-root worker in a container takes. The cost case prints, never
    asserts.
*/
#define _GNU_SOURCE
#include "../../services/agent-sandbox/sbx_caps.h"
#include "../../services/agent-sandbox/sbx_cgroup.h"
#include "../../services/agent-sandbox/sbx_landlock.h"
#include "../../services/agent-sandbox/sbx_ns.h"
#include "../../services/agent-sandbox/sbx_seccomp.h"

#include "testutil.h"
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/*  Code of the children between clone and execve (see child.c).          */
#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

#define UID_BASE 230000                 /* per-slot host uids of this test */
#define SLOTS 2

static char s_probe_src[PATH_MAX];      /* build/test/try-syscall */
static sbx_ns_caps_t s_caps;            /* probed once in main */
static sbx_seccomp_t *s_seccomp;        /* compiled once in main */
static int s_abi;                       /* Landlock ABI or -1 */

/*  Per test case (unchecked fixture, in the runner: removed even when a
    test failed): a base directory and the name of the tests' cgroup.       */
static char s_case_base[64];            /* /var/tmp/cleudo-ns-XXXXXX */
static char s_cg_name[64];              /* cleudo-test-<runner pid> */
static sbx_cgroup_config_t s_cg_config; /* names it */
/*  Per test (checked fixture, in the test's process).                     */
static char s_base[128];                /* s_case_base/t-XXXXXX: work_dir */
static char s_ws[2][192];               /* a workspace per slot */
static int s_ws_fd[2] = { -1, -1 };
static sbx_ns_t *s_ns;                  /* SLOTS slots, every available layer */

/*  ---- helpers --------------------------------------------------------- */

static bool
s_root (const char *what)
{
    if (geteuid () == 0 && s_caps.per_slot_ids)
        return true;
    fprintf (stderr, "SKIP %s: needs root (per-slot uid mapping)\n", what);
    return false;
}

static bool
s_layers (unsigned need, const char *what)
{
    unsigned have = sbx_ns_layers (s_ns);
    if ((have & need) == need)
        return true;
    fprintf (stderr, "SKIP %s: namespace layers 0x%x needed, 0x%x available\n", what,
             need, have);
    return false;
}

#define L(x) SBX_NS_BIT (SBX_NS_##x)
#define L_ALL (L (USER) | L (PID) | L (MOUNT) | L (NET) | L (IPC) | L (UTS) | L (PROC))

/*  A workspace directory (0700), owned by the task's host ids.           */
static void
s_make_ws (int i, uid_t uid, gid_t gid)
{
    snprintf (s_ws[i], sizeof s_ws[i], "%s/ws%d", s_base, i);
    ck_assert_int_eq (mkdir (s_ws[i], 0700), 0);
    char probe[256];
    snprintf (probe, sizeof probe, "%s/try-syscall", s_ws[i]);
    tu_copy_file (s_probe_src, probe, 0755);
    s_ws_fd[i] = open (s_ws[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge (s_ws_fd[i], 0);
    if (geteuid () == 0)
        ck_assert_int_eq (sbx_ns_chown_tree (s_ws_fd[i], uid, gid), 0);
}

/*  /var/tmp, not /tmp: a workspace at its real path must not lie in the
    minimal root's own /tmp.                                                */
static void
s_case_setup (void)
{
    snprintf (s_case_base, sizeof s_case_base, "/var/tmp/cleudo-ns-XXXXXX");
    if (!mkdtemp (s_case_base) || chmod (s_case_base, 0755) < 0) {
        fprintf (stderr, "test_ns: %s: %s\n", s_case_base, strerror (errno));
        exit (1);
    }
}

/*  Whatever a failed test left: its directories; its cgroups (making the
    group again removes a stale one of that name, killing what is in it). */
static void
s_case_teardown (void)
{
    tu_rm_rf (s_case_base);
    char err[256];
    sbx_cgroup_t *cg = sbx_cgroup_new (&s_cg_config, NULL, err, sizeof err);
    sbx_cgroup_destroy (&cg);
}

static void
s_setup (void)
{
    snprintf (s_base, sizeof s_base, "%s/t-XXXXXX", s_case_base);
    ck_assert_ptr_nonnull (mkdtemp (s_base));
    ck_assert_int_eq (chmod (s_base, 0755), 0);
    char err[512] = "";
    sbx_ns_config_t cfg = { .uid_base = UID_BASE, .gid_base = UID_BASE, .work_dir = s_base };
    s_ns = sbx_ns_new (&cfg, &s_caps, SLOTS, err, sizeof err);
    ck_assert_msg (s_ns != NULL, "%s", err);
    for (int i = 0; i < SLOTS; i++)
        s_make_ws (i, s_caps.per_slot_ids ? UID_BASE + (uid_t) i : geteuid (),
                   s_caps.per_slot_ids ? UID_BASE + (gid_t) i : getegid ());
}

static void
s_teardown (void)
{
    for (int i = 0; i < SLOTS; i++)
        if (s_ws_fd[i] >= 0) {
            close (s_ws_fd[i]);
            s_ws_fd[i] = -1;
        }
    sbx_ns_destroy (&s_ns);
    tu_rm_rf (s_base);
}

/*  ---- spawning like the worker --------------------------------------- */

enum {                                  /* extra layers of the child, beyond namespaces */
    X_CAPS = 1 << 0,                    /* no_new_privs + sbx_caps_child_drop */
    X_LANDLOCK = 1 << 1,                /* + sbx_ns rules + landlock_restrict_self */
    X_SECCOMP = 1 << 2,                 /* last before execve */
    X_NO_NS = 1 << 3,                   /* plain one-stage child: no sbx_ns at all */
};

typedef struct {
    sbx_ns_task_t *nt;                  /* prepared namespaces */
    const sbx_cgroup_task_t *ct;        /* cgroup to join, or NULL */
    unsigned extra;                     /* X_* */
    const sbx_caps_plan_t *plan;        /* X_CAPS */
    int ruleset_fd;                     /* X_LANDLOCK */
    const struct sock_fprog *prog;      /* X_SECCOMP */
    int in_fd;                          /* becomes stdin */
    int out_fd;                         /* becomes stdout and stderr */
    uint64_t nproc;                     /* RLIMIT_NPROC when > 0 */
    const char *path;
    char *const *argv;
    char *const *envp;
    const sigset_t *mask;               /* to restore in the task */
    volatile long task;                 /* B's pid, written by A */
    volatile int fail_step;             /* first failure: where ... */
    volatile int fail_err;              /* ... and -errno */
    volatile const char *fail_what;
} spawn_t;

typedef struct {
    uint64_t handler;
    uint64_t flags;
    uint64_t restorer;
    uint64_t mask;
} k_sigaction_t;

CHILD_CODE static void
s_child_fail (spawn_t *s, const char *what, int step, int err)
{
    s->fail_what = what;
    s->fail_step = step;
    s->fail_err = err;
    syscall (SYS_exit_group, 127);
}

/*  B: the task. The order the lead's child.c is asked to use.             */
CHILD_CODE static int
s_child_b (void *arg)
{
    spawn_t *s = arg;
    int rc, step = 0;
    k_sigaction_t dfl = { 0, 0, 0, 0 };
    for (long sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall (SYS_rt_sigaction, sig, &dfl, NULL, 8);
    /*  Only the task's own processes in its group: first of all.          */
    if (s->ct && (rc = sbx_cgroup_child_join (s->ct)) < 0)
        s_child_fail (s, "cgroup_join", 0, rc);
    if (!(s->extra & X_NO_NS) && (rc = sbx_ns_child_setup (s->nt, &step)) < 0)
        s_child_fail (s, "ns_setup", step, rc);
    if (syscall (SYS_setsid) < 0)
        s_child_fail (s, "setsid", 0, -errno);
    if (syscall (SYS_dup2, s->in_fd, 0) < 0 || syscall (SYS_dup2, s->out_fd, 1) < 0
        || syscall (SYS_dup2, s->out_fd, 2) < 0)
        s_child_fail (s, "stdio", 0, -errno);
    if (syscall (SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        s_child_fail (s, "close_range", 0, -errno);
    if (s->nproc) {
        uint64_t lim[2] = { s->nproc, s->nproc };
        if (syscall (SYS_prlimit64, 0, RLIMIT_NPROC, lim, NULL) < 0)
            s_child_fail (s, "rlimits", 0, -errno);
    }
    if ((s->extra & X_CAPS) && ((rc = sbx_caps_child_no_new_privs ()) < 0
                                || (rc = sbx_caps_child_drop (s->plan)) < 0))
        s_child_fail (s, "caps", 0, rc);
    /*  Landlock after the mounts (a Landlocked process may not change its
        mounts) and with rules for what the new root mounted fresh.         */
    if ((s->extra & X_LANDLOCK)
        && ((rc = sbx_ns_child_landlock_rules (s->nt, s->ruleset_fd)) < 0
            || (rc = sbx_landlock_child_restrict (s->ruleset_fd)) < 0))
        s_child_fail (s, "landlock", 0, rc);
    syscall (SYS_rt_sigprocmask, SIG_SETMASK, s->mask, NULL, 8);
    /*  Last before execve, so the filter need allow nothing above.        */
    if ((s->extra & X_SECCOMP) && (rc = sbx_seccomp_child_install (s->prog)) < 0)
        s_child_fail (s, "seccomp", 0, rc);
    syscall (SYS_execve, s->path, s->argv, s->envp);
    s_child_fail (s, "exec", 0, -errno);
    return 127;
}

/*  A: the worker's vfork child: join, start B, report its pid, leave.    */
CHILD_CODE static int
s_child_a (void *arg)
{
    spawn_t *s = arg;
    if (s->extra & X_NO_NS)
        return s_child_b (arg);
    int step = 0;
    int rc = sbx_ns_child_join (s->nt, &step);
    if (rc < 0)
        s_child_fail (s, "ns_join", step, rc);
    long pid = sbx_ns_child_clone (s->nt, s_child_b, s);
    if (pid < 0)
        s_child_fail (s, "ns_clone", 0, (int) pid);
    s->task = pid;
    return 0;
}

static char s_stack_a[256 * 1024] __attribute__ ((aligned (64)));

/*  Spawn; returns the task's pid (a child of this process), or -1 with
    the failure in s.                                                      */
static pid_t
s_spawn (spawn_t *s)
{
    sigset_t all, old;
    sigfillset (&all);
    sigprocmask (SIG_SETMASK, &all, &old);
    s->mask = &old;
    s->task = 0;
    s->fail_what = NULL;
    pid_t a = clone (s_child_a, s_stack_a + sizeof s_stack_a, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
    sigprocmask (SIG_SETMASK, &old, NULL);
    ck_assert_int_gt (a, 0);
    if (s->extra & X_NO_NS)
        return s->fail_what ? (waitpid (a, NULL, 0), -1) : a;
    int status;
    ck_assert_int_eq (waitpid (a, &status, 0), a);
    if (s->fail_what) {
        if (s->task > 0)
            waitpid ((pid_t) s->task, NULL, 0);
        return -1;
    }
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "A: status 0x%x", status);
    return (pid_t) s->task;
}

/*  One running task with its output pipe.                                 */
typedef struct {
    pid_t pid;
    int fd;                             /* read end of stdout+stderr */
    char out[65536];
    size_t used;
    int status;
    sbx_ns_task_t nt;
} task_t;

static char *s_env[] = { "PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL, NULL };

typedef struct {
    sbx_ns_t *ns;                       /* NULL: s_ns */
    size_t slot;
    bool network;
    const sbx_cgroup_task_t *ct;
    unsigned extra;
    uint64_t nproc;                     /* RLIMIT_NPROC, 0: none */
    const char *const *argv;            /* argv[0] absolute */
} run_t;

static void
s_start (const run_t *r, task_t *t)
{
    memset (t, 0, sizeof *t);
    sbx_ns_t *ns = r->ns ? r->ns : s_ns;
    char err[512] = "";
    sbx_ns_task_spec_t spec = { .workspace = s_ws[r->slot], .workspace_fd = s_ws_fd[r->slot],
                                .network = r->network,
                                .landlock_abi = (r->extra & X_LANDLOCK) ? s_abi : 0 };
    ck_assert_msg (sbx_ns_task_prepare (ns, r->slot, &spec, &t->nt, err, sizeof err) == 0,
                   "%s", err);
    static char home[PATH_MAX + 8];
    snprintf (home, sizeof home, "HOME=%s", t->nt.workspace_inside);
    s_env[2] = home;
    sbx_caps_plan_t plan;
    memset (&plan, 0, sizeof plan);
    if (r->extra & X_CAPS) {
        ck_assert_msg (sbx_caps_plan_init (&plan, false, 0, 0, err, sizeof err) == 0, "%s", err);
        /*  B holds every capability of the slot's user namespace.          */
        if (t->nt.layers & L (USER))
            plan.have_setpcap = true;
        plan.pdeath_signal = SIGKILL;
        plan.parent = 0;                /* getppid () is 0 in a new PID namespace */
    }
    int ruleset = -1;
    if (r->extra & X_LANDLOCK) {
        sbx_landlock_spec_t ls = { .workspace = s_ws[r->slot], .workspace_fd = -1,
                                   .network = r->network, .abi = s_abi };
        ck_assert_msg (sbx_landlock_prepare (&ls, &ruleset, err, sizeof err) == 0, "%s", err);
    }
    int pipefd[2];
    ck_assert_int_eq (pipe2 (pipefd, O_CLOEXEC), 0);
    int devnull = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge (devnull, 0);
    spawn_t s = {
        .nt = &t->nt, .ct = r->ct, .extra = r->extra, .plan = &plan, .ruleset_fd = ruleset,
        .prog = s_seccomp ? sbx_seccomp_prog (s_seccomp, r->network) : NULL,
        .in_fd = devnull, .out_fd = pipefd[1], .nproc = r->nproc, .path = r->argv[0],
        .argv = (char *const *) r->argv, .envp = s_env,
    };
    t->pid = s_spawn (&s);
    close (pipefd[1]);
    close (devnull);
    if (ruleset >= 0)
        close (ruleset);
    t->fd = pipefd[0];
    ck_assert_msg (t->pid > 0, "spawn failed at %s/%s: %s", s.fail_what,
                   sbx_ns_step_name (s.fail_step), strerror (-s.fail_err));
}

/*  Read until the output holds `want` (or EOF / timeout).                 */
static void
s_read_until (task_t *t, const char *want, int timeout_ms)
{
    double end = tu_now_us () + timeout_ms * 1000.0;
    while (t->fd >= 0 && (!want || !strstr (t->out, want))) {
        int left = (int) ((end - tu_now_us ()) / 1000.0);
        if (left <= 0)
            break;
        struct pollfd p = { t->fd, POLLIN, 0 };
        if (poll (&p, 1, left) <= 0)
            continue;
        ssize_t n = read (t->fd, t->out + t->used, sizeof t->out - 1 - t->used);
        if (n <= 0) {
            close (t->fd);
            t->fd = -1;
            break;
        }
        t->used += (size_t) n;
        t->out[t->used] = '\0';
    }
}

static void
s_finish (task_t *t)
{
    s_read_until (t, NULL, 20000);
    if (t->fd >= 0) {
        close (t->fd);
        t->fd = -1;
    }
    ck_assert_int_eq (waitpid (t->pid, &t->status, 0), t->pid);
}

static void
s_run (const run_t *r, task_t *t)
{
    s_start (r, t);
    s_finish (t);
}

static void
s_sh (const char *script, task_t *t, size_t slot)
{
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    run_t r = { .slot = slot, .argv = argv };
    s_run (&r, t);
}

#define EXPECT_EXIT0(t)                                                          \
    ck_assert_msg (WIFEXITED ((t)->status) && WEXITSTATUS ((t)->status) == 0,       \
                   "status 0x%x, output:\n%s", (t)->status, (t)->out)

/*  "key=value" or "key value" line of the output.                         */
static const char *
s_line (const char *out, const char *key)
{
    static char value[512];
    size_t len = strlen (key);
    for (const char *line = out; *line; ) {
        const char *end = strchr (line, '\n');
        if (!end)
            end = line + strlen (line);
        if ((size_t) (end - line) > len && strncmp (line, key, len) == 0
            && (line[len] == ' ' || line[len] == '=')) {
            size_t v = (size_t) (end - line) - len - 1;
            if (v >= sizeof value)
                v = sizeof value - 1;
            memcpy (value, line + len + 1, v);
            value[v] = '\0';
            return value;
        }
        line = *end ? end + 1 : end;
    }
    return NULL;
}

#define EXPECT(t, key, want)                                                     \
    do {                                                                         \
        const char *got_ = s_line ((t)->out, (key));                            \
        ck_assert_msg (got_ && strcmp (got_, (want)) == 0,                       \
                       "%s: want \"%s\", got \"%s\"\n--- output ---\n%s", (key),  \
                       (want), got_ ? got_ : "(none)", (t)->out);                 \
    } while (0)

/*  Field of /proc/PID/status on the host ("Uid", "Gid", ...).             */
static void
s_status_field (pid_t pid, const char *field, char *out, size_t size)
{
    char path[64], buf[8192];
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

static void
s_dump_caps (void)
{
    char line[512];
    for (int l = 0; l < SBX_NS_LAYER_COUNT; l++) {
        sbx_ns_caps_line (&s_caps, l, line, sizeof line);
        fprintf (stderr, "  %s\n", line);
    }
}

/*  ---- probe ------------------------------------------------------------ */

START_TEST (probe_reports_every_layer)
{
    fprintf (stderr, "namespace probe (uid %u):\n", (unsigned) geteuid ());
    s_dump_caps ();
    for (int l = 0; l < SBX_NS_LAYER_COUNT; l++) {
        ck_assert_str_ne (sbx_ns_layer_name (l), "unknown");
        ck_assert_msg (s_caps.detail[l][0], "layer %s has no detail", sbx_ns_layer_name (l));
        ck_assert_int_eq (s_caps.available[l], s_caps.err[l] == 0);
    }
    ck_assert_str_eq (sbx_ns_layer_name (SBX_NS_USER), "userns");
    ck_assert_str_eq (sbx_ns_layer_name (SBX_NS_PROC), "procfs");
    /*  This project's machines (root on a bare VM, kernel 6.x) have all.   */
    if (geteuid () == 0 && s_caps.privileged)
        for (int l = 0; l < SBX_NS_LAYER_COUNT; l++)
            ck_assert_msg (s_caps.available[l], "%s unavailable as root: %s",
                           sbx_ns_layer_name (l), s_caps.detail[l]);
    ck_assert_int_eq (sbx_ns_layers (s_ns) & L_ALL, L_ALL & sbx_ns_layers (s_ns));
}
END_TEST

START_TEST (bad_configs_are_refused)
{
    char err[512];
    sbx_ns_config_t cfg = { .root_base = "tmp" };
    ck_assert_ptr_null (sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err));
    ck_assert_msg (strstr (err, "root_base"), "%s", err);
    cfg.root_base = "/usr/lib";
    ck_assert_ptr_null (sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err));
    ck_assert_msg (strstr (err, "inside /usr"), "%s", err);
    cfg.root_base = NULL;
    cfg.workspace_at = "work";
    ck_assert_ptr_null (sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err));
    ck_assert_msg (strstr (err, "workspace_at"), "%s", err);
    ck_assert_ptr_null (sbx_ns_new (NULL, &s_caps, 0, err, sizeof err));
    if (!(sbx_ns_layers (s_ns) & L (MOUNT)))
        return;
    /*  A work directory inside the minimal root's own /tmp.                */
    char dir[] = "/tmp/cleudo-ns-ws-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));
    cfg.workspace_at = NULL;
    cfg.work_dir = dir;
    ck_assert_ptr_null (sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err));
    ck_assert_msg (strstr (err, "collides"), "%s", err);
    /*  A workspace outside work_dir.                                       */
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    sbx_ns_task_t *t = calloc (1, sizeof *t);
    sbx_ns_task_spec_t spec = { .workspace = dir, .workspace_fd = fd };
    ck_assert_int_eq (sbx_ns_task_prepare (s_ns, 0, &spec, t, err, sizeof err), -1);
    ck_assert_msg (strstr (err, "not directly inside the work_dir"), "%s", err);
    spec.workspace_fd = s_ws_fd[0];
    ck_assert_int_eq (sbx_ns_task_prepare (s_ns, SLOTS, &spec, t, err, sizeof err), -1);
    ck_assert_msg (strstr (err, "slot"), "%s", err);
    close (fd);
    rmdir (dir);
    free (t);
}
END_TEST

START_TEST (chown_tree_does_not_follow_links)
{
    if (geteuid () != 0) {
        fprintf (stderr, "SKIP chown_tree: needs root\n");
        return;
    }
    char outside[256], link[256], sub[256], file[256];
    snprintf (outside, sizeof outside, "%s/outside", s_base);
    snprintf (link, sizeof link, "%s/link", s_ws[0]);
    snprintf (sub, sizeof sub, "%s/sub", s_ws[0]);
    snprintf (file, sizeof file, "%s/sub/f", s_ws[0]);
    int fd = open (outside, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    close (fd);
    ck_assert_int_eq (symlink (outside, link), 0);
    ck_assert_int_eq (mkdir (sub, 0755), 0);
    fd = open (file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    close (fd);
    ck_assert_int_eq (sbx_ns_chown_tree (s_ws_fd[0], 4242, 4343), 0);
    struct stat st;
    ck_assert_int_eq (stat (outside, &st), 0);
    ck_assert_int_eq (st.st_uid, 0);    /* the link's target untouched */
    ck_assert_int_eq (lstat (link, &st), 0);
    ck_assert_int_eq (st.st_uid, 4242); /* the link itself */
    ck_assert_int_eq (stat (file, &st), 0);
    ck_assert_int_eq (st.st_uid, 4242);
    ck_assert_int_eq (st.st_gid, 4343);
}
END_TEST

/*  ---- user namespace --------------------------------------------------- */

START_TEST (userns_maps_each_slot_to_its_own_host_uid)
{
    if (!s_root ("userns per slot") || !s_layers (L (USER), "userns"))
        return;
    const char *script = "echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G);"
                         " read a b c < /proc/self/uid_map; echo map=$a,$b,$c;"
                         " echo ready; exec sleep 5";
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    task_t *t = calloc (SLOTS, sizeof *t);
    for (size_t i = 0; i < SLOTS; i++) {
        run_t r = { .slot = i, .argv = argv };
        s_start (&r, &t[i]);
        ck_assert_int_eq (t[i].nt.host_uid, UID_BASE + i);
    }
    for (size_t i = 0; i < SLOTS; i++) {
        s_read_until (&t[i], "ready", 5000);
        EXPECT (&t[i], "uid", "1000");
        EXPECT (&t[i], "gid", "1000");
        EXPECT (&t[i], "groups", "1000");
        char want[64], got[128];
        snprintf (want, sizeof want, "1000,%u,1", (unsigned) (UID_BASE + i));
        EXPECT (&t[i], "map", want);
        /*  From the host, while both run: different real uids.            */
        s_status_field (t[i].pid, "Uid", got, sizeof got);
        snprintf (want, sizeof want, "%u\t%u\t%u\t%u", (unsigned) (UID_BASE + i),
                  (unsigned) (UID_BASE + i), (unsigned) (UID_BASE + i),
                  (unsigned) (UID_BASE + i));
        ck_assert_msg (strcmp (got, want) == 0, "slot %zu host Uid: \"%s\"", i, got);
        s_status_field (t[i].pid, "Groups", got, sizeof got);
        ck_assert_msg (strcmp (got, "") == 0 || strcmp (got, " ") == 0,
                       "slot %zu host Groups: \"%s\"", i, got);
    }
    for (size_t i = 0; i < SLOTS; i++) {
        kill (t[i].pid, SIGKILL);
        s_finish (&t[i]);
    }
    free (t);
}
END_TEST

/*  ---- PID namespace ---------------------------------------------------- */

START_TEST (pidns_shows_only_the_task)
{
    if (!s_layers (L (PID) | L (PROC), "pidns"))
        return;
    char script[512];
    snprintf (script, sizeof script,
              "echo self=$$; sleep 2 & n=0; for p in /proc/[0-9]*; do n=$((n+1)); done;"
              " echo procs=$n; echo ps=$(ps -e -o pid= | wc -l);"
              " ./try-syscall kill=%d kill=1", (int) getpid ());
    task_t *t = calloc (1, sizeof *t);
    s_sh (script, t, 0);
    EXPECT_EXIT0 (t);
    EXPECT (t, "self", "1");
    /*  sh, the background sleep, and the "for" has no process: 2. ps sees
        itself, sh, sleep, and the command substitution's subshell/wc.     */
    EXPECT (t, "procs", "2");
    const char *ps = s_line (t->out, "ps");
    ck_assert_msg (ps && atoi (ps) <= 5, "ps saw %s processes\n%s", ps, t->out);
    char key[32];
    snprintf (key, sizeof key, "kill=%d", (int) getpid ());
    EXPECT (t, key, "errno=ESRCH");    /* the worker is not visible */
    EXPECT (t, "kill=1", "ok");         /* itself, PID 1 */
    /*  The control: without namespaces the same probe reaches the worker. */
    char err[512];
    sbx_ns_config_t none = { .work_dir = s_base, .skip = ~0u };
    sbx_ns_t *plain = sbx_ns_new (&none, &s_caps, 1, err, sizeof err);
    ck_assert_msg (plain, "%s", err);
    char probe[256];
    snprintf (probe, sizeof probe, "%s/try-syscall", s_ws[0]);
    const char *argv[] = { probe, key, NULL };
    run_t r = { .ns = plain, .argv = argv };
    task_t *u = calloc (1, sizeof *u);
    s_run (&r, u);
    EXPECT (u, key, "ok");
    sbx_ns_destroy (&plain);
    free (u);
    free (t);
}
END_TEST

START_TEST (pidns_death_kills_a_double_forked_daemon)
{
    if (!s_layers (L (PID), "pidns"))
        return;
    /*  The marker appears in the daemon's command line only (the shell's
        says "$d.PID").                                                     */
    char marker[64], script[256];
    int d = 12 + (int) (getpid () % 10);
    snprintf (marker, sizeof marker, "%d.%d", d, (int) getpid ());
    snprintf (script, sizeof script,
              "d=%d; (setsid sleep $d.%d > /dev/null 2>&1 < /dev/null &); sleep 0.2;"
              " echo ready; sleep 1", d, (int) getpid ());
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    run_t r = { .argv = argv };
    task_t *t = calloc (1, sizeof *t);
    s_start (&r, t);
    s_read_until (t, "ready", 5000);
    ck_assert_msg (strstr (t->out, "ready"), "%s", t->out);
    ck_assert_int_eq (tu_count_marker (marker), 1);  /* the daemon runs */
    s_finish (t);
    EXPECT_EXIT0 (t);
    /*  The task (PID 1) exited: the kernel killed and reaped the rest.    */
    ck_assert_int_eq (tu_count_marker (marker), 0);
    free (t);
}
END_TEST

/*  ---- mount namespace: the minimal root -------------------------------- */

START_TEST (mountns_root_is_read_only_and_minimal)
{
    if (!s_layers (L (MOUNT), "mountns"))
        return;
    const char *argv[] = { "./try-syscall", "write=/usr/x", "write=/etc/x", "write=/x",
                           "mkdir=/newdir", "write=/dev/x", "shadow", "passwd",
                           "read=/etc/gshadow", "write=/proc/sys/kernel/hostname",
                           "ids", NULL };
    char probe[300];
    snprintf (probe, sizeof probe, "%s/try-syscall", s_ws[0]);
    (void) probe;
    task_t *t = calloc (1, sizeof *t);
    /*  argv[0] relative: resolved against the cwd, the workspace inside.   */
    run_t r = { .argv = argv };
    s_run (&r, t);
    EXPECT_EXIT0 (t);
    EXPECT (t, "write=/usr/x", "errno=EROFS");
    EXPECT (t, "write=/etc/x", "errno=EROFS");
    EXPECT (t, "write=/x", "errno=EROFS");
    EXPECT (t, "mkdir=/newdir", "errno=EROFS");
    EXPECT (t, "write=/dev/x", "errno=EROFS");
    EXPECT (t, "shadow", "errno=EACCES");
    EXPECT (t, "read=/etc/gshadow", "errno=EACCES");
    EXPECT (t, "passwd", "ok");
    const char *w = s_line (t->out, "write=/proc/sys/kernel/hostname");
    ck_assert_msg (w && strcmp (w, "ok") != 0, "%s", t->out);
    /*  Nothing of the host beyond the plan: no /sys, /home, /root, /var,
        no other workspace, no base directory of this test.                 */
    char script[1024];
    snprintf (script, sizeof script,
              "ls -a / | tr '\\n' ' '; echo; for d in /sys /home /root /run /var/lib %s; do"
              " [ -e $d ] && echo present=$d; done; echo base=$(ls %s); echo pwd=$(pwd);"
              " echo home=$HOME; echo sbx=$(ls -a /.sbx/ 2>&1); ls /.sbx/ws1 2>&1;"
              " ls -a /dev | tr '\\n' ' '; echo", s_ws[1], s_base);
    task_t *u = calloc (1, sizeof *u);
    s_sh (script, u, 0);
    EXPECT_EXIT0 (u);
    ck_assert_msg (!strstr (u->out, "present="), "host paths visible:\n%s", u->out);
    EXPECT (u, "base", "ws0");
    const char *sbx = s_line (u->out, "sbx");
    ck_assert_msg (sbx && !strstr (sbx, "ws"), "work_dir visible through /.sbx: %s", u->out);
    EXPECT (u, "pwd", s_ws[0]);
    EXPECT (u, "home", s_ws[0]);
    ck_assert_msg (strstr (u->out, "null") && strstr (u->out, "urandom")
                   && strstr (u->out, "shm"), "%s", u->out);
    fprintf (stderr, "minimal root as the task sees it:\n%s", u->out);
    free (t);
    free (u);
}
END_TEST

START_TEST (mountns_tmp_and_shm_private_and_fresh_per_task)
{
    if (!s_layers (L (MOUNT) | L (IPC), "mountns"))
        return;
    char name[64], script[512];
    snprintf (name, sizeof name, "cleudo-ns-marker-%d", (int) getpid ());
    snprintf (script, sizeof script,
              "echo x > /tmp/%s && echo tmp=ok; echo y > /dev/shm/%s && echo shm=ok;"
              " echo mounts=$(grep -c ' /tmp \\| /dev/shm ' /proc/self/mounts)",
              name, name);
    task_t *t = calloc (1, sizeof *t);
    s_sh (script, t, 0);
    EXPECT_EXIT0 (t);
    EXPECT (t, "tmp", "ok");
    EXPECT (t, "shm", "ok");
    EXPECT (t, "mounts", "2");
    /*  Not on the host.                                                    */
    char path[128];
    snprintf (path, sizeof path, "/tmp/%s", name);
    ck_assert_int_ne (access (path, F_OK), 0);
    snprintf (path, sizeof path, "/dev/shm/%s", name);
    ck_assert_int_ne (access (path, F_OK), 0);
    /*  Not for the next task of the same slot.                             */
    task_t *u = calloc (1, sizeof *u);
    s_sh ("echo tmp=$(ls -A /tmp | wc -l); echo shm=$(ls -A /dev/shm | wc -l);"
          " echo mode=$(stat -c %a /tmp)", u, 0);
    EXPECT_EXIT0 (u);
    EXPECT (u, "tmp", "0");
    EXPECT (u, "shm", "0");
    EXPECT (u, "mode", "1777");
    free (t);
    free (u);
}
END_TEST

START_TEST (mountns_workspace_writable_and_seen_on_host)
{
    if (!s_layers (L (MOUNT), "mountns"))
        return;
    task_t *t = calloc (1, sizeof *t);
    s_sh ("echo hello > out.txt && mkdir -p d/e && echo nested > d/e/f && echo done=1", t, 0);
    EXPECT_EXIT0 (t);
    EXPECT (t, "done", "1");
    char path[256], buf[64] = "";
    snprintf (path, sizeof path, "%s/out.txt", s_ws[0]);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (read (fd, buf, sizeof buf - 1), 6);
    close (fd);
    ck_assert_str_eq (buf, "hello\n");
    struct stat st;
    ck_assert_int_eq (stat (path, &st), 0);
    ck_assert_int_eq (st.st_uid, t->nt.host_uid);
    ck_assert_int_eq (st.st_gid, t->nt.host_gid);
    snprintf (path, sizeof path, "%s/d/e/f", s_ws[0]);
    ck_assert_int_eq (access (path, F_OK), 0);
    free (t);
}
END_TEST

START_TEST (mountns_fixed_workspace_path)
{
    if (!s_layers (L (MOUNT), "mountns"))
        return;
    char err[512];
    sbx_ns_config_t cfg = { .uid_base = UID_BASE, .gid_base = UID_BASE,
                            .work_dir = s_base, .workspace_at = "/work" };
    sbx_ns_t *ns = sbx_ns_new (&cfg, &s_caps, SLOTS, err, sizeof err);
    ck_assert_msg (ns, "%s", err);
    const char *argv[] = { "/bin/sh", "-c", "echo pwd=$(pwd); echo home=$HOME; echo hi > f;"
                           " ls -d /work", NULL };
    run_t r = { .ns = ns, .argv = argv };
    task_t *t = calloc (1, sizeof *t);
    s_run (&r, t);
    EXPECT_EXIT0 (t);
    EXPECT (t, "pwd", "/work");
    EXPECT (t, "home", "/work");
    char path[256];
    snprintf (path, sizeof path, "%s/f", s_ws[0]);
    ck_assert_int_eq (access (path, F_OK), 0);
    free (t);
    sbx_ns_destroy (&ns);
}
END_TEST

/*  ---- UTS, IPC, network ------------------------------------------------ */

START_TEST (utsns_hostname_is_sandbox)
{
    if (!s_layers (L (UTS), "utsns"))
        return;
    char host[128];
    gethostname (host, sizeof host);
    task_t *t = calloc (1, sizeof *t);
    s_sh ("echo name=$(hostname); echo uname=$(uname -n)", t, 0);
    EXPECT_EXIT0 (t);
    EXPECT (t, "name", "sandbox");
    EXPECT (t, "uname", "sandbox");
    char now[128];
    gethostname (now, sizeof now);
    ck_assert_str_eq (host, now);
    free (t);
}
END_TEST

static bool
s_accepted (int listener)
{
    int c = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
    if (c >= 0)
        close (c);
    return c >= 0;
}

START_TEST (netns_only_loopback_and_host_listener_sees_nothing)
{
    if (!s_layers (L (NET), "netns"))
        return;
    uint16_t port;
    int listener = tu_tcp_listener (&port);
    char conn[32];
    snprintf (conn, sizeof conn, "connect=%u", (unsigned) port);
    char script[256];
    snprintf (script, sizeof script,
              "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ,);"
              " ./try-syscall %s", conn);
    task_t *t = calloc (1, sizeof *t);
    s_sh (script, t, 0);
    EXPECT_EXIT0 (t);
    EXPECT (t, "ifaces", "lo,");
    EXPECT (t, conn, "errno=ECONNREFUSED");     /* lo is up, nobody listens */
    ck_assert (!s_accepted (listener));
    /*  The same task with network allowed reaches the host listener: the
        refusal above was the namespace's doing.                           */
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    run_t r = { .argv = argv, .network = true };
    task_t *u = calloc (1, sizeof *u);
    s_run (&r, u);
    EXPECT_EXIT0 (u);
    EXPECT (u, conn, "ok");
    ck_assert (s_accepted (listener));
    close (listener);
    free (t);
    free (u);
}
END_TEST

START_TEST (netns_per_task_variant)
{
    if (!s_layers (L (NET), "netns"))
        return;
    char err[512];
    sbx_ns_config_t cfg = { .uid_base = UID_BASE, .gid_base = UID_BASE,
                            .work_dir = s_base, .netns_per_task = true };
    sbx_ns_t *ns = sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err);
    ck_assert_msg (ns, "%s", err);
    const char *argv[] = { "/bin/sh", "-c", "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d:"
                           " -f1 | tr -d ' ' | tr '\\n' ,); grep -c ' 00000001 ' /proc/net/route"
                           " || true; cat /sys/class/net/lo/operstate 2>/dev/null; ./try-syscall"
                           " connect=1", NULL };
    run_t r = { .ns = ns, .argv = argv };
    task_t *t = calloc (1, sizeof *t);
    s_run (&r, t);
    EXPECT_EXIT0 (t);
    EXPECT (t, "ifaces", "lo,");
    EXPECT (t, "connect=1", "errno=ECONNREFUSED");   /* lo was brought up */
    free (t);
    sbx_ns_destroy (&ns);
}
END_TEST

/*  ---- everything together ---------------------------------------------- */

START_TEST (full_stack_with_caps_landlock_seccomp)
{
    if (!s_layers (L_ALL, "full stack"))
        return;
    if (s_abi < 1 || !s_seccomp) {
        fprintf (stderr, "SKIP full stack: Landlock or seccomp unavailable\n");
        return;
    }
    const char *argv[] = { "./try-syscall", "ids", "capeff", "capbnd", "nnp", "seccomp",
                           "write=/tmp/x", "write=/dev/shm/x", "write=out", "read=/proc/self/status",
                           "read=/etc/passwd", "shadow", "write=/usr/x", "mount", "unshare-user",
                           "setns", "ptrace", "socket-inet", "exec=/bin/true", "fork",
                           "read=/dev/null", "write=/dev/null", NULL };
    run_t r = { .argv = argv, .extra = X_CAPS | X_LANDLOCK | X_SECCOMP };
    task_t *t = calloc (1, sizeof *t);
    s_run (&r, t);
    EXPECT_EXIT0 (t);
    EXPECT (t, "ids", "1000,1000,1000/1000,1000,1000/0");
    EXPECT (t, "capeff", "0000000000000000");
    EXPECT (t, "nnp", "1");
    EXPECT (t, "seccomp", "2");
    /*  Fresh mounts usable under Landlock thanks to sbx_ns's extra rules. */
    EXPECT (t, "write=/tmp/x", "ok");
    EXPECT (t, "write=/dev/shm/x", "ok");
    EXPECT (t, "write=out", "ok");
    EXPECT (t, "read=/proc/self/status", "ok");
    EXPECT (t, "read=/etc/passwd", "ok");
    EXPECT (t, "read=/dev/null", "ok");
    EXPECT (t, "write=/dev/null", "ok");
    EXPECT (t, "exec=/bin/true", "ok");
    EXPECT (t, "fork", "ok");
    EXPECT (t, "shadow", "errno=EACCES");
    EXPECT (t, "write=/usr/x", "errno=EROFS");
    EXPECT (t, "mount", "errno=EPERM");
    EXPECT (t, "unshare-user", "errno=EPERM");
    EXPECT (t, "setns", "errno=EPERM");
    EXPECT (t, "ptrace", "errno=EPERM");
    EXPECT (t, "socket-inet", "errno=EPERM");
    fprintf (stderr, "full stack, probe says: capbnd=%s\n", s_line (t->out, "capbnd"));
    free (t);
}
END_TEST

/*  ---- the unprivileged worker (container path) ------------------------- */

START_TEST (unprivileged_worker_gets_own_uid_mapping_and_all_layers)
{
    if (geteuid () != 0) {
        fprintf (stderr, "SKIP unprivileged worker: needs root to make the stand-in\n");
        return;
    }
    const uid_t nobody = 65534;
    /*  The stand-in worker's workspace: its own.                           */
    ck_assert_int_eq (sbx_ns_chown_tree (s_ws_fd[0], nobody, nobody), 0);
    int pipefd[2];
    ck_assert_int_eq (pipe2 (pipefd, O_CLOEXEC), 0);
    pid_t w = fork ();
    ck_assert_int_ge (w, 0);
    if (w == 0) {
        close (pipefd[0]);
        if (setgroups (0, NULL) < 0 || setresgid (nobody, nobody, nobody) < 0
            || setresuid (nobody, nobody, nobody) < 0)
            _exit (20);
        /*  A worker started unprivileged is dumpable (its /proc files are
            its own, which writing a child's uid_map needs).               */
        if (prctl (PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
            _exit (21);
        sbx_ns_caps_t caps;
        sbx_ns_probe (NULL, &caps);
        FILE *f = fdopen (pipefd[1], "w");
        if (!f)
            _exit (22);
        char line[512];
        for (int l = 0; l < SBX_NS_LAYER_COUNT; l++) {
            sbx_ns_caps_line (&caps, l, line, sizeof line);
            fprintf (f, "layer %s\n", line);
        }
        fprintf (f, "privileged=%d per_slot=%d\n", caps.privileged, caps.per_slot_ids);
        sbx_cgroup_caps_t cc;
        char err[512];
        sbx_cgroup_t *cg = sbx_cgroup_new (NULL, &cc, err, sizeof err);
        fprintf (f, "cgroup=%s\n", cg ? "available" : err);
        sbx_cgroup_destroy (&cg);
        sbx_ns_config_t cfg = { .work_dir = s_base };
        sbx_ns_t *ns = sbx_ns_new (&cfg, &caps, 1, err, sizeof err);
        if (!ns) {
            fprintf (f, "ns_new=%s\n", err);
            fclose (f);
            _exit (23);
        }
        fprintf (f, "layers=0x%x\n", sbx_ns_layers (ns));
        char script[512];
        snprintf (script, sizeof script,
                  "echo uid=$(id -u); read a b c < /proc/self/uid_map; echo map=$a,$b,$c;"
                  " echo self=$$; echo name=$(hostname); echo ifaces=$(tail -n +3 /proc/net/dev"
                  " | cut -d: -f1 | tr -d ' ' | tr '\\n' ,); ./try-syscall write=/usr/x"
                  " kill=%d shadow; echo w > ws-file; echo t > /tmp/t && echo tmp=ok;"
                  " echo ready; exec sleep 3", (int) getpid ());
        const char *argv[] = { "/bin/sh", "-c", script, NULL };
        run_t r = { .ns = ns, .argv = argv };
        task_t *t = calloc (1, sizeof *t);
        s_start (&r, t);
        s_read_until (t, "ready", 5000);
        char uid[128];
        s_status_field (t->pid, "Uid", uid, sizeof uid);
        fprintf (f, "%shost_uid=%s\n", t->out, uid);
        kill (t->pid, SIGKILL);
        s_finish (t);
        free (t);
        sbx_ns_destroy (&ns);
        fclose (f);
        _exit (0);
    }
    close (pipefd[1]);
    static char out[65536];
    size_t used = 0;
    ssize_t n;
    while ((n = read (pipefd[0], out + used, sizeof out - 1 - used)) > 0)
        used += (size_t) n;
    out[used] = '\0';
    close (pipefd[0]);
    int status;
    ck_assert_int_eq (waitpid (w, &status, 0), w);
    fprintf (stderr, "unprivileged worker (uid 65534, no capabilities):\n%s", out);
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status 0x%x\n%s",
                   status, out);
    ck_assert_msg (strstr (out, "layer userns: available (ns uid 1000 -> own uid 65534"), "%s",
                   out);
    ck_assert_msg (strstr (out, "privileged=0 per_slot=0"), "%s", out);
    ck_assert_msg (strstr (out, "cgroup=cgroup: unavailable (EACCES"), "%s", out);
    const char *want[][2] = {
        { "uid", "1000" }, { "map", "1000,65534,1" }, { "self", "1" }, { "name", "sandbox" },
        { "ifaces", "lo," }, { "write=/usr/x", "errno=EROFS" }, { "shadow", "errno=EACCES" },
        { "tmp", "ok" }, { "host_uid", "65534\t65534\t65534\t65534" },
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *got = s_line (out, want[i][0]);
        ck_assert_msg (got && strcmp (got, want[i][1]) == 0, "%s: want %s, got %s\n%s",
                       want[i][0], want[i][1], got ? got : "(none)", out);
    }
    char key[32];
    snprintf (key, sizeof key, "kill=%d", (int) w);
    ck_assert_msg (strstr (out, "errno=ESRCH"), "worker visible?\n%s", out);
    char path[256];
    snprintf (path, sizeof path, "%s/ws-file", s_ws[0]);
    struct stat st;
    ck_assert_int_eq (stat (path, &st), 0);
    ck_assert_int_eq (st.st_uid, nobody);
}
END_TEST

/*  RLIMIT_NPROC counts the processes of a uid in a user namespace: with a
    user namespace per slot it is per slot, even where every slot has the
    same host uid (an unprivileged worker). Slot 1 runs 12 processes of
    that uid; slot 0, limited to 6, can still start 4.                      */
START_TEST (unprivileged_rlimit_nproc_counts_per_slot)
{
    if (geteuid () != 0) {
        fprintf (stderr, "SKIP nproc per slot: needs root to make the stand-in\n");
        return;
    }
    const uid_t nobody = 65534;
    for (int i = 0; i < SLOTS; i++)
        ck_assert_int_eq (sbx_ns_chown_tree (s_ws_fd[i], nobody, nobody), 0);
    pid_t w = fork ();
    ck_assert_int_ge (w, 0);
    if (w == 0) {
        if (setgroups (0, NULL) < 0 || setresgid (nobody, nobody, nobody) < 0
            || setresuid (nobody, nobody, nobody) < 0 || prctl (PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
            _exit (20);
        sbx_ns_caps_t caps;
        sbx_ns_probe (NULL, &caps);
        char err[512];
        sbx_ns_config_t cfg = { .work_dir = s_base };
        sbx_ns_t *ns = sbx_ns_new (&cfg, &caps, SLOTS, err, sizeof err);
        if (!ns || !(sbx_ns_layers (ns) & L (USER)))
            _exit (21);
        /*  The same without namespaces (the control): the limit counts
            every process of the uid, and slot 0 cannot start its four.     */
        sbx_ns_config_t none = { .work_dir = s_base, .skip = ~0u };
        sbx_ns_t *plain = sbx_ns_new (&none, &caps, SLOTS, err, sizeof err);
        if (!plain || sbx_ns_layers (plain) != 0)
            _exit (22);
        int result = 0;
        for (int variant = 0; variant < 2; variant++) {
            sbx_ns_t *use = variant ? plain : ns;
            const char *busy[] = { "/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11; do"
                                   " sleep 3 & done; echo ready; wait", NULL };
            run_t r1 = { .ns = use, .slot = 1, .argv = busy };
            task_t *t1 = calloc (1, sizeof *t1), *t0 = calloc (1, sizeof *t0);
            s_start (&r1, t1);
            s_read_until (t1, "ready", 5000);
            const char *work[] = { "/bin/sh", "-c", "for i in 1 2 3 4; do sleep 0.2 & done;"
                                   " wait; echo started=4", NULL };
            run_t r0 = { .ns = use, .slot = 0, .argv = work, .nproc = 6 };
            s_run (&r0, t0);
            kill (-t1->pid, SIGKILL);
            kill (t1->pid, SIGKILL);
            s_finish (t1);
            bool started = strstr (t0->out, "started=4") && !strstr (t0->out, "fork");
            fprintf (stderr, "RLIMIT_NPROC 6, slot 1 busy with 12 processes of the same host"
                     " uid, %s: slot 0 %s\n", variant ? "no namespaces (control)"
                     : "per-slot user namespaces", started ? "started its 4" : "could not");
            if (started != !variant)
                result = 23 + variant;
            free (t0);
            free (t1);
        }
        sbx_ns_destroy (&plain);
        sbx_ns_destroy (&ns);
        _exit (result);
    }
    int status;
    ck_assert_int_eq (waitpid (w, &status, 0), w);
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "stand-in status 0x%x",
                   status);
}
END_TEST

/*  ---- cgroups ----------------------------------------------------------- */

static sbx_cgroup_t *
s_cgroup (const char *what)
{
    char err[512];
    sbx_cgroup_caps_t caps;
    sbx_cgroup_t *cg = sbx_cgroup_new (&s_cg_config, &caps, err, sizeof err);
    if (!cg)
        fprintf (stderr, "SKIP %s: %s\n", what, err);
    return cg;
}

START_TEST (cgroup_probe_and_degrade)
{
    sbx_cgroup_caps_t caps;
    sbx_cgroup_probe (&s_cg_config, &caps);
    if (caps.available)
        fprintf (stderr, "cgroup: available (%s)\n", caps.detail);
    else
        fprintf (stderr, "cgroup: unavailable (%s: %s)\n", strerrorname_np (caps.err),
                 caps.detail);
    ck_assert (caps.available || caps.err != 0);
    ck_assert (caps.detail[0]);
    if (caps.available)
        ck_assert (caps.version == 1 || caps.version == 2);
    /*  Disabled by configuration: a clean "unavailable".                   */
    sbx_cgroup_config_t none = { .no_v1 = true, .no_v2 = true };
    char err[512];
    ck_assert_ptr_null (sbx_cgroup_new (&none, &caps, err, sizeof err));
    ck_assert (!caps.available);
    /*  An unusable directory: the errno and the path.                      */
    sbx_cgroup_config_t bad = { .no_v2 = true, .memory_dir = "/proc/none", .pids_dir = "/proc/none" };
    ck_assert_ptr_null (sbx_cgroup_new (&bad, &caps, err, sizeof err));
    ck_assert_msg (strstr (err, "/proc/none"), "%s", err);
    sbx_cgroup_config_t badname = { .name = "../x" };
    ck_assert_ptr_null (sbx_cgroup_new (&badname, &caps, err, sizeof err));
    ck_assert_int_eq (caps.err, EINVAL);
    /*  A zeroed task struct joins nothing.                                 */
    sbx_cgroup_task_t zero;
    memset (&zero, 0, sizeof zero);
    ck_assert_int_eq (sbx_cgroup_child_join (&zero), 0);
    ck_assert_int_eq (sbx_cgroup_task_destroy (&zero), 0);
}
END_TEST

START_TEST (cgroup_memory_hog_is_oom_killed_and_detected)
{
    sbx_cgroup_t *cg = s_cgroup ("cgroup OOM");
    if (!cg)
        return;
    char err[512];
    sbx_cgroup_task_t ct;
    ck_assert_msg (sbx_cgroup_task_create (cg, "hog", 64ull << 20, 64, &ct, err, sizeof err) == 0,
                   "%s", err);
    const char *argv[] = { "/usr/bin/python3", "-c",
                           "b = bytearray(512 << 20)\nprint('survived')", NULL };
    run_t r = { .argv = argv, .ct = &ct };
    task_t *t = calloc (1, sizeof *t);
    s_run (&r, t);
    ck_assert_msg (WIFSIGNALED (t->status) && WTERMSIG (t->status) == SIGKILL,
                   "status 0x%x\n%s", t->status, t->out);
    ck_assert (!strstr (t->out, "survived"));
    sbx_cgroup_stats_t st;
    ck_assert_int_eq (sbx_cgroup_task_stats (&ct, &st), 0);
    fprintf (stderr, "memory hog: oom_kills=%llu max_hits=%llu peak=%llu KiB\n",
             (unsigned long long) st.oom_kills, (unsigned long long) st.memory_max_hits,
             (unsigned long long) st.memory_peak / 1024);
    ck_assert_uint_ge (st.oom_kills, 1);
    ck_assert_uint_le (st.memory_peak, 64ull << 20);
    char dir[2][SBX_CGROUP_PATH_MAX];
    memcpy (dir, ct.dir, sizeof dir);
    ck_assert_int_eq (sbx_cgroup_task_destroy (&ct), 0);
    ck_assert_int_ne (access (dir[0], F_OK), 0);
    /*  A task within its limit: no OOM.                                     */
    ck_assert_int_eq (sbx_cgroup_task_create (cg, "fine", 64ull << 20, 64, &ct, err, sizeof err), 0);
    const char *argv2[] = { "/usr/bin/python3", "-c", "b = bytearray(8 << 20)\nprint('ok')", NULL };
    run_t r2 = { .argv = argv2, .ct = &ct };
    s_run (&r2, t);
    EXPECT_EXIT0 (t);
    ck_assert_int_eq (sbx_cgroup_task_stats (&ct, &st), 0);
    ck_assert_uint_eq (st.oom_kills, 0);
    ck_assert_uint_gt (st.memory_peak, 8ull << 20);
    ck_assert_int_eq (sbx_cgroup_task_destroy (&ct), 0);
    sbx_cgroup_destroy (&cg);
    free (t);
}
END_TEST

/*  The task joins its group first, then its cgroup namespace is made: the
    group is the root of what it sees; from the host it is in the group.    */
START_TEST (cgroup_join_then_namespace)
{
    sbx_cgroup_t *cg = s_cgroup ("cgroup namespace");
    if (!cg)
        return;
    char err[512];
    sbx_cgroup_task_t ct;
    ck_assert_int_eq (sbx_cgroup_task_create (cg, "cgns", 64ull << 20, 16, &ct, err, sizeof err), 0);
    const char *argv[] = { "/bin/sh", "-c", "grep -E ':(memory|pids):' /proc/self/cgroup |"
                           " sed 's/^[0-9]*://'; echo ready; exec sleep 5", NULL };
    run_t r = { .argv = argv, .ct = &ct };
    task_t *t = calloc (1, sizeof *t);
    s_start (&r, t);
    s_read_until (t, "ready", 5000);
    if (sbx_ns_layers (s_ns) & L (CGROUP)) {
        ck_assert_msg (strstr (t->out, "memory:/\n") && strstr (t->out, "pids:/\n"),
                       "inside:\n%s", t->out);
    }
    char buf[256] = "";
    for (int i = 0; i < 2; i++) {
        if (!ct.dir[i][0])
            continue;
        char path[SBX_CGROUP_PATH_MAX + 32];
        snprintf (path, sizeof path, "%s/cgroup.procs", ct.dir[i]);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        ck_assert_int_ge (fd, 0);
        ssize_t n = read (fd, buf, sizeof buf - 1);
        close (fd);
        buf[n > 0 ? n : 0] = '\0';
        ck_assert_int_eq (atoi (buf), t->pid);     /* only the task (sleep) */
        ck_assert_ptr_null (strchr (buf, '\n') && strchr (buf, '\n')[1] ? buf : NULL);
    }
    kill (t->pid, SIGKILL);
    s_finish (t);
    ck_assert_int_eq (sbx_cgroup_task_destroy (&ct), 0);
    sbx_cgroup_destroy (&cg);
    free (t);
}
END_TEST

/*  A fork bomb under pids.max; without a PID namespace (skip it) so that
    the cgroup alone must find and kill the whole tree.                     */
START_TEST (cgroup_fork_bomb_bounded_and_tree_killed)
{
    sbx_cgroup_t *cg = s_cgroup ("cgroup fork bomb");
    if (!cg)
        return;
    char err[512];
    sbx_ns_config_t cfg = { .uid_base = UID_BASE, .gid_base = UID_BASE,
                            .work_dir = s_base, .skip = L (PID) | L (PROC) };
    sbx_ns_t *ns = sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err);
    ck_assert_msg (ns, "%s", err);
    sbx_cgroup_task_t ct;
    ck_assert_int_eq (sbx_cgroup_task_create (cg, "bomb", 256ull << 20, 20, &ct, err, sizeof err), 0);
    char marker[32], script[512];
    int d = 12 + (int) (getpid () % 10);
    snprintf (marker, sizeof marker, "%d.%d", d, (int) getpid ());
    snprintf (script, sizeof script,
              "d=%d; for i in $(seq 60); do (setsid sleep $d.%d > /dev/null 2>&1 < /dev/null &)"
              " 2>/dev/null; done; echo forked; exit 0", d, (int) getpid ());
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    run_t r = { .ns = ns, .argv = argv, .ct = &ct };
    task_t *t = calloc (1, sizeof *t);
    s_start (&r, t);
    s_read_until (t, "forked", 10000);
    int status;
    ck_assert_int_eq (waitpid (t->pid, &status, 0), t->pid);
    int left = tu_count_marker (marker);
    sbx_cgroup_stats_t st;
    ck_assert_int_eq (sbx_cgroup_task_stats (&ct, &st), 0);
    fprintf (stderr, "fork bomb: %d daemons alive after the task (pids.max 20),"
             " %llu forks refused\n", left, (unsigned long long) st.pids_max_hits);
    ck_assert_int_gt (left, 0);
    ck_assert_int_le (left, 20);
    ck_assert_uint_gt (st.pids_max_hits, 0);
    /*  The end of the task: the whole tree.                                */
    ck_assert_int_eq (sbx_cgroup_task_kill (&ct, 2000), 0);
    char procs[SBX_CGROUP_PATH_MAX + 32], buf[256] = "x";
    snprintf (procs, sizeof procs, "%s/cgroup.procs", ct.dir[0]);
    int fd = open (procs, O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (read (fd, buf, sizeof buf), 0);
    close (fd);
    /*  Reparented to the host's init (or a subreaper), then reaped there. */
    for (int i = 0; i < 200 && tu_count_marker (marker) > 0; i++)
        usleep (5000);
    ck_assert_int_eq (tu_count_marker (marker), 0);
    char dir[SBX_CGROUP_PATH_MAX];
    snprintf (dir, sizeof dir, "%s", ct.dir[0]);
    ck_assert_int_eq (sbx_cgroup_task_destroy (&ct), 0);
    ck_assert_int_ne (access (dir, F_OK), 0);
    close (t->fd);
    free (t);
    sbx_ns_destroy (&ns);
    sbx_cgroup_destroy (&cg);
}
END_TEST

START_TEST (subreaper_fallback_reaps_descendants)
{
    /*  No cgroup, no PID namespace: this test process is the subreaper.   */
    ck_assert_int_eq (prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    char marker[32], script[256];
    int d = 12 + (int) (getpid () % 10);
    snprintf (marker, sizeof marker, "%d.%d", d, (int) getpid ());
    snprintf (script, sizeof script,
              "exec > /dev/null 2>&1; d=%d; p=%d; (setsid sleep $d.$p &);"
              " (D=$d P=$p sh -c 'sleep $D.$P & exec sleep $D.$P' &); exit 0", d,
              (int) getpid ());
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    run_t r = { .argv = argv, .extra = X_NO_NS };
    task_t *t = calloc (1, sizeof *t);
    s_run (&r, t);
    EXPECT_EXIT0 (t);
    for (int i = 0; i < 200 && tu_count_marker (marker) != 3; i++)
        usleep (5000);
    ck_assert_int_eq (tu_count_marker (marker), 3);
    /*  A child we must keep: a running "task".                              */
    pid_t keep = fork ();
    if (keep == 0) {
        pause ();
        _exit (0);
    }
    int killed = sbx_reap_descendants (&keep, 1, 2000);
    ck_assert_int_ge (killed, 3);
    ck_assert_int_eq (tu_count_marker (marker), 0);
    ck_assert_int_eq (kill (keep, 0), 0);
    kill (keep, SIGKILL);
    waitpid (keep, NULL, 0);
    free (t);
}
END_TEST

/*  ---- cost ------------------------------------------------------------- */

static char *s_true_argv[] = { "/bin/true", NULL };

static double s_blocked_us;             /* of the last s_spawn_true: until the spawn returned */

/*  µs of one spawn of /bin/true with ns (NULL: one-stage) + wait.         */
static double
s_spawn_true (sbx_ns_t *ns, sbx_cgroup_t *cg, int devnull)
{
    sbx_ns_task_t *nt = NULL;
    static sbx_ns_task_t task;
    char err[256];
    double start = tu_now_us ();
    sbx_cgroup_task_t ct;
    if (cg)
        ck_assert_msg (sbx_cgroup_task_create (cg, "cost", 256ull << 20, 64, &ct, err,
                                               sizeof err) == 0, "%s", err);
    if (ns) {
        sbx_ns_task_spec_t spec = { .workspace = s_ws[0], .workspace_fd = s_ws_fd[0] };
        ck_assert_msg (sbx_ns_task_prepare (ns, 0, &spec, &task, err, sizeof err) == 0, "%s",
                       err);
        nt = &task;
    }
    spawn_t s = { .nt = nt, .ct = cg ? &ct : NULL, .extra = ns ? 0 : X_NO_NS,
                  .in_fd = devnull, .out_fd = devnull, .path = "/bin/true",
                  .argv = s_true_argv, .envp = s_env };
    double t0 = tu_now_us ();
    pid_t pid = s_spawn (&s);
    s_blocked_us = tu_now_us () - t0;
    ck_assert_msg (pid > 0, "spawn: %s/%s: %s", s.fail_what, sbx_ns_step_name (s.fail_step),
                   strerror (-s.fail_err));
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    if (cg)
        ck_assert_int_eq (sbx_cgroup_task_destroy (&ct), 0);
    double us = tu_now_us () - start;
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status 0x%x", status);
    return us;
}

/*  The alternative design: a NEW user namespace per task, the parent
    writing its maps while the child (CLONE_VM, no CLONE_VFORK) waits on a
    pipe. flags adds the other namespaces.                                 */
typedef struct {
    int sync_fd;                        /* read end: EOF = maps written */
    int sync_wr;
    int report_fd;                      /* close-on-exec: EOF = exec'd */
    int devnull;
    bool lo;                            /* bring up loopback (fresh netns) */
} fresh_t;

CHILD_CODE static int
s_fresh_child (void *arg)
{
    const fresh_t *f = arg;
    syscall (SYS_close, f->sync_wr);
    char c;
    while (syscall (SYS_read, f->sync_fd, &c, 1) > 0)
        ;
    if (syscall (SYS_setresgid, 1000, 1000, 1000) < 0
        || syscall (SYS_setresuid, 1000, 1000, 1000) < 0)
        syscall (SYS_exit_group, 120);
    if (f->lo) {
        /*  As sbx_ns does for a fresh network namespace.                  */
        long fd = syscall (SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        char ifr[40] = "lo";
        syscall (SYS_ioctl, fd, 0x8913 /* SIOCGIFFLAGS */, ifr);
        ifr[16] |= 1;
        if (syscall (SYS_ioctl, fd, 0x8914 /* SIOCSIFFLAGS */, ifr) < 0)
            syscall (SYS_exit_group, 121);
        syscall (SYS_close, fd);
    }
    syscall (SYS_dup2, f->devnull, 1);
    syscall (SYS_execve, "/bin/true", s_true_argv, s_env);
    syscall (SYS_exit_group, 127);
    return 127;
}

static char s_stack_f[64 * 1024] __attribute__ ((aligned (64)));

static void
s_write_proc (pid_t pid, const char *file, const char *text)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    ck_assert_msg (fd >= 0, "%s: %s", path, strerror (errno));
    ck_assert_int_eq (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
}

static double
s_spawn_fresh_userns (unsigned long flags, int devnull)
{
    double start = tu_now_us ();
    int sync[2], report[2];
    ck_assert_int_eq (pipe2 (sync, O_CLOEXEC), 0);
    ck_assert_int_eq (pipe2 (report, O_CLOEXEC), 0);
    fresh_t f = { sync[0], sync[1], report[1], devnull, (flags & CLONE_NEWNET) != 0 };
    sigset_t all, old;
    sigfillset (&all);
    sigprocmask (SIG_SETMASK, &all, &old);
    pid_t pid = clone (s_fresh_child, s_stack_f + sizeof s_stack_f,
                       (int) (CLONE_VM | CLONE_NEWUSER | flags | SIGCHLD), &f);
    sigprocmask (SIG_SETMASK, &old, NULL);
    ck_assert_int_gt (pid, 0);
    close (sync[0]);
    close (report[1]);
    char map[64];
    bool root = s_caps.per_slot_ids;
    if (!root)
        s_write_proc (pid, "setgroups", "deny");
    snprintf (map, sizeof map, "1000 %u 1\n", root ? UID_BASE : (unsigned) geteuid ());
    s_write_proc (pid, "uid_map", map);
    snprintf (map, sizeof map, "1000 %u 1\n", root ? UID_BASE : (unsigned) getegid ());
    s_write_proc (pid, "gid_map", map);
    close (sync[1]);
    char c;
    while (read (report[0], &c, 1) > 0)
        ;                               /* EOF: exec'd (the stack is free again) */
    close (report[0]);
    s_blocked_us = tu_now_us () - start;
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    double us = tu_now_us () - start;
    ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status 0x%x", status);
    return us;
}

/*  µs of sbx_cgroup_child_join in a forked child, after idle_ms of quiet:
    on cgroup v1 (and v2 without favordynmods) moving a process takes the
    global cgroup_threadgroup_rwsem for writing, which waits for an RCU
    grace period unless another migration happened just before.           */
static double
s_cgroup_join_us (sbx_cgroup_t *cg, int idle_ms)
{
    char err[256];
    sbx_cgroup_task_t ct;
    ck_assert_msg (sbx_cgroup_task_create (cg, "join", 256ull << 20, 64, &ct, err,
                                           sizeof err) == 0, "%s", err);
    double *shared = mmap (NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne (shared, MAP_FAILED);
    usleep ((useconds_t) idle_ms * 1000);
    pid_t pid = fork ();
    if (pid == 0) {
        double t0 = tu_now_us ();
        int rc = sbx_cgroup_child_join (&ct);
        shared[0] = tu_now_us () - t0;
        _exit (rc == 0 ? 0 : 1);
    }
    int status;
    waitpid (pid, &status, 0);
    double us = shared[0];
    munmap (shared, 4096);
    ck_assert_int_eq (sbx_cgroup_task_destroy (&ct), 0);
    ck_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    return us;
}

typedef struct {
    const char *name;
    unsigned keep;                      /* layers kept (others skipped) */
    bool netns_per_task;
    int kind;                           /* 0 one-stage, 1 sbx_ns, 2 fresh userns; -1 n/a */
    unsigned long fresh_flags;
    int base;                           /* index printed relative to, -1: previous */
    sbx_ns_t *ns;
    double t[200];                      /* wall: spawn + run + exit + reap */
    double b[200];                      /* the worker blocked in the spawn */
} cost_t;

#define COST_ROUNDS 200

/*  Interleaved rounds (load from elsewhere hits every config alike),
    medians, printed.                                                       */
static void
s_cost_phase (cost_t *c, int n, int devnull)
{
    char err[512];
    unsigned have = sbx_ns_layers (s_ns);
    for (int k = 0; k < n; k++) {
        if (c[k].kind == 2 && !(have & L (USER)))
            c[k].kind = -1;
        if (c[k].kind != 1)
            continue;
        if ((c[k].keep & have) != c[k].keep) {
            c[k].kind = -1;
            continue;
        }
        sbx_ns_config_t cfg = { .uid_base = UID_BASE, .gid_base = UID_BASE,
                                .work_dir = s_base, .skip = ~c[k].keep,
                                .netns_per_task = c[k].netns_per_task };
        c[k].ns = sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err);
        ck_assert_msg (c[k].ns, "%s", err);
    }
    for (int r = -10; r < COST_ROUNDS; r++)
        for (int k = 0; k < n; k++) {
            double us;
            if (c[k].kind == 0)
                us = s_spawn_true (NULL, NULL, devnull);
            else if (c[k].kind == 1)
                us = s_spawn_true (c[k].ns, NULL, devnull);
            else if (c[k].kind == 2)
                us = s_spawn_fresh_userns (c[k].fresh_flags, devnull);
            else
                continue;
            if (r >= 0) {
                c[k].t[r] = us;
                c[k].b[r] = s_blocked_us;
            }
        }
    double prev = 0;
    for (int k = 0; k < n; k++) {
        if (c[k].kind < 0) {
            fprintf (stderr, "  %-48s   (unavailable)\n", c[k].name);
            continue;
        }
        double m = tu_median (c[k].t, COST_ROUNDS);
        double blocked = tu_median (c[k].b, COST_ROUNDS);
        double ref = c[k].base >= 0 ? tu_median (c[c[k].base].t, COST_ROUNDS) : prev;
        if (k == 0)
            fprintf (stderr, "  %-50s %7.1f %7.1f\n", c[k].name, m, blocked);
        else
            fprintf (stderr, "  %-50s %7.1f %7.1f  wall %+.1f vs %s\n", c[k].name, m, blocked,
                     m - ref, c[k].base >= 0 ? c[c[k].base].name : "the line above");
        prev = m;
        sbx_ns_destroy (&c[k].ns);
    }
}

START_TEST (cost_per_layer)
{
    char err[512];
    unsigned upto = L (USER) | L (PID) | L (IPC) | L (UTS) | L (CGROUP) | L (NET);
#define COST(n, k, kd, ff, bs) { .name = (n), .keep = (k), .kind = (kd), .fresh_flags = (ff),  \
                                .base = (bs) }
    const unsigned lu = L (USER), lp = lu | L (PID), li = lp | L (IPC), lt = li | L (UTS);
    const unsigned lc = lt | L (CGROUP), ln = lc | L (NET), lm = ln | L (MOUNT) | L (PIVOT);
    static cost_t main_phase[11];
    cost_t init[] = {
        COST ("bare vfork-style spawn (one stage)", 0, 0, 0, -1),
        COST ("two stages A -> B (CLONE_PARENT), no namespace", 0, 1, 0, -1),
        COST ("+ userns (setns, per slot)", lu, 1, 0, -1),
        COST ("+ pidns", lp, 1, 0, -1),
        COST ("+ ipcns", li, 1, 0, -1),
        COST ("+ utsns (+ sethostname)", lt, 1, 0, -1),
        COST ("+ cgroupns", lc, 1, 0, -1),
        COST ("+ netns (join the slot's pre-made one)", ln, 1, 0, -1),
        COST ("+ mount (copy of the slot's template root)", lm, 1, 0, -1),
        COST ("+ /proc = every layer", lm | L (PROC), 1, 0, -1),
        COST ("alt: NEW userns per task, maps written (pid,ipc,uts)", 0, 2,
              CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS, 5),
    };
#undef COST
    memcpy (main_phase, init, sizeof init);
    /*  A new network namespace per task is cleaned up asynchronously by the
        kernel: measured apart, so that it does not slow the others.        */
    static cost_t net_phase[3];
    net_phase[0] = (cost_t) { .name = "netns: join the slot's pre-made one", .keep = upto,
                              .kind = 1, .base = -1 };
    net_phase[1] = (cost_t) { .name = "netns: a new one per task (+ lo up)", .keep = upto,
                              .netns_per_task = true, .kind = 1, .base = 0 };
    net_phase[2] = (cost_t) { .name = "alt: NEW userns + NEW netns per task (pid,ipc,uts)",
                              .kind = 2, .base = 0,
                              .fresh_flags = CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
                                             | CLONE_NEWNET };
    int devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
    fprintf (stderr, "cost per spawn of /bin/true, median of %d rounds, µs, uid %u; wall ="
             " clone + layers + execve + run + exit + wait; blocked = the spawning thread"
             " until the clone returned (vfork)\n  %-50s %7s %7s\n", COST_ROUNDS,
             (unsigned) geteuid (), "", "wall", "blocked");
    int n_main = (int) (sizeof main_phase / sizeof main_phase[0]);
    s_cost_phase (main_phase, n_main, devnull);
    fprintf (stderr, "  every namespace layer over the bare spawn: %+.1f\n",
             tu_median (main_phase[9].t, COST_ROUNDS) - tu_median (main_phase[0].t, COST_ROUNDS));
    s_cost_phase (net_phase, (int) (sizeof net_phase / sizeof net_phase[0]), devnull);
    /*  Parallel: two processes spawning at once, pre-made vs new netns.    */
    for (int variant = 0; variant < 2; variant++) {
        sbx_ns_config_t cfg = { .uid_base = UID_BASE, .gid_base = UID_BASE,
                                .work_dir = s_base, .skip = ~upto, .netns_per_task = variant };
        sbx_ns_t *ns = sbx_ns_new (&cfg, &s_caps, 1, err, sizeof err);
        if (!ns || !(sbx_ns_layers (ns) & L (NET))) {
            sbx_ns_destroy (&ns);
            continue;
        }
        double t0 = tu_now_us ();
        pid_t kids[2];
        for (int j = 0; j < 2; j++) {
            kids[j] = fork ();
            if (kids[j] == 0) {
                int dn = open ("/dev/null", O_RDWR | O_CLOEXEC);
                for (int i = 0; i < 100; i++)
                    s_spawn_true (ns, NULL, dn);
                _exit (0);
            }
        }
        for (int j = 0; j < 2; j++)
            waitpid (kids[j], NULL, 0);
        fprintf (stderr, "  2 spawners in parallel, %-25s %7.1f µs per spawn (wall / 200)\n",
                 variant ? "netns new per task:" : "netns pre-made, joined:",
                 (tu_now_us () - t0) / 200);
        sbx_ns_destroy (&ns);
    }
    /*  cgroup: create + remove, and the join (a migration).               */
    sbx_cgroup_t *cg = sbx_cgroup_new (&s_cg_config, NULL, err, sizeof err);
    if (cg) {
        static double t[COST_ROUNDS];
        for (int r = 0; r < COST_ROUNDS; r++) {
            sbx_cgroup_task_t ct;
            double t0 = tu_now_us ();
            ck_assert_int_eq (sbx_cgroup_task_create (cg, "cost", 256ull << 20, 64, &ct, err,
                                                      sizeof err), 0);
            ck_assert_int_eq (sbx_cgroup_task_destroy (&ct), 0);
            t[r] = tu_now_us () - t0;
        }
        double cr = tu_median (t, COST_ROUNDS);
        static double warm[40], cold[10];
        for (int r = 0; r < 40; r++)
            warm[r] = s_cgroup_join_us (cg, 0);
        for (int r = 0; r < 10; r++)
            cold[r] = s_cgroup_join_us (cg, 50);
        fprintf (stderr, "  cgroup v%d: create (limits) + remove %.1f; the child's join %.1f"
                 " right after another, %.1f after 50 ms of quiet (one RCU grace period)\n",
                 sbx_cgroup_caps (cg)->version, cr, tu_median (warm, 40), tu_median (cold, 10));
        sbx_cgroup_destroy (&cg);
    }
    else
        fprintf (stderr, "  cgroup: %s\n", err);
    close (devnull);
    /*  Start-up cost.                                                      */
    double t0 = tu_now_us ();
    sbx_ns_caps_t caps;
    sbx_ns_probe (NULL, &caps);
    double probe = tu_now_us () - t0;
    t0 = tu_now_us ();
    sbx_ns_config_t cfg4 = { .work_dir = s_base };
    sbx_ns_t *ns = sbx_ns_new (&cfg4, &caps, 4, err, sizeof err);
    double make = tu_now_us () - t0;
    fprintf (stderr, "  start-up: sbx_ns_probe %.0f µs, sbx_ns_new with 4 slots %.0f µs\n",
             probe, make);
    sbx_ns_destroy (&ns);
}
END_TEST

/*  ---- runner ----------------------------------------------------------- */

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
            fprintf (stderr, "test_ns: cannot build the probe\n");
            return -1;
        }
    }
    if (!realpath (bin, s_probe_src) || access (s_probe_src, X_OK) != 0) {
        fprintf (stderr, "test_ns: no probe at %s (set CLEUDO_PROBE, or run from the"
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
    snprintf (s_cg_name, sizeof s_cg_name, "cleudo-test-%d", (int) getpid ());
    s_cg_config.name = s_cg_name;
    sbx_ns_config_t cfg = { .uid_base = UID_BASE, .gid_base = UID_BASE };
    sbx_ns_probe (&cfg, &s_caps);
    s_abi = sbx_landlock_abi ();
    char err[256];
    s_seccomp = sbx_seccomp_new (err, sizeof err);

    Suite *s = suite_create ("ns");
    TCase *tc = tcase_create ("ns");
    tcase_add_unchecked_fixture (tc, s_case_setup, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, probe_reports_every_layer);
    tcase_add_test (tc, bad_configs_are_refused);
    tcase_add_test (tc, chown_tree_does_not_follow_links);
    tcase_add_test (tc, userns_maps_each_slot_to_its_own_host_uid);
    tcase_add_test (tc, pidns_shows_only_the_task);
    tcase_add_test (tc, pidns_death_kills_a_double_forked_daemon);
    tcase_add_test (tc, mountns_root_is_read_only_and_minimal);
    tcase_add_test (tc, mountns_tmp_and_shm_private_and_fresh_per_task);
    tcase_add_test (tc, mountns_workspace_writable_and_seen_on_host);
    tcase_add_test (tc, mountns_fixed_workspace_path);
    tcase_add_test (tc, utsns_hostname_is_sandbox);
    tcase_add_test (tc, netns_only_loopback_and_host_listener_sees_nothing);
    tcase_add_test (tc, netns_per_task_variant);
    tcase_add_test (tc, full_stack_with_caps_landlock_seccomp);
    tcase_add_test (tc, unprivileged_worker_gets_own_uid_mapping_and_all_layers);
    tcase_add_test (tc, unprivileged_rlimit_nproc_counts_per_slot);
    suite_add_tcase (s, tc);

    tc = tcase_create ("cgroup");
    tcase_add_unchecked_fixture (tc, s_case_setup, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, cgroup_probe_and_degrade);
    tcase_add_test (tc, cgroup_memory_hog_is_oom_killed_and_detected);
    tcase_add_test (tc, cgroup_join_then_namespace);
    tcase_add_test (tc, cgroup_fork_bomb_bounded_and_tree_killed);
    tcase_add_test (tc, subreaper_fallback_reaps_descendants);
    suite_add_tcase (s, tc);

    tc = tcase_create ("cost");
    tcase_add_unchecked_fixture (tc, s_case_setup, s_case_teardown);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 180);
    tcase_add_test (tc, cost_per_layer);
    suite_add_tcase (s, tc);

    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    sbx_seccomp_destroy (&s_seccomp);
    return failed ? 1 : 0;
}
