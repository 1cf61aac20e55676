/*  child.c - the ordered set-up of a task process (see child.h).

    Spawn method: clone (CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD) on
    a stack of our own. With CLONE_VM the child borrows the worker's address
    space until execve, so the spawn cost stays flat (~0.5-0.9 ms) however
    large the worker is, whereas fork () copies page tables (≈35 µs per MB;
    an ASan build maps terabytes of shadow). CLONE_VFORK suspends the
    calling thread until the child has exec'd or exited, so that thread's
    child stacks can be reused by its next spawn and the report pipe can be
    read without blocking. Several threads may spawn at once (the worker's
    spawner threads, isolation.c): each has its own stacks. The child shares memory with the worker: it must not
    write anything but its own stack (and the one word where A leaves B's
    pid), call malloc, take locks, or go through ASan interceptors. Hence
    raw syscall () only, and the child's functions are built without
    sanitizer instrumentation (an instrumented frame would poison shadow
    memory that the parent later reuses). The isolation modules' child
    functions (sbx_ns_child_*, sbx_cgroup_child_join, sbx_caps_child_*,
    sbx_landlock_child_restrict, sbx_seccomp_child_install) obey the same
    rules.

    With namespaces the child (A) starts the task (B) with a second
    CLONE_VM | CLONE_VFORK clone (sbx_ns_child_clone_on, on the spawning
    thread's second stack): a new PID namespace applies to children only. B is a child of
    the worker (CLONE_PARENT); A exits 0 once B has exec'd or failed, and
    the worker, released, reaps A and opens a pidfd on B.

    Signals: the parent blocks every signal around the clone so that no
    handler of the worker (ASan installs some) can run on the child's
    stack; the child resets dispositions first and unblocks last.
*/
#define _GNU_SOURCE
#include "child.h"
#include "sbx_landlock.h"
#include "sbx_seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define CHILD_STACK_SIZE (256u * 1024u)
#define FIRST_FREE_FD 3                 /* after stdio */

/*  No instrumentation in code that runs between clone and execve.         */
#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

_Static_assert (sizeof (rlim_t) == 8, "prlimit64 takes 64-bit limits");

static const char *const s_step_names[SBX_STEP_COUNT_] = {
    [SBX_STEP_NONE] = "spawn",
    [SBX_STEP_SIGNALS] = "signals",
    [SBX_STEP_PARENT_DEATH] = "parent_death",
    [SBX_STEP_WORKDIR] = "workdir",
    [SBX_STEP_NS_JOIN] = "ns_join",
    [SBX_STEP_NS_CLONE] = "ns_clone",
    [SBX_STEP_CGROUP] = "cgroup",
    [SBX_STEP_NS_SETUP] = "ns_setup",
    [SBX_STEP_SESSION] = "session",
    [SBX_STEP_STDIO] = "stdio",
    [SBX_STEP_CLOSE_FDS] = "close_fds",
    [SBX_STEP_RLIMITS] = "rlimits",
    [SBX_STEP_NO_NEW_PRIVS] = "no_new_privs",
    [SBX_STEP_CAPS] = "caps",
    [SBX_STEP_LANDLOCK] = "landlock",
    [SBX_STEP_SIGMASK] = "sigmask",
    [SBX_STEP_SECCOMP] = "seccomp",
    [SBX_STEP_EXEC] = "exec",
};

const char *
sbx_child_step_name (int step)
{
    if (step < 0 || step >= SBX_STEP_COUNT_)
        return "unknown";
    return s_step_names[step];
}

/*  What the children read: the spec plus what spawn adds. Lives on the
    parent's stack; A writes task_pid, nothing else is written.            */
typedef struct {
    const sbx_child_spec_t *spec;       /* caller's description */
    uint8_t *b_stack_top;               /* B's stack (namespaces) */
    pid_t parent;                       /* worker pid, for parent_death */
    int report_fd;                      /* write end of the report pipe */
    volatile long task_pid;             /* B's pid, stored by A */
} child_args_t;

typedef struct {
    int32_t step;                       /* sbx_step_t that failed */
    int32_t err;                        /* its errno */
    int32_t sub;                        /* ns_join / ns_setup part, else 0 */
} child_report_t;

/*  The kernel's struct sigaction for rt_sigaction (not glibc's).           */
typedef struct {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
} kernel_sigaction_t;

/*  ---- steps: each returns 0 or an errno --------------------------------- */

CHILD_CODE static int
s_step_signals (void)
{
    kernel_sigaction_t dfl = { 0 };     /* SIG_DFL, no flags, empty mask */
    for (long sig = 1; sig < 65; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        /*  EINVAL for numbers the kernel refuses is fine: nothing to reset. */
        syscall (SYS_rt_sigaction, sig, &dfl, NULL, 8);
    }
    return 0;
}

CHILD_CODE static int
s_step_parent_death (pid_t parent)
{
    if (syscall (SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        return errno;
    /*  The worker may have died before the prctl took effect.              */
    if (syscall (SYS_getppid) != parent)
        return ESRCH;
    return 0;
}

CHILD_CODE static int
s_step_workdir (const sbx_child_spec_t *spec)
{
    return syscall (SYS_fchdir, spec->workdir_fd) < 0 ? errno : 0;
}

CHILD_CODE static int
s_step_ns_join (const sbx_ns_task_t *nt, int *sub)
{
    int rc = sbx_ns_child_join (nt, sub);
    return rc < 0 ? -rc : 0;
}

CHILD_CODE static int s_task_main (void *arg);

/*  A: start B (the task, which runs the rest of the steps) and leave its
    pid where the worker reads it. Returns when B has exec'd or failed.    */
CHILD_CODE static int
s_step_ns_clone (child_args_t *args)
{
    long pid = sbx_ns_child_clone_on (args->spec->iso.ns, args->b_stack_top, s_task_main, args);
    if (pid < 0)
        return (int) -pid;
    args->task_pid = pid;
    return 0;
}

CHILD_CODE static int
s_step_cgroup (const sbx_cgroup_task_t *ct)
{
    int rc = sbx_cgroup_child_join (ct);
    return rc < 0 ? -rc : 0;
}

CHILD_CODE static int
s_step_ns_setup (const sbx_ns_task_t *nt, int *sub)
{
    int rc = sbx_ns_child_setup (nt, sub);
    return rc < 0 ? -rc : 0;
}

CHILD_CODE static int
s_step_session (void)
{
    return syscall (SYS_setsid) < 0 ? errno : 0;
}

CHILD_CODE static int
s_step_stdio (const sbx_child_spec_t *spec)
{
    /*  Sources are >= 3 (checked by the parent), so dup2 onto 0..2 never
        clobbers a source, and dup2 clears close-on-exec on the copies.     */
    if (syscall (SYS_dup2, spec->stdin_fd, 0) < 0
        || syscall (SYS_dup2, spec->stdout_fd, 1) < 0
        || syscall (SYS_dup2, spec->stderr_fd, 2) < 0)
        return errno;
    return 0;
}

/*  Everything above stdio but keep_a and keep_b (each -1 or >= 3; both are
    close-on-exec, so execve closes them): nothing of the worker leaks in,
    and RLIMIT_NOFILE leaves room for the descriptors the set-up opens.    */
CHILD_CODE static int
s_step_close_fds (int keep_a, int keep_b)
{
    if (keep_a > keep_b) {
        int t = keep_a;
        keep_a = keep_b;
        keep_b = t;
    }
    unsigned from = FIRST_FREE_FD;
    int keep[2] = { keep_a, keep_b };
    for (int i = 0; i < 2; i++) {
        if (keep[i] < FIRST_FREE_FD || (unsigned) keep[i] < from)
            continue;
        if ((unsigned) keep[i] > from
            && syscall (SYS_close_range, from, (unsigned) keep[i] - 1, 0) < 0)
            return errno;
        from = (unsigned) keep[i] + 1;
    }
    return syscall (SYS_close_range, from, ~0U, 0) < 0 ? errno : 0;
}

CHILD_CODE static int
s_step_rlimits (const sbx_child_spec_t *spec)
{
    for (size_t i = 0; i < spec->rlimit_count; i++)
        if (syscall (SYS_prlimit64, 0, spec->rlimits[i].resource,
                     &spec->rlimits[i].value, NULL) < 0)
            return errno;
    return 0;
}

CHILD_CODE static int
s_step_no_new_privs (void)
{
    int rc = sbx_caps_child_no_new_privs ();
    return rc < 0 ? -rc : 0;
}

CHILD_CODE static int
s_step_caps (const sbx_caps_plan_t *plan)
{
    int rc = sbx_caps_child_drop (plan);
    return rc < 0 ? -rc : 0;
}

/*  The fresh mounts (/tmp, /dev/shm, /proc) get their rules here, where
    they exist; the rest of the ruleset was built by the parent.           */
CHILD_CODE static int
s_step_landlock (const sbx_child_iso_t *iso)
{
    int rc;
    if (iso->ns && (rc = sbx_ns_child_landlock_rules (iso->ns, iso->landlock_fd)) < 0)
        return -rc;
    rc = sbx_landlock_child_restrict (iso->landlock_fd);
    return rc < 0 ? -rc : 0;
}

CHILD_CODE static int
s_step_sigmask (void)
{
    uint64_t none = 0;
    return syscall (SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8) < 0 ? errno : 0;
}

CHILD_CODE static int
s_step_seccomp (const struct sock_fprog *prog)
{
    int rc = sbx_seccomp_child_install (prog);
    return rc < 0 ? -rc : 0;
}

CHILD_CODE static int
s_step_exec (const sbx_child_spec_t *spec)
{
    syscall (SYS_execve, spec->path, spec->argv, spec->envp);
    return errno;                       /* only reached on failure */
}

/*  ---- the child ---------------------------------------------------------- */

CHILD_CODE static void
s_fail (const child_args_t *args, int step, int err, int sub)
{
    child_report_t report = { step, err, sub };
    syscall (SYS_write, args->report_fd, &report, sizeof report);
    syscall (SYS_exit, 127);
}

#define STEP(id, call)                                                       \
    do {                                                                     \
        int err_ = (call);                                                   \
        if (err_)                                                            \
            s_fail (args, (id), err_, sub);                                  \
    } while (0)

/*  THE list: every step of a task's set-up, in order; the order is the
    security (see child.h). The worker's child enters at the top (task
    false); with namespaces it stops at ns_clone, and the task it starts
    (B) enters below the line (task true). Each step either succeeds or
    ends the process with a report naming it.                              */
CHILD_CODE static void
s_steps (child_args_t *args, bool task)
{
    const sbx_child_spec_t *spec = args->spec;
    const sbx_child_iso_t *iso = &spec->iso;
    int sub = 0;

    if (!task) {
        STEP (SBX_STEP_SIGNALS, s_step_signals ());
        if (!iso->ns)
            STEP (SBX_STEP_PARENT_DEATH, s_step_parent_death (args->parent));
        STEP (SBX_STEP_WORKDIR, s_step_workdir (spec));
        if (iso->ns) {
            STEP (SBX_STEP_NS_JOIN, s_step_ns_join (iso->ns, &sub));
            STEP (SBX_STEP_NS_CLONE, s_step_ns_clone (args));
            syscall (SYS_exit, 0);      /* A is done; B ran the rest */
        }
    }
    /*  ---- the task ---------------------------------------------------- */
    if (iso->cgroup)
        STEP (SBX_STEP_CGROUP, s_step_cgroup (iso->cgroup));
    if (iso->ns)
        STEP (SBX_STEP_NS_SETUP, s_step_ns_setup (iso->ns, &sub));
    STEP (SBX_STEP_SESSION, s_step_session ());
    STEP (SBX_STEP_STDIO, s_step_stdio (spec));
    STEP (SBX_STEP_CLOSE_FDS, s_step_close_fds (args->report_fd, iso->landlock_fd));
    STEP (SBX_STEP_RLIMITS, s_step_rlimits (spec));
    /*  "Never gain any more privileges during exec", before the isolation
        steps that need it (Landlock and seccomp for an unprivileged task). */
    if (iso->caps || iso->landlock_fd >= FIRST_FREE_FD || iso->seccomp || iso->ns)
        STEP (SBX_STEP_NO_NEW_PRIVS, s_step_no_new_privs ());
    if (iso->caps)
        STEP (SBX_STEP_CAPS, s_step_caps (iso->caps));
    if (iso->landlock_fd >= FIRST_FREE_FD)
        STEP (SBX_STEP_LANDLOCK, s_step_landlock (iso));
    STEP (SBX_STEP_SIGMASK, s_step_sigmask ());
    /*  Last before execve, so that the filter need not allow anything the
        set-up does, and the task never runs unfiltered.                   */
    if (iso->seccomp)
        STEP (SBX_STEP_SECCOMP, s_step_seccomp (iso->seccomp));
    s_fail (args, SBX_STEP_EXEC, s_step_exec (spec), 0);
}

#undef STEP

/*  The worker's child (A, or the one child without namespaces).           */
CHILD_CODE static int
s_child_main (void *arg)
{
    s_steps (arg, false);
    return 127;
}

/*  B: the task in its namespaces.                                          */
CHILD_CODE static int
s_task_main (void *arg)
{
    s_steps (arg, true);
    return 127;
}

/*  ---- the parent --------------------------------------------------------- */

/*  The spawning thread's two child stacks (A, and B with namespaces):
    CLONE_VFORK keeps the thread suspended while a child uses them, and a
    thread spawns one task at a time (the worker's event loop, or a slot's
    spawner thread: isolation.c). Mapped on the thread's first spawn, each
    with a guard page below it; they live as long as the thread.           */
static __thread uint8_t *s_stack_tops[2];

static int
s_child_stacks (void)
{
    if (s_stack_tops[0])
        return 0;
    size_t page = (size_t) sysconf (_SC_PAGESIZE);
    size_t one = page + CHILD_STACK_SIZE;
    uint8_t *base = mmap (NULL, 2 * one, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED)
        return -1;
    mprotect (base, page, PROT_NONE);
    mprotect (base + one, page, PROT_NONE);
    s_stack_tops[0] = base + one;
    s_stack_tops[1] = base + 2 * one;
    return 0;
}

static void
s_reap (pid_t pid, int *status)
{
    int ignored;
    while (waitpid (pid, status ? status : &ignored, __WALL) < 0 && errno == EINTR)
        ;
}

int
sbx_child_spawn (const sbx_child_spec_t *spec, pid_t *pid, int *pidfd, int *step, int *err)
{
    sbx_child_failure_t why;
    int rc = sbx_child_start (spec, pid, pidfd, &why);
    *step = why.step;
    *err = why.err;
    return rc;
}

int
sbx_child_start (const sbx_child_spec_t *spec, pid_t *pid, int *pidfd,
                 sbx_child_failure_t *why)
{
    why->step = SBX_STEP_NONE;
    why->err = 0;
    why->sub = 0;
    int *step = &why->step, *err = &why->err, *sub = &why->sub;
    const sbx_child_iso_t *iso = &spec->iso;
    if (spec->stdin_fd < FIRST_FREE_FD || spec->stdout_fd < FIRST_FREE_FD
        || spec->stderr_fd < FIRST_FREE_FD || spec->workdir_fd < FIRST_FREE_FD
        || spec->rlimit_count > SBX_CHILD_RLIMITS_MAX) {
        *err = EINVAL;
        return -1;
    }
    if (s_child_stacks ()) {
        *err = errno;
        return -1;
    }
    int report[2];
    if (pipe2 (report, O_CLOEXEC)) {
        *err = errno;
        return -1;
    }
    child_args_t args = { spec, s_stack_tops[1], getpid (), report[1], 0 };
    int fd = -1;
    /*  A pidfd of the one child is the task's; A's would be of no use.     */
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (iso->ns ? 0 : CLONE_PIDFD);

    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    pid_t child = clone (s_child_main, s_stack_tops[0], flags, &args, &fd);
    int clone_errno = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    close (report[1]);

    if (child < 0) {
        close (report[0]);
        *err = clone_errno;
        return -1;
    }
    /*  The task has exec'd (the pipe closed on exec: EOF) or a child failed
        and wrote its report before exiting; with namespaces A has exited
        either way. So this never blocks.                                   */
    child_report_t rep;
    ssize_t n;
    do
        n = read (report[0], &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    close (report[0]);
    bool failed = n == (ssize_t) sizeof rep;
    if (failed) {
        *step = rep.step;
        *err = rep.err;
        *sub = rep.sub;
    }
    if (!iso->ns) {
        if (failed) {
            s_reap (child, NULL);
            close (fd);
            return -1;
        }
        *pid = child;
        *pidfd = fd;
        return 0;
    }

    /*  Two stages: A is done (exited 0, or 127 with a report).            */
    int status = 0;
    s_reap (child, &status);
    pid_t task = (pid_t) args.task_pid;
    if (!failed && (task <= 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0)) {
        /*  A died without a word (killed): nothing must run half-made.    */
        failed = true;
        *step = SBX_STEP_NS_CLONE;
        *err = EIO;
    }
    if (!failed) {
        fd = (int) syscall (SYS_pidfd_open, task, 0);
        if (fd < 0) {
            failed = true;
            *step = SBX_STEP_NONE;
            *err = errno;
            kill (task, SIGKILL);
        }
    }
    if (failed) {
        if (task > 0)
            s_reap (task, NULL);
        return -1;
    }
    *pid = task;
    *pidfd = fd;
    return 0;
}
