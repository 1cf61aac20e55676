/*  sbx_cgroup.h - a cgroup per task, where a writable one is delegated:
    memory (swap off) and pids limits, OOM detection, peak memory, and the
    whole tree killed at the end. Plus the fallback for machines without
    one: reaping every orphan a task left to a subreaper worker.

    Detection (sbx_cgroup_new / sbx_cgroup_probe) tries for real:
      v2  the worker's cgroup (or config->v2_dir) lists memory and pids in
          cgroup.controllers, and they are (or can be) enabled in its
          cgroup.subtree_control; the worker's group "cleudo-<pid>" is made
          below it with both enabled for its children. A cgroup that holds
          processes itself (the worker) cannot enable controllers for its
          children ("no internal processes", EBUSY): deploy the worker in a
          delegated subtree, or name an empty one in v2_dir.
      v1  memory and pids hierarchies are mounted; "cleudo-<pid>" is made
          under the worker's own cgroup in each (or config->memory_dir /
          pids_dir). Root on a bare machine can; a container normally has
          /sys/fs/cgroup read-only (EROFS) or not its own (EACCES).
    v2 is used when it works, else v1; otherwise "unavailable" with the
    errno and the path that refused.

    Per task: a child group <parent>/<name> with
      v2  memory.max, memory.swap.max = 0, memory.oom.group = 1, pids.max
      v1  memory.limit_in_bytes, memory.memsw.limit_in_bytes = the same
          (no swap; when swap accounting is off: memory.swappiness = 0),
          pids.max
    Joining: the parent opens cgroup.procs (of each hierarchy) before the
    clone; the child writes "0" (= itself) into them, raw, as the first of
    its steps, so only the task's own processes are ever in the group and
    count against pids.max (v1 and v2 both take "0"; the permission is
    checked against the credentials that opened the file, the worker's).
    With the namespaces of sbx_ns.h that is the first step of child B,
    before sbx_ns_child_setup (which then makes the group the root of the
    task's cgroup namespace).

    COST of the join (measured by test_ns cost_per_layer): moving a process
    between cgroups takes the kernel's global cgroup_threadgroup_rwsem for
    writing, which waits for an RCU grace period unless another move
    happened just before: ~40 µs when tasks come back to back, ~10 ms
    (HZ=250) after a quiet spell, and the worker's spawning thread is
    blocked (vfork) meanwhile. Remedies, none in this module's hands:
      * cgroup v2 + clone3 (CLONE_INTO_CGROUP, dir_fd below): the task is
        born in its group, no move at all (needs a clone3 stub: glibc has no
        wrapper; compose/sandbox-seccomp.json denies clone3 to the worker
        today; the task's own filter may keep denying it);
      * the "favordynmods" mount option (v2, Linux 6.0+; remounting is not
        possible for v1) or the "cgroup_favordynmods=true" boot option
        (v1 and v2, 6.7+): moves become cheap, forks slightly dearer;
      * v1 only: per-slot groups made once and a per-slot spawning thread
        parked in them through the "tasks" file: tasks are born inside.
    create + remove of a task group costs ~0.2-0.3 ms on top, off the
    spawn's critical path if the worker makes it before the spawn and
    removes it after the result is sent.

    A task group whose name exists already is killed and replaced, and so
    is a stale worker group "cleudo-<pid>" of a dead worker. On a systemd
    host give the worker's unit Delegate=yes, so that systemd leaves the
    groups it makes below its own alone.

    Parent:
        sbx_cgroup_caps_t caps;
        sbx_cgroup_t *cg = sbx_cgroup_new (&config, &caps, err, sizeof err);
        (NULL: unavailable, caps says why; the worker falls back to rlimits
         + PID namespace, or PR_SET_CHILD_SUBREAPER + sbx_reap_descendants)
    Per task (parent):
        sbx_cgroup_task_t ct;
        sbx_cgroup_task_create (cg, name, memory_bytes, processes, &ct, err, n)
        ... child: sbx_cgroup_child_join (&ct) ...
        ... task ends (main process reaped) ...
        sbx_cgroup_stats_t st;  sbx_cgroup_task_stats (&ct, &st);
            st.oom_kills > 0  -> status memory_limit
        sbx_cgroup_task_destroy (&ct)    kill every process left, rmdir
    At exit: sbx_cgroup_destroy (&cg) (removes the worker's group).
*/
#ifndef SBX_CGROUP_H_INCLUDED
#define SBX_CGROUP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SBX_CGROUP_PATH_MAX 512

typedef struct {
    bool available;                     /* task groups can be made and limited */
    int version;                        /* 1 or 2; 0 unavailable */
    int err;                            /* errno when unavailable */
    char detail[320];                   /* where / what is missing, or why not */
    bool swap_limit;                    /* swap can be limited to 0 */
    bool kill_file;                     /* v2 cgroup.kill (5.14+) */
} sbx_cgroup_caps_t;

typedef struct {
    const char *v2_dir;                 /* parent of the worker's group; NULL: own cgroup */
    const char *memory_dir;             /* v1, likewise */
    const char *pids_dir;               /* v1, likewise */
    const char *name;                   /* worker's group; NULL: "cleudo-<pid>" */
    bool no_v2;                         /* do not try v2 */
    bool no_v1;                         /* do not try v1 */
} sbx_cgroup_config_t;

typedef struct sbx_cgroup_s sbx_cgroup_t;

/*  One task's group. The caller owns it; fields are for the functions.    */
typedef struct {
    int version;                        /* 0: not created */
    int procs_fd[2];                    /* cgroup.procs to join (v1: memory, pids) */
    int dir_fd;                         /* v2: the group directory (CLONE_INTO_CGROUP) */
    char dir[2][SBX_CGROUP_PATH_MAX];   /* the group's directories ("" unused) */
} sbx_cgroup_task_t;

typedef struct {
    uint64_t oom_kills;                 /* processes the OOM killer killed in the group */
    uint64_t memory_max_hits;           /* times usage hit the limit (v2 "max"; v1
                                           failcnt, which recent kernels leave at 0) */
    uint64_t memory_peak;               /* bytes, incl. page cache and tmpfs (0: unknown) */
    uint64_t pids_max_hits;             /* forks refused by pids.max */
} sbx_cgroup_stats_t;

/*  Detect and make the worker's group. NULL when unavailable: *caps (may
    be NULL) and err say why.                                               */
sbx_cgroup_t *sbx_cgroup_new (const sbx_cgroup_config_t *config, sbx_cgroup_caps_t *caps,
                              char *err, size_t errlen);

/*  Remove the worker's group (task groups must be destroyed first; a
    leftover one is killed and removed); safe on NULL and twice.            */
void sbx_cgroup_destroy (sbx_cgroup_t **self_p);

/*  Detect without keeping anything: new + one task group + destroy.        */
void sbx_cgroup_probe (const sbx_cgroup_config_t *config, sbx_cgroup_caps_t *caps);

/*  What was detected.                                                      */
const sbx_cgroup_caps_t *sbx_cgroup_caps (const sbx_cgroup_t *self);

/*  Remove the groups that workers killed with SIGKILL left beside ours:
    "cleudo-PID" (the default name) whose PID does not exist here and in
    whose tree no process lives (a live worker in another PID namespace
    keeps threads or tasks in its groups, except while it is idle with
    tasks that join: that one case this cannot tell). Returns how many
    were removed.                                                           */
int sbx_cgroup_remove_stale (const sbx_cgroup_t *self);

/*  Make a task group name ([A-Za-z0-9_.-], 1..100, not "." or "..") with
    the limits (0: no limit). 0, or -1 with err set (and t left unused).    */
int sbx_cgroup_task_create (sbx_cgroup_t *self, const char *name, uint64_t memory_bytes,
                            uint64_t pids_max, sbx_cgroup_task_t *t, char *err, size_t errlen);

/*  Set the limits of an existing task group again (0: no limit), for a
    group that is kept and reused task after task (a per-slot group: only
    the join remains per task). 0, or -1 with errno and err set.           */
int sbx_cgroup_task_limit (sbx_cgroup_t *self, sbx_cgroup_task_t *t, uint64_t memory_bytes,
                           uint64_t pids_max, char *err, size_t errlen);

/*  The group's cumulative count of OOM kills (one small read); a reused
    group's count before and after a task tells whether it hit the limit.
    0, or -1 with errno.                                                    */
int sbx_cgroup_task_oom_kills (const sbx_cgroup_task_t *t, uint64_t *count);

/*  Child step, raw system calls only: move the calling process into the
    group. 0 or -errno.                                                     */
int sbx_cgroup_child_join (const sbx_cgroup_task_t *t);

/*  Counters of the group (before destroying it). 0, or -1 with errno.     */
int sbx_cgroup_task_stats (const sbx_cgroup_task_t *t, sbx_cgroup_stats_t *st);

/*  SIGKILL every process in the group (v2: cgroup.kill; else until the
    member list stays empty), waiting at most timeout_ms. 0, or -1 with
    errno ETIMEDOUT when something survived.                               */
int sbx_cgroup_task_kill (sbx_cgroup_task_t *t, int timeout_ms);

/*  Kill what is left, remove the group, close its descriptors; safe on an
    unused or destroyed t. 0, or -1 with errno (the group stayed).          */
int sbx_cgroup_task_destroy (sbx_cgroup_task_t *t);

/*  Fallback without cgroups (and without a PID namespace): the worker is
    PR_SET_CHILD_SUBREAPER, so whatever a task left behind is reparented to
    it. SIGKILL and reap every child of this process that is not in keep
    (the main processes of the tasks still running), and whatever those
    leave in turn, until none is left or timeout_ms passed. Returns how
    many processes were killed, or -1 with errno (ETIMEDOUT).              */
int sbx_reap_descendants (const pid_t *keep, size_t keep_count, int timeout_ms);

/*  The same, leaving alone the children of the threads in skip_tids (a
    spawner thread busy with a spawn: its new child is nobody's orphan).
    -1 with ENOTSUP when skip_count > 0 and this kernel has no per-thread
    "children" files.                                                      */
int sbx_reap_descendants_except (const pid_t *keep, size_t keep_count, const pid_t *skip_tids,
                                 size_t skip_count, int timeout_ms);

#endif
