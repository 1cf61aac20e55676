/*  layers_child.h - the sandbox's own spawn (child.c: sbx_child_start with
    its isolation hooks) for bench/layers.c. Like layers_ns.h: when child.h
    no longer matches this file, bench.mk builds it with -DLAYERS_CHILD_STUB
    and layers.c falls back to its own copy of the steps (rows then say so).
*/
#ifndef LAYERS_CHILD_H_INCLUDED
#define LAYERS_CHILD_H_INCLUDED

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

struct sock_fprog;

typedef struct {
    int resource;                       /* RLIMIT_* */
    struct rlimit value;
} lch_rlimit_t;

typedef struct {
    const char *path;
    char *const *argv;
    char *const *envp;
    int stdin_fd, stdout_fd, stderr_fd;  /* child ends, each >= 3 */
    int workdir_fd;                     /* >= 3 */
    const lch_rlimit_t *rlimits;
    size_t rlimit_count;
    /*  Isolation (NULL / -1: none). ns and cgroup are the sbx_ns_task_t and
        sbx_cgroup_task_t of layers_ns.h / layers_cg.h, opaque here.       */
    const void *ns;
    const void *cgroup;
    const void *caps;                   /* sbx_caps_plan_t */
    int landlock_fd;
    const struct sock_fprog *seccomp;
} lch_spec_t;

/*  NULL when sbx_child_start with isolation hooks is there, else why not. */
const char *lch_unavailable (void);

/*  Start the task; returns its pid once it exec'd (it is our child), or -1
    with a message in why.                                                  */
pid_t lch_spawn (const lch_spec_t *spec, char *why, size_t whylen);

#endif
