/*  child.h - start one task process: a fresh child, set up in a fixed order.

    Everything the child needs is prepared by the caller BEFORE the clone
    (executable path, argv, envp, rlimit values, descriptors): between
    clone and execve the child makes raw system calls only, because libzmq
    runs threads and the test build runs under ASan, neither of which
    tolerates malloc, locks or interceptors in a half-made process.

    The steps, in order (sbx_child_step_name () gives their names):
      signals       every disposition back to SIG_DFL (SIGPIPE is ignored
                    in the worker; ignored signals survive execve)
      session       setsid: own session and process group, so the worker
                    can kill the whole group with kill (-pgid, SIGKILL)
      parent_death  SIGKILL the task if the worker dies
      workdir       fchdir into the task's workspace (before stdio, which
                    may reuse the descriptor's number)
      stdio         task pipes onto 0, 1, 2; the report pipe onto fd 3
      close_fds     close_range (4, ~0U): nothing of the worker leaks in
      rlimits       CPU, address space, processes, file size, files, core
      sigmask       unblock every signal (the worker blocks TERM/INT)
      exec          execve with the scrubbed environment
    The isolation issue inserts no_new_privs, namespaces, Landlock and (last
    before exec, so the filter need not allow anything above it) seccomp as
    further steps.

    A failing step writes {step, errno} to a close-on-exec pipe and exits
    127; the parent reads it after the clone returns, so it can tell "the
    sandbox could not be made" from "the program failed".
*/
#ifndef SBX_CHILD_H_INCLUDED
#define SBX_CHILD_H_INCLUDED

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef enum {
    SBX_STEP_NONE = 0,                  /* parent side (pipe, clone) */
    SBX_STEP_SIGNALS,
    SBX_STEP_SESSION,
    SBX_STEP_PARENT_DEATH,
    SBX_STEP_WORKDIR,
    SBX_STEP_STDIO,
    SBX_STEP_CLOSE_FDS,
    SBX_STEP_RLIMITS,
    SBX_STEP_SIGMASK,
    SBX_STEP_EXEC,
    SBX_STEP_COUNT_
} sbx_step_t;

#define SBX_CHILD_RLIMITS_MAX 8

typedef struct {
    int resource;                       /* RLIMIT_* */
    struct rlimit value;                /* soft and hard */
} sbx_rlimit_t;

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
} sbx_child_spec_t;

/*  Start the child. On success returns 0 after the child has called
    execve (vfork semantics), with its pid and a pidfd (close-on-exec) that
    becomes readable when it exits. On failure returns -1 with *step the
    failed step (SBX_STEP_NONE: the parent could not even clone) and *err
    its errno; a child that failed has been reaped.                         */
int sbx_child_spawn (const sbx_child_spec_t *spec, pid_t *pid, int *pidfd,
                     int *step, int *err);

/*  Name of a step for messages: "session", "rlimits", ...                  */
const char *sbx_child_step_name (int step);

#endif
