/*  child.h - start one task process: a fresh child, set up in a fixed order.

    Everything the child needs is prepared by the caller BEFORE the clone
    (executable path, argv, envp, rlimit values, descriptors, the compiled
    seccomp program, the Landlock ruleset, the namespaces to join, the
    capability plan, the cgroup to join): between clone and execve the
    child makes raw system calls only, because libzmq runs threads and the
    test build runs under ASan, neither of which tolerates malloc, locks or
    interceptors in a half-made process.

    The steps, in order (sbx_child_step_name () gives their names). Without
    namespaces one child runs them all; with them the worker's child (A)
    runs the first block and starts the task (B) at ns_clone, and B, PID 1
    of a new PID namespace and a child of the worker, runs the rest:

      signals       every disposition back to SIG_DFL (SIGPIPE is ignored
                    in the worker; ignored signals survive execve)
      parent_death  SIGKILL the task if the worker dies (one-stage only:
                    with namespaces ns_setup arms it, through a pidfd check)
      workdir       fchdir into the task's workspace
      ns_join       A: setns into the slot's user, network and mount
                    namespaces (before stdio and close_fds: the namespace
                    descriptors may have any number)
      ns_clone      A: clone B into new PID, mount, IPC and UTS namespaces
                    (CLONE_VM | CLONE_VFORK | CLONE_PARENT); A then exits
    ---- the task (B, or the one child) -------------------------------------
      cgroup        write itself into the task's cgroup, first, so that
                    every process of the task is counted and killable
      ns_setup      ids, cgroup ns, hostname, the private mounts (/tmp,
                    /dev/shm, the workspace, /proc), cwd, parent death
      session       setsid: own session and process group, so the worker
                    can kill the whole group with kill (-pgid, SIGKILL)
      stdio         task pipes onto 0, 1, 2
      close_fds     close everything else but the report pipe and the
                    Landlock ruleset (both close-on-exec)
      rlimits       CPU, address space, processes, file size, files, core
      no_new_privs  PR_SET_NO_NEW_PRIVS, the first isolation step: execve
                    never grants privileges again (setuid, file caps)
      caps          every capability dropped; as root without a user
                    namespace, also the uid/gid switch to the slot's ids
      landlock      rules for the fresh mounts, then landlock_restrict_self
                    (after the mounts and the id switch, which a Landlocked
                    process could not do or which Landlock would judge)
      sigmask       unblock every signal (the worker blocks TERM/INT)
      seccomp       the filter, LAST before execve: every later system call
                    is filtered too, so the filter need allow nothing the
                    set-up uses (mount, setns, capset, landlock...)
      exec          execve with the scrubbed environment

    A failing step writes {step, errno, sub-step} to a close-on-exec pipe and
    exits 127; the parent reads it after the clone returns, so it can tell
    "the sandbox could not be made" from "the program failed".
*/
#ifndef SBX_CHILD_H_INCLUDED
#define SBX_CHILD_H_INCLUDED

#include "sbx_caps.h"
#include "sbx_cgroup.h"
#include "sbx_ns.h"

#include <linux/filter.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef enum {
    SBX_STEP_NONE = 0,                  /* parent side (pipe, clone) */
    SBX_STEP_SIGNALS,
    SBX_STEP_PARENT_DEATH,
    SBX_STEP_WORKDIR,
    SBX_STEP_NS_JOIN,
    SBX_STEP_NS_CLONE,
    SBX_STEP_CGROUP,
    SBX_STEP_NS_SETUP,
    SBX_STEP_SESSION,
    SBX_STEP_STDIO,
    SBX_STEP_CLOSE_FDS,
    SBX_STEP_RLIMITS,
    SBX_STEP_NO_NEW_PRIVS,
    SBX_STEP_CAPS,
    SBX_STEP_LANDLOCK,
    SBX_STEP_SIGMASK,
    SBX_STEP_SECCOMP,
    SBX_STEP_EXEC,
    SBX_STEP_COUNT_
} sbx_step_t;

#define SBX_CHILD_RLIMITS_MAX 8

typedef struct {
    int resource;                       /* RLIMIT_* */
    struct rlimit value;                /* soft and hard */
} sbx_rlimit_t;

/*  The isolation layers of one spawn; a zeroed struct adds none.           */
typedef struct {
    const sbx_ns_task_t *ns;            /* namespaces (two stages), NULL: none */
    const sbx_cgroup_task_t *cgroup;    /* group to join, NULL: none */
    const sbx_caps_plan_t *caps;        /* capability drop, NULL: none */
    int landlock_fd;                    /* ruleset (>= 3), else none */
    const struct sock_fprog *seccomp;   /* filter, NULL: none */
} sbx_child_iso_t;

/*  What to start. Every pointer must stay valid during sbx_child_spawn.   */
typedef struct {
    const char *path;                   /* executable, resolved by the caller */
    char *const *argv;                  /* NULL-terminated */
    char *const *envp;                  /* NULL-terminated, already scrubbed */
    int stdin_fd;                       /* child ends of the task pipes, each >= 3 */
    int stdout_fd;
    int stderr_fd;
    int workdir_fd;                     /* directory to run in, >= 3 */
    sbx_rlimit_t rlimits[SBX_CHILD_RLIMITS_MAX];  /* applied in order */
    size_t rlimit_count;
    sbx_child_iso_t iso;                /* isolation layers */
} sbx_child_spec_t;

/*  Why a spawn failed.                                                     */
typedef struct {
    int step;                           /* sbx_step_t (SBX_STEP_NONE: the parent
                                           could not even clone) */
    int err;                            /* its errno */
    int sub;                            /* part of ns_join / ns_setup that failed
                                           (sbx_ns_step_name), else 0 */
} sbx_child_failure_t;

/*  Start the child. On success returns 0 after the task has called execve
    (vfork semantics), with its pid and a pidfd (close-on-exec) that becomes
    readable when it exits; with namespaces the task is the second stage
    (B), also a child of the caller. On failure returns -1 with *why filled;
    every child that was started has been reaped.                           */
int sbx_child_start (const sbx_child_spec_t *spec, pid_t *pid, int *pidfd,
                     sbx_child_failure_t *why);

/*  The same, failure as step and errno only.                              */
int sbx_child_spawn (const sbx_child_spec_t *spec, pid_t *pid, int *pidfd,
                     int *step, int *err);

/*  Name of a step for messages: "session", "rlimits", ...                  */
const char *sbx_child_step_name (int step);

#endif
