/*  layers.c - spawn cost of /bin/true with the sandbox's isolation layers
    added one at a time, through the sandbox's own code (linked with
    the objects of services/agent-sandbox minus main.o, like build/test/unit-sandbox).

    layers LAYER[+cgroup] PAR SECONDS WORKDIR

    LAYER, each one including every layer listed before it:
      child      the worker's own spawn, child.c's sbx_child_start: clone
                 (CLONE_VM|CLONE_VFORK|CLONE_PIDFD), signals, session,
                 parent death signal, workdir, stdio, close_range, six
                 rlimits, sigmask, execve; three task pipes per task
      base       the same steps in this file's copy of child.c (a cross-
                 check, and the fallback for every row when child.h no
                 longer matches layers_child.c: the JSON says "path")
      workspace  + a fresh workspace per task (sbx_workspace_new/remove)
      caps       + no_new_privs + capability drop (+ uid switch when root)
      landlock   + Landlock ruleset built per task in the parent, applied
      seccomp    + the seccomp filter (compiled once), last before execve
      ns:LIST    + namespaces through sbx_ns, LIST e.g. "user,pid,mount"
                 (see layers_ns.h); ns-new:LIST the same with a fresh
                 network namespace per task instead of the pre-made one
    +cgroup adds the cgroup layer (sbx_cgroup) as the worker uses it: a
    group per slot made once, per task its limits set, the child joins it
    first, what is left killed and the OOM count read; see layers_cg.h.

    Prints one JSON line (bench_util.h) with "layers" (what was in effect)
    or {"na": "why"} when a layer cannot run here.
*/
#define _GNU_SOURCE
#include "bench_util.h"
#include "layers_cg.h"
#include "layers_child.h"
#include "layers_ns.h"
#include "sbx_caps.h"
#include "sbx_landlock.h"
#include "sbx_seccomp.h"
#include "workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))
#define REPORT_FD 3
#define STACK_SIZE (256u * 1024u)
#define TASK_UID 200000                 /* SANDBOX_UID_BASE + slot 0 */

typedef enum {
    L_CHILD = 0, L_BASE, L_WORKSPACE, L_CAPS, L_LANDLOCK, L_SECCOMP, L_NS, L_UNKNOWN
} layer_t;

/*  ---- the configuration of this run (set in main and setup) ------------- */

static layer_t s_layer;                 /* the outermost layer asked for */
static const char *s_ns_want;           /* ns:LIST */
static bool s_ns_new_net;               /* ns-new: */
static const char *s_root;              /* WORKDIR: parent of workspaces */
static char s_fixed_path[4096];         /* workspace of layers below L_WORKSPACE */
static int s_fixed_fd = -1;
static sbx_caps_plan_t s_plan;          /* caps layer */
static int s_abi = -1;                  /* Landlock ABI */
static sbx_seccomp_t *s_seccomp;        /* both filters */
static lns_t *s_ns;                     /* namespaces */
static bool s_cgroup;                   /* +cgroup */
static lcg_t *s_cg;                     /* the cgroup layer */
static uint64_t s_task_no;              /* for workspace names */
static uint8_t *s_stack_top;            /* this copy's one child stack */

static char *s_argv[] = { "/bin/true", NULL };

/*  The worker's default limits (run.c's s_rlimits with the defaults).      */
static lch_rlimit_t s_rlimits[] = {
    { RLIMIT_CPU, { 10, 11 } },
    { RLIMIT_AS, { 512u << 20, 512u << 20 } },
    { RLIMIT_NPROC, { 64, 64 } },
    { RLIMIT_FSIZE, { 16u << 20, 16u << 20 } },
    { RLIMIT_NOFILE, { 256, 256 } },
    { RLIMIT_CORE, { 0, 0 } },
};
#define RLIMIT_COUNT (sizeof s_rlimits / sizeof s_rlimits[0])

/*  ---- this file's copy of child.c, with the isolation steps -------------- */

typedef struct {
    int step;                           /* what failed */
    int err;                            /* its errno */
} s_report_t;

enum { ST_NS = 1, ST_CGROUP, ST_SIGNALS, ST_SESSION, ST_PDEATH, ST_WORKDIR, ST_STDIO, ST_CLOSE,
       ST_RLIMITS, ST_NNP, ST_CAPS, ST_LL_RULES, ST_LANDLOCK, ST_SIGMASK, ST_SECCOMP,
       ST_EXEC, ST_COUNT };
static const char *const s_step_names[ST_COUNT] = {
    "spawn", "ns_setup", "cgroup_join", "signals", "session", "parent_death", "workdir", "stdio",
    "close_fds", "rlimits", "no_new_privs", "caps", "landlock_rules", "landlock",
    "sigmask", "seccomp", "exec",
};

typedef struct {
    int in_fd, out_fd, err_fd;          /* task pipes, child ends */
    int workdir_fd;
    int report_fd;
    pid_t parent;
    char *const *envp;
    int ruleset_fd;                     /* Landlock, -1: none */
    const struct sock_fprog *prog;      /* seccomp, NULL: none */
    bool caps;
    const lns_t *ns;                    /* NULL: no namespaces */
    const lcg_t *cg;                    /* NULL: no cgroup */
} s_args_t;

typedef struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
} s_ksigaction_t;

CHILD_CODE static void
s_fail (int fd, int step, int err)
{
    s_report_t r = { step, err < 0 ? -err : err };
    syscall (SYS_write, fd, &r, sizeof r);
    syscall (SYS_exit, 127);
}

/*  The order of child.c (and of sbx_ns.h for child B), with the isolation
    steps where child.h says they go: no_new_privs and the capability drop
    after the rlimits, Landlock next, seccomp last before execve.          */
CHILD_CODE static int
s_child_main (void *arg)
{
    const s_args_t *a = arg;
    int fd = a->report_fd;
    int rc, step = 0;
    /*  First of all (sbx_cgroup.h): only the task's own processes are
        ever in its group, and the namespace set-up makes it the root of
        the task's cgroup namespace.                                        */
    if (a->cg && (rc = lcg_child_join (a->cg)) < 0)
        s_fail (fd, ST_CGROUP, rc);
    if (a->ns && (rc = lns_child_setup (a->ns, &step)) < 0)
        s_fail (fd, ST_NS * 100 + step, rc);
    s_ksigaction_t dfl = { 0 };
    for (long sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            syscall (SYS_rt_sigaction, sig, &dfl, NULL, 8);
    if (syscall (SYS_setsid) < 0)
        s_fail (fd, ST_SESSION, errno);
    if (!a->ns) {
        if (syscall (SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
            s_fail (fd, ST_PDEATH, errno);
        if (syscall (SYS_getppid) != a->parent)
            s_fail (fd, ST_PDEATH, ESRCH);
        if (syscall (SYS_fchdir, a->workdir_fd) < 0)
            s_fail (fd, ST_WORKDIR, errno);
    }
    if (syscall (SYS_dup2, a->in_fd, 0) < 0 || syscall (SYS_dup2, a->out_fd, 1) < 0
        || syscall (SYS_dup2, a->err_fd, 2) < 0
        || (fd != REPORT_FD && syscall (SYS_dup3, fd, REPORT_FD, O_CLOEXEC) < 0))
        s_fail (fd, ST_STDIO, errno);
    fd = REPORT_FD;
    /*  Close-on-exec rather than closed: the Landlock ruleset descriptor
        is still needed below (it is close-on-exec itself).                */
    if (syscall (SYS_close_range, REPORT_FD + 1, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        s_fail (fd, ST_CLOSE, errno);
    for (size_t i = 0; i < RLIMIT_COUNT; i++)
        if (syscall (SYS_prlimit64, 0, s_rlimits[i].resource, &s_rlimits[i].value, NULL) < 0)
            s_fail (fd, ST_RLIMITS, errno);
    if (a->caps) {
        if ((rc = sbx_caps_child_no_new_privs ()) < 0)
            s_fail (fd, ST_NNP, rc);
        if ((rc = sbx_caps_child_drop (&s_plan)) < 0)
            s_fail (fd, ST_CAPS, rc);
    }
    if (a->ruleset_fd >= 0) {
        if (a->ns && (rc = lns_child_landlock (a->ns, a->ruleset_fd)) < 0)
            s_fail (fd, ST_LL_RULES, rc);
        if ((rc = sbx_landlock_child_restrict (a->ruleset_fd)) < 0)
            s_fail (fd, ST_LANDLOCK, rc);
    }
    uint64_t none = 0;
    if (syscall (SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8) < 0)
        s_fail (fd, ST_SIGMASK, errno);
    /*  Last before execve: the filter need not allow anything above.      */
    if (a->prog && (rc = sbx_seccomp_child_install (a->prog)) < 0)
        s_fail (fd, ST_SECCOMP, rc);
    syscall (SYS_execve, s_argv[0], s_argv, a->envp);
    s_fail (fd, ST_EXEC, errno);
    return 127;
}

/*  Spawn with this copy; returns the pid once the child exec'd.           */
static pid_t
s_spawn_copy (s_args_t *a)
{
    int report[2];
    if (pipe2 (report, O_CLOEXEC)) {
        bu_fail ("pipe2: %s", strerror (errno));
        return -1;
    }
    a->report_fd = report[1];
    a->parent = getpid ();
    pid_t pid;
    int errnum = 0;
    if (a->ns)
        pid = lns_spawn (s_ns, s_child_main, a, &errnum);
    else {
        int pidfd = -1;
        sigset_t all, saved;
        sigfillset (&all);
        sigprocmask (SIG_SETMASK, &all, &saved);
        pid = clone (s_child_main, s_stack_top, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                     a, &pidfd);
        errnum = errno;
        sigprocmask (SIG_SETMASK, &saved, NULL);
        if (pidfd >= 0)
            close (pidfd);              /* the worker polls it; we wait4 */
    }
    close (report[1]);
    if (pid < 0) {
        close (report[0]);
        bu_fail ("spawn: %s", strerror (errnum));
        return -1;
    }
    s_report_t r;
    ssize_t n;
    do
        n = read (report[0], &r, sizeof r);
    while (n < 0 && errno == EINTR);
    close (report[0]);
    if (n == (ssize_t) sizeof r) {
        while (waitpid (pid, NULL, __WALL) < 0 && errno == EINTR)
            ;
        if (r.step >= ST_NS * 100)
            bu_fail ("child step ns_setup/%s: %s", lns_step_name (r.step - ST_NS * 100),
                     strerror (r.err));
        else
            bu_fail ("child step %s: %s",
                     r.step >= 0 && r.step < ST_COUNT ? s_step_names[r.step] : "?",
                     strerror (r.err));
        return -1;
    }
    return pid;
}

/*  ---- one task ------------------------------------------------------------ */

static int
s_wait (pid_t pid)
{
    int status;
    struct rusage ru;
    while (wait4 (pid, &status, __WALL, &ru) < 0)
        if (errno != EINTR) {
            bu_fail ("wait4: %s", strerror (errno));
            return -1;
        }
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        bu_fail ("/bin/true ended with status 0x%x", status);
        return -1;
    }
    return 0;
}

static int
s_one (void *arg)
{
    (void) arg;
    char err[512] = "";
    int rc = -1;
    sbx_workspace_t *ws = NULL;
    const char *ws_path = s_fixed_path;
    int ws_fd = s_fixed_fd;
    int pipes[6] = { -1, -1, -1, -1, -1, -1 };
    int ruleset = -1;
    bool cg_made = false;
    if (s_layer >= L_WORKSPACE) {
        char id[64];
        snprintf (id, sizeof id, "b%d-%llu", (int) getpid (), (unsigned long long) ++s_task_no);
        ws = sbx_workspace_new (s_root, id, 1);
        if (!ws) {
            bu_fail ("sbx_workspace_new: %s", strerror (errno));
            return -1;
        }
        ws_path = sbx_workspace_path (ws);
        ws_fd = sbx_workspace_fd (ws);
    }
    char home[4200];
    snprintf (home, sizeof home, "HOME=%s", ws_path);
    char *envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", home, "LANG=C.UTF-8", NULL };
    if (pipe2 (pipes, O_CLOEXEC) || pipe2 (pipes + 2, O_CLOEXEC) || pipe2 (pipes + 4, O_CLOEXEC)) {
        bu_fail ("pipe2: %s", strerror (errno));
        goto done;
    }
    if (s_layer >= L_LANDLOCK) {
        sbx_landlock_spec_t spec = { .workspace = NULL, .workspace_fd = ws_fd, .abi = s_abi };
        if (sbx_landlock_prepare (&spec, &ruleset, err, sizeof err)) {
            bu_fail ("sbx_landlock_prepare: %s", err);
            goto done;
        }
    }
    if (s_ns && lns_prepare (s_ns, ws_path, ws_fd, s_abi, err, sizeof err)) {
        bu_fail ("sbx_ns_task_prepare: %s", err);
        goto done;
    }
    if (s_cg) {
        if (lcg_task_begin (s_cg, err, sizeof err)) {
            bu_fail ("sbx_cgroup_task_limit: %s", err);
            goto done;
        }
        cg_made = true;
    }
    pid_t pid;
    if (s_layer != L_BASE && !lch_unavailable ()) {
        /*  The worker's own spawn: child.c with its isolation hooks.      */
        lch_spec_t spec = {
            .path = s_argv[0], .argv = s_argv, .envp = envp,
            .stdin_fd = pipes[0], .stdout_fd = pipes[3], .stderr_fd = pipes[5],
            .workdir_fd = ws_fd, .rlimits = s_rlimits, .rlimit_count = RLIMIT_COUNT,
            .ns = s_ns ? lns_task (s_ns) : NULL, .cgroup = s_cg ? lcg_task (s_cg) : NULL,
            .caps = s_layer >= L_CAPS ? &s_plan : NULL, .landlock_fd = ruleset,
            .seccomp = s_layer >= L_SECCOMP ? sbx_seccomp_prog (s_seccomp, false) : NULL,
        };
        pid = lch_spawn (&spec, err, sizeof err);
        if (pid < 0) {
            bu_fail ("%s", err);
            goto done;
        }
    }
    else if (s_layer == L_CHILD) {
        bu_fail ("%s", lch_unavailable ());
        goto done;
    }
    else {
        s_args_t a = {
            .in_fd = pipes[0], .out_fd = pipes[3], .err_fd = pipes[5], .workdir_fd = ws_fd,
            .envp = envp, .ruleset_fd = ruleset,
            .prog = s_layer >= L_SECCOMP ? sbx_seccomp_prog (s_seccomp, false) : NULL,
            .caps = s_layer >= L_CAPS, .ns = s_ns, .cg = s_cg,
        };
        pid = s_spawn_copy (&a);
        if (pid < 0)
            goto done;
    }
    /*  The parent's ends, as the worker holds them, then the reaping.     */
    close (pipes[0]);
    close (pipes[3]);
    close (pipes[5]);
    pipes[0] = pipes[3] = pipes[5] = -1;
    rc = s_wait (pid);
done:
    for (int i = 0; i < 6; i++)
        if (pipes[i] >= 0)
            close (pipes[i]);
    if (ruleset >= 0)
        close (ruleset);
    if (cg_made && lcg_task_end (s_cg) && rc == 0) {
        bu_fail ("sbx_cgroup_task_kill: %s", strerror (errno));
        rc = -1;
    }
    if (ws) {
        if (sbx_workspace_remove (ws) && rc == 0) {
            bu_fail ("sbx_workspace_remove: %s", strerror (errno));
            rc = -1;
        }
        sbx_workspace_destroy (&ws);
    }
    return rc;
}

/*  ---- once per measuring process ----------------------------------------- */

static int
s_setup (void *arg)
{
    (void) arg;
    char err[512] = "";
    uint8_t *base = mmap (NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) {
        bu_fail ("mmap: %s", strerror (errno));
        return -1;
    }
    s_stack_top = base + STACK_SIZE;
    snprintf (s_fixed_path, sizeof s_fixed_path, "%s/fixed-%d", s_root, (int) getpid ());
    if (mkdir (s_fixed_path, 0700) && errno != EEXIST) {
        bu_fail ("mkdir %s: %s", s_fixed_path, strerror (errno));
        return -1;
    }
    s_fixed_fd = open (s_fixed_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s_fixed_fd < 0) {
        bu_fail ("open %s: %s", s_fixed_path, strerror (errno));
        return -1;
    }
    if (s_layer >= L_NS) {
        s_ns = lns_new (s_ns_want, s_ns_new_net, s_root, err, sizeof err);
        if (!s_ns) {
            bu_fail ("%s", err);
            return -1;
        }
    }
    if (s_cgroup) {
        s_cg = lcg_new (err, sizeof err);
        if (!s_cg) {
            bu_fail ("%s", err);
            return -1;
        }
    }
    if (s_layer >= L_CAPS) {
        /*  As sbx_caps.h recommends for a worker: the bounding set emptied
            once at start (skipped without CAP_SETPCAP, then each task
            drops it; either way what a worker would do).                  */
        sbx_caps_clear_bounding_set (err, sizeof err);
        bool root = geteuid () == 0;
        bool switch_ids = root && !(s_ns && lns_switches_ids (s_ns));
        if (sbx_caps_plan_init (&s_plan, switch_ids, TASK_UID, TASK_UID, err, sizeof err)) {
            bu_fail ("sbx_caps_plan_init: %s", err);
            return -1;
        }
        s_plan.pdeath_signal = SIGKILL;
        s_plan.parent = s_ns ? 0 : getpid ();
    }
    if (s_layer >= L_LANDLOCK) {
        s_abi = sbx_landlock_abi ();
        if (s_abi < 1) {
            bu_fail ("Landlock unavailable: %s", strerror (errno));
            return -1;
        }
        if (sbx_landlock_cache_system (err, sizeof err)) {
            bu_fail ("sbx_landlock_cache_system: %s", err);
            return -1;
        }
    }
    if (s_layer >= L_SECCOMP) {
        s_seccomp = sbx_seccomp_new (err, sizeof err);
        if (!s_seccomp) {
            bu_fail ("sbx_seccomp_new: %s", err);
            return -1;
        }
    }
    return 0;
}

static void
s_print_na (const char *why)
{
    printf ("{\"na\":\"%s\"}\n", why);
}

/*  `layers probe WORKDIR`: what sbx_ns and sbx_cgroup detect here, as
    {"ns": "line\nline...", "cgroup": "..."} (why a row is n/a).           */
static int
s_probe (const char *work_dir)
{
    char err[512] = "";
    if (sbx_workspace_prepare_root (work_dir, err, sizeof err)) {
        fprintf (stderr, "layers: %s\n", err);
        return 1;
    }
    static char lines[8192];
    lns_probe_lines (work_dir, lines, sizeof lines);
    lcg_t *cg = lcg_new (err, sizeof err);
    printf ("{\"ns\":\"");
    for (const char *p = lines; *p; p++)
        if (*p == '\n')
            printf ("\\n");
        else if (*p == '"' || *p == '\\')
            printf ("\\%c", *p);
        else if ((unsigned char) *p >= 0x20)
            putchar (*p);
    printf ("\",\"cgroup\":\"");
    const char *cgs = cg ? lcg_version (cg) : err;
    for (const char *p = cgs; *p; p++)
        if (*p == '"' || *p == '\\')
            printf ("\\%c", *p);
        else if ((unsigned char) *p >= 0x20)
            putchar (*p);
    printf ("\"}\n");
    lcg_destroy (&cg);
    return 0;
}

int
main (int argc, char **argv)
{
    if (argc == 3 && strcmp (argv[1], "probe") == 0)
        return s_probe (argv[2]);
    if (argc != 5) {
        fprintf (stderr, "usage: layers child|base|workspace|caps|landlock|seccomp|"
                         "ns:LIST|ns-new:LIST[+cgroup] PAR SECONDS WORKDIR\n");
        return 2;
    }
    static char name[512];
    snprintf (name, sizeof name, "%s", argv[1]);
    size_t len = strlen (name);
    if (len > 7 && strcmp (name + len - 7, "+cgroup") == 0) {
        s_cgroup = true;
        name[len - 7] = '\0';
    }
    static const char *const names[] = { "child", "base", "workspace", "caps", "landlock",
                                         "seccomp" };
    s_layer = L_UNKNOWN;
    for (int i = 0; i < (int) (sizeof names / sizeof names[0]); i++)
        if (strcmp (name, names[i]) == 0)
            s_layer = (layer_t) i;
    if (strncmp (name, "ns:", 3) == 0 || strncmp (name, "ns-new:", 7) == 0) {
        s_layer = L_NS;
        s_ns_new_net = name[2] == '-';
        s_ns_want = strchr (name, ':') + 1;
    }
    if (s_layer == L_UNKNOWN || (s_cgroup && s_layer == L_CHILD)) {
        fprintf (stderr, "layers: unknown layer '%s'\n", argv[1]);
        return 2;
    }
    if (s_layer == L_NS && lns_unavailable ()) {
        s_print_na (lns_unavailable ());
        return 0;
    }
    if (s_cgroup && lcg_unavailable ()) {
        s_print_na (lcg_unavailable ());
        return 0;
    }
    int par = (int) bu_arg_num ("PAR", argv[2]);
    double seconds = bu_arg_num ("SECONDS", argv[3]);
    s_root = argv[4];
    char err[512] = "";
    if (sbx_workspace_prepare_root (s_root, err, sizeof err)) {
        fprintf (stderr, "layers: %s\n", err);
        return 1;
    }
    /*  With the mount layer, child B binds its workspace from work_dir as
        the task's uid (host 200000+slot when we are root): work_dir must
        be searchable by it, which the 0700 of sbx_workspace_prepare_root
        is not (bind_workspace: EACCES). 0711: enter, but not list.        */
    if (s_layer == L_NS && chmod (s_root, 0711)) {
        fprintf (stderr, "layers: chmod %s: %s\n", s_root, strerror (errno));
        return 1;
    }
    /*  A layer this machine or this process cannot have is n/a, not a
        failure: try it here once before measuring.                        */
    if (s_layer == L_NS) {
        lns_t *probe = lns_new (s_ns_want, s_ns_new_net, s_root, err, sizeof err);
        if (!probe) {
            s_print_na (err);
            return 0;
        }
        lns_destroy (&probe);
    }
    if (s_cgroup) {
        lcg_t *probe = lcg_new (err, sizeof err);
        if (!probe) {
            s_print_na (err);
            return 0;
        }
        lcg_destroy (&probe);
    }
    bu_job_t job = { .setup = s_setup, .one = s_one, .warmup = 10 };
    bu_result_t res;
    int rc = bu_measure (&job, par, seconds, &res);
    char extra[600] = "";
    size_t n = (size_t) snprintf (extra, sizeof extra, ",\"path\":\"%s\"",
                                  s_layer == L_BASE || lch_unavailable () ? "copy" : "child.c");
    if (s_layer == L_NS) {
        /*  What the module put in effect: asked again in this process.    */
        lns_t *probe = lns_new (s_ns_want, s_ns_new_net, s_root, err, sizeof err);
        n += (size_t) snprintf (extra + n, sizeof extra - n, ",\"layers\":\"%s\"",
                                probe ? lns_active (probe) : "?");
        lns_destroy (&probe);
    }
    if (s_cgroup) {
        lcg_t *probe = lcg_new (err, sizeof err);
        snprintf (extra + n, sizeof extra - n, ",\"cgroup\":\"%s\"",
                  probe ? lcg_version (probe) : "?");
        lcg_destroy (&probe);
    }
    bu_print_result (&res, par, extra);
    bu_samples_free (&res.lat);
    return rc ? 1 : 0;
}
