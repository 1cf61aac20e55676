/*  child.c - the ordered set-up of a task process (see child.h).

    Spawn method: clone (CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD) on
    a stack of our own. With CLONE_VM the child borrows the worker's address
    space until execve, so the spawn cost stays flat (~0.5-0.9 ms) however
    large the worker is, whereas fork () copies page tables (≈35 µs per MB;
    an ASan build maps terabytes of shadow). CLONE_VFORK suspends the
    calling thread until the child has exec'd or exited, so the one child
    stack can be reused by the next spawn and the report pipe can be read
    without blocking. The child shares memory with the worker: it must not
    write anything but its own stack, call malloc, take locks, or go
    through ASan interceptors. Hence raw syscall () only, and the child's
    functions are built without sanitizer instrumentation (an instrumented
    frame would poison shadow memory that the parent later reuses).

    Signals: the parent blocks every signal around the clone so that no
    handler of the worker (ASan installs some) can run on the child's
    stack; the child resets dispositions first and unblocks last.
*/
#define _GNU_SOURCE
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
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

#define CHILD_STACK_SIZE (256u * 1024u)
#define REPORT_FD 3                     /* where the report pipe lives in the child */

/*  No instrumentation in code that runs between clone and execve.         */
#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

_Static_assert (sizeof (rlim_t) == 8, "prlimit64 takes 64-bit limits");

static const char *const s_step_names[SBX_STEP_COUNT_] = {
    [SBX_STEP_NONE] = "spawn",
    [SBX_STEP_SIGNALS] = "signals",
    [SBX_STEP_SESSION] = "session",
    [SBX_STEP_PARENT_DEATH] = "parent_death",
    [SBX_STEP_WORKDIR] = "workdir",
    [SBX_STEP_STDIO] = "stdio",
    [SBX_STEP_CLOSE_FDS] = "close_fds",
    [SBX_STEP_RLIMITS] = "rlimits",
    [SBX_STEP_SIGMASK] = "sigmask",
    [SBX_STEP_EXEC] = "exec",
};

const char *
sbx_child_step_name (int step)
{
    if (step < 0 || step >= SBX_STEP_COUNT_)
        return "unknown";
    return s_step_names[step];
}

/*  What the child reads: the spec plus what spawn adds.                    */
typedef struct {
    const sbx_child_spec_t *spec;       /* caller's description */
    pid_t parent;                       /* worker pid, for parent_death */
    int report_fd;                      /* write end of the report pipe */
} child_args_t;

typedef struct {
    int32_t step;                       /* sbx_step_t that failed */
    int32_t err;                        /* its errno */
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
s_step_session (void)
{
    return syscall (SYS_setsid) < 0 ? errno : 0;
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
s_step_stdio (const sbx_child_spec_t *spec, int report_fd)
{
    /*  Sources are >= 3 (checked by the parent), so dup2 onto 0..2 never
        clobbers a source, and dup2 clears close-on-exec on the copies.     */
    if (syscall (SYS_dup2, spec->stdin_fd, 0) < 0
        || syscall (SYS_dup2, spec->stdout_fd, 1) < 0
        || syscall (SYS_dup2, spec->stderr_fd, 2) < 0)
        return errno;
    if (report_fd != REPORT_FD
        && syscall (SYS_dup3, report_fd, REPORT_FD, O_CLOEXEC) < 0)
        return errno;
    return 0;
}

CHILD_CODE static int
s_step_workdir (const sbx_child_spec_t *spec)
{
    return syscall (SYS_fchdir, spec->workdir_fd) < 0 ? errno : 0;
}

CHILD_CODE static int
s_step_close_fds (void)
{
    /*  Everything but stdio and the report pipe (close-on-exec).          */
    return syscall (SYS_close_range, REPORT_FD + 1, ~0U, 0) < 0 ? errno : 0;
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
s_step_sigmask (void)
{
    uint64_t none = 0;
    return syscall (SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8) < 0 ? errno : 0;
}

CHILD_CODE static int
s_step_exec (const sbx_child_spec_t *spec)
{
    syscall (SYS_execve, spec->path, spec->argv, spec->envp);
    return errno;                       /* only reached on failure */
}

/*  ---- the child ---------------------------------------------------------- */

CHILD_CODE static void
s_fail (int report_fd, int step, int err)
{
    child_report_t report = { step, err };
    syscall (SYS_write, report_fd, &report, sizeof report);
    syscall (SYS_exit, 127);
}

/*  The order is the security: see child.h. Each step either succeeds or
    ends the child with a report naming it.                                 */
CHILD_CODE static int
s_child_main (void *arg)
{
    const child_args_t *args = arg;
    const sbx_child_spec_t *spec = args->spec;
    int report = args->report_fd;
    int err;

    if ((err = s_step_signals ()))
        s_fail (report, SBX_STEP_SIGNALS, err);
    if ((err = s_step_session ()))
        s_fail (report, SBX_STEP_SESSION, err);
    if ((err = s_step_parent_death (args->parent)))
        s_fail (report, SBX_STEP_PARENT_DEATH, err);
    if ((err = s_step_workdir (spec)))
        s_fail (report, SBX_STEP_WORKDIR, err);
    if ((err = s_step_stdio (spec, report)))
        s_fail (report, SBX_STEP_STDIO, err);
    report = REPORT_FD;
    if ((err = s_step_close_fds ()))
        s_fail (report, SBX_STEP_CLOSE_FDS, err);
    if ((err = s_step_rlimits (spec)))
        s_fail (report, SBX_STEP_RLIMITS, err);
    if ((err = s_step_sigmask ()))
        s_fail (report, SBX_STEP_SIGMASK, err);
    err = s_step_exec (spec);
    s_fail (report, SBX_STEP_EXEC, err);
    return 127;
}

/*  ---- the parent --------------------------------------------------------- */

/*  One stack for every child: CLONE_VFORK keeps the spawning thread
    suspended while a child uses it, and only the worker's event-loop thread
    spawns. Mapped once, with a guard page below it.                        */
static uint8_t *
s_child_stack_top (void)
{
    static uint8_t *top;
    if (!top) {
        size_t page = (size_t) sysconf (_SC_PAGESIZE);
        uint8_t *base = mmap (NULL, CHILD_STACK_SIZE + page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (base == MAP_FAILED)
            return NULL;
        mprotect (base, page, PROT_NONE);
        top = base + page + CHILD_STACK_SIZE;
    }
    return top;
}

int
sbx_child_spawn (const sbx_child_spec_t *spec, pid_t *pid, int *pidfd,
                 int *step, int *err)
{
    *step = SBX_STEP_NONE;
    *err = 0;
    if (spec->stdin_fd < REPORT_FD || spec->stdout_fd < REPORT_FD
        || spec->stderr_fd < REPORT_FD || spec->workdir_fd < REPORT_FD
        || spec->rlimit_count > SBX_CHILD_RLIMITS_MAX) {
        *err = EINVAL;
        return -1;
    }
    uint8_t *stack = s_child_stack_top ();
    if (!stack) {
        *err = errno;
        return -1;
    }
    int report[2];
    if (pipe2 (report, O_CLOEXEC)) {
        *err = errno;
        return -1;
    }
    child_args_t args = { spec, getpid (), report[1] };
    int fd = -1;

    sigset_t all, saved;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    pid_t child = clone (s_child_main, stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD,
                         &args, &fd);
    int clone_errno = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    close (report[1]);

    if (child < 0) {
        close (report[0]);
        *err = clone_errno;
        return -1;
    }
    /*  The child has exec'd (the pipe closed on exec: EOF) or failed and
        written its report before exiting: either way this never blocks.    */
    child_report_t rep;
    ssize_t n;
    do
        n = read (report[0], &rep, sizeof rep);
    while (n < 0 && errno == EINTR);
    close (report[0]);
    if (n == (ssize_t) sizeof rep) {
        int status;
        while (waitpid (child, &status, 0) < 0 && errno == EINTR)
            ;
        close (fd);
        *step = rep.step;
        *err = rep.err;
        return -1;
    }
    *pid = child;
    *pidfd = fd;
    return 0;
}
