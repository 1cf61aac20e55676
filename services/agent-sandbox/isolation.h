/*  isolation.h - what this worker enforces, found out once at start, and
    the per-task preparation of every layer (child.h runs them).

    At start (before any thread exists: the capability bounding set is per
    thread, and the namespace probe clones):
        sbx_iso_t *iso = sbx_iso_new (&config, err, sizeof err);
        sbx_iso_log (iso);                       one line per layer
        if (sbx_iso_check_required (iso, err, sizeof err)) -> exit 1
    detects every layer for real (a throw-away task for the namespaces, a
    test group for the cgroup, the Landlock ABI, seccomp's kill action),
    compiles the seccomp programs, caches the Landlock system entries,
    empties the capability bounding set, plans the capability drop, makes
    the per-slot namespaces and the per-slot cgroups, and makes the worker a
    child subreaper when neither a PID namespace nor a cgroup can find what
    a task leaves behind.

    Per task (run.c), in the parent, before the clone:
        sbx_iso_task_prepare (iso, slot, &spec, t, &child_iso, err, n)
    and after it: sbx_iso_task_spawned (t); when the main process has been
    reaped: sbx_iso_task_kill (t) (every process left in the task's
    cgroup); for the result: sbx_iso_task_oom_kills (t); at the end:
    sbx_iso_task_release (t).

    Layers (the keys of hello's isolation map; "landlock" carries the ABI):
      seccomp   the deny-list filter of sbx_seccomp.h
      landlock  read-only system, read-write workspace, TCP and scopes
      userns    the slot's user namespace (uid 1000 inside)
      pidns     the task is PID 1 of its own PID namespace
      mountns   the minimal read-only root with private /tmp, /dev/shm
      netns     the slot's network namespace: loopback only
      ipcns     private System V IPC and POSIX message queues
      utsns     hostname "sandbox"
      cgroup    per-slot group: memory (no swap) and pids limits, OOM seen
      rlimits   CPU, address space, processes, file size, open files, core
      caps      no_new_privs, every capability dropped, and as root the
                slot's own uid (through the user namespace, or setresuid)
*/
#ifndef SBX_ISOLATION_H_INCLUDED
#define SBX_ISOLATION_H_INCLUDED

#include "child.h"
#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum {
    SBX_ISO_SECCOMP = 0,
    SBX_ISO_LANDLOCK,
    SBX_ISO_USERNS,
    SBX_ISO_PIDNS,
    SBX_ISO_MOUNTNS,
    SBX_ISO_NETNS,
    SBX_ISO_IPCNS,
    SBX_ISO_UTSNS,
    SBX_ISO_CGROUP,
    SBX_ISO_RLIMITS,
    SBX_ISO_CAPS,
    SBX_ISO_LAYER_COUNT
} sbx_iso_layer_t;

/*  "seccomp,landlock,userns,pidns,mountns,netns,ipcns,utsns,cgroup,rlimits,
    caps" with '|' between: the choices of SANDBOX_REQUIRE.                 */
#define SBX_ISO_LAYER_NAMES "seccomp|landlock|userns|pidns|mountns|netns|ipcns|utsns|" \
                            "cgroup|rlimits|caps"

typedef enum {
    SBX_ISO_ENFORCED = 0,               /* every task gets it */
    SBX_ISO_UNAVAILABLE,                /* the kernel or our privileges do not allow it */
    SBX_ISO_DISABLED                    /* turned off by configuration */
} sbx_iso_status_t;

typedef struct {
    bool seccomp;                       /* SANDBOX_SECCOMP=auto (false: off) */
    bool landlock;                      /* SANDBOX_LANDLOCK=auto */
    bool namespaces;                    /* SANDBOX_NAMESPACES=auto */
    bool cgroup;                        /* SANDBOX_CGROUP=auto */
    const char *require;                /* SANDBOX_REQUIRE: comma list, NULL/"" none */
    uint32_t uid_base;                  /* SANDBOX_UID_BASE: host uid of slot 0 as root */
    const char *work_dir;               /* SANDBOX_WORK_DIR, absolute, existing */
    size_t slots;                       /* SANDBOX_SLOTS */
    bool allow_network;                 /* SANDBOX_ALLOW_NETWORK (for the log) */
    const char *cgroup_name;            /* worker's group; NULL: "cleudo-<pid>" */
    bool cgroup_join;                   /* tasks join their group (the v2 way) even on
                                           v1, no spawner threads (tests, comparisons) */
} sbx_iso_config_t;

typedef struct sbx_iso_s sbx_iso_t;

/*  Per-task state; the caller owns the memory (about 3.5 KiB: keep it in
    the run, not on a stack) and keeps it until sbx_iso_task_release.       */
typedef struct {
    const sbx_iso_t *iso;               /* NULL: unused */
    size_t slot;                        /* the run's slot */
    int landlock_fd;                    /* ruleset until spawned, -1 */
    bool cgroup;                        /* the slot's group is in use */
    uint64_t oom_before;                /* the group's oom_kill count at start */
    uint64_t oom_after;                 /* ... when the task ended */
    char home[SBX_NS_PATH_MAX];         /* the workspace as the task sees it */
    sbx_ns_task_t ns;                   /* namespaces of the task */
} sbx_iso_task_t;

/*  What a task needs from sbx_iso_task_prepare.                            */
typedef struct {
    const char *workspace;              /* host path */
    int workspace_fd;                   /* its directory */
    bool network;                       /* the task may use the network */
    uint64_t memory_bytes;              /* limits for the cgroup */
    uint64_t processes;
} sbx_iso_task_spec_t;

/*  Detect, prepare, make the per-slot namespaces and cgroups. A layer that
    cannot be had is reported (sbx_iso_status, sbx_iso_log), not an error;
    NULL with a message in err only for a bad SANDBOX_REQUIRE name, out of
    memory, or a work directory that cannot be opened to the slots' uids. */
sbx_iso_t *sbx_iso_new (const sbx_iso_config_t *config, char *err, size_t errlen);
void sbx_iso_destroy (sbx_iso_t **self_p);

/*  Log event=isolation layer=NAME status=enforced|unavailable|disabled
    detail="..." for every layer.                                          */
void sbx_iso_log (const sbx_iso_t *self);

/*  0, or -1 when a layer of SANDBOX_REQUIRE is not enforced, with a message
    naming the first such layer and why ("landlock: unavailable (ENOSYS:
    ...)" / "disabled by SANDBOX_LANDLOCK=off").                            */
int sbx_iso_check_required (const sbx_iso_t *self, char *err, size_t errlen);

const char *sbx_iso_layer_name (int layer);
sbx_iso_status_t sbx_iso_status (const sbx_iso_t *self, int layer);
const char *sbx_iso_status_name (sbx_iso_status_t status);
/*  "ABI 7", "ENOSYS: ..." : what works, or why not.                         */
const char *sbx_iso_detail (const sbx_iso_t *self, int layer);
int sbx_iso_landlock_abi (const sbx_iso_t *self);
/*  Layers in hello's map: out must hold SBX_ISO_LAYER_COUNT entries.       */
size_t sbx_iso_hello (const sbx_iso_t *self, proto_layer_t *out);

/*  Does the memory limit come from the cgroup (then RLIMIT_AS stays off:
    address space is not memory, and the OOM kill is what names the
    cause)?                                                                 */
bool sbx_iso_cgroup_memory (const sbx_iso_t *self);
/*  The worker must sweep orphans itself (sbx_reap_descendants): no PID
    namespace and no cgroup find them.                                      */
bool sbx_iso_needs_sweep (const sbx_iso_t *self);

/*  Prepare every layer of one task in slot (0..slots-1): namespaces, the
    workspace's owner (per-slot uids), the Landlock ruleset, the cgroup's
    limits. Fills *child for sbx_child_spawn and t->home (HOME). 0, or -1
    with err set (an internal error: the task cannot run isolated).        */
int sbx_iso_task_prepare (const sbx_iso_t *self, size_t slot, const sbx_iso_task_spec_t *spec,
                          sbx_iso_task_t *t, sbx_child_iso_t *child, char *err, size_t errlen);

/*  sbx_child_start for a task of slot by the slot's spawner thread (on
    cgroup v1 it lives in the slot's cgroup so that the task is born there:
    see isolation.c), or directly when there is none; waits for the end.
    iso may be NULL.                                                        */
int sbx_iso_spawn (const sbx_iso_t *iso, size_t slot, const sbx_child_spec_t *spec,
                   pid_t *pid, int *pidfd, sbx_child_failure_t *why);

/*  The same in two halves, so that the event loop goes on meanwhile. Begin
    hands spec (which must stay valid until the end) to the slot's spawner
    and returns a descriptor that becomes readable when it is done, or -1
    when there is no spawner (then call sbx_iso_spawn). End, once that
    descriptor is readable (else it waits), gives sbx_child_start's outcome. */
int sbx_iso_spawn_begin (const sbx_iso_t *iso, size_t slot, const sbx_child_spec_t *spec);
int sbx_iso_spawn_end (const sbx_iso_t *iso, size_t slot, pid_t *pid, int *pidfd,
                       sbx_child_failure_t *why);

/*  Spawns begun and not ended (their new tasks are not known to the event
    loop yet: no zombie may be reaped as an orphan meanwhile).             */
size_t sbx_iso_spawning (const sbx_iso_t *iso);

/*  Thread ids of every spawner thread (up to max); how many. Their children
    are only the tasks they started: an orphan goes to the first live thread
    of the subreaper, the worker's main thread, never to them.             */
size_t sbx_iso_spawner_tids (const sbx_iso_t *iso, pid_t *tids, size_t max);

/*  After the spawn (either outcome): close what only the child needed.    */
void sbx_iso_task_spawned (sbx_iso_task_t *t);

/*  SIGKILL every process left in the task's cgroup (no-op without one),
    and note its OOM kills. Call once the main process has been reaped.    */
void sbx_iso_task_kill (sbx_iso_task_t *t);

/*  Processes of the task the OOM killer killed (0 without a cgroup).       */
uint64_t sbx_iso_task_oom_kills (const sbx_iso_task_t *t);

/*  Done with the task: kill what is left in its group, close everything. */
void sbx_iso_task_release (sbx_iso_task_t *t);

#endif
