/*  layers_ns.h - the namespace rows of bench/layers.c, through the
    sandbox's own sbx_ns module (services/agent-sandbox/sbx_ns.h).

    Kept apart so that layers.c builds whatever state sbx_ns is in: when
    the module is not linked (not written yet) or its API no longer matches
    this file, bench.mk compiles this file with -DLAYERS_NS_STUB and every
    namespace row prints "n/a" with lns_unavailable ()'s reason.

    Parent, once:   lns_t *ns = lns_new ("user,pid,mount", false, work_dir, err, size);
    Parent, per task, after the workspace exists:
                    lns_prepare (ns, path, fd, landlock_abi, err, size);
                    pid = lns_spawn (ns, child_b, arg, &errnum);
                    (child A joins the slot's namespaces and clones child B
                    = child_b (arg) into the new ones, as a child of ours)
    Child B, first: lns_child_setup (ns, &step);
    Child B, before landlock_restrict_self: lns_child_landlock (ns, fd);
*/
#ifndef LAYERS_NS_H_INCLUDED
#define LAYERS_NS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct lns_s lns_t;

/*  NULL when namespace rows can run, else why not ("not built yet").      */
const char *lns_unavailable (void);

/*  Namespaces wanted: comma-separated "user,pid,mount,ipc,uts,cgroupns,net"
    (mount brings the minimal root, pivot_root and /proc). net_per_task: a
    fresh network namespace per task instead of the slot's pre-made one.
    work_dir: the parent of every workspace (SANDBOX_WORK_DIR). NULL with
    err set when sbx_ns refuses.                                           */
lns_t *lns_new (const char *want, bool net_per_task, const char *work_dir, char *err,
                size_t errlen);
void lns_destroy (lns_t **self_p);

/*  What sbx_ns_probe says about each layer, one line each ("userns:
    available (...)", "mountns: unavailable (EPERM: ...)") into buf.       */
void lns_probe_lines (const char *work_dir, char *buf, size_t size);

/*  Names of the layers actually in effect ("userns,pidns,..."), and
    whether the ids are switched by the namespace set-up (then the caps
    step must not switch them again).                                       */
const char *lns_active (const lns_t *self);
bool lns_switches_ids (const lns_t *self);

/*  Per task, in the parent. 0 or -1 with err set.                         */
int lns_prepare (lns_t *self, const char *workspace, int workspace_fd, int landlock_abi,
                 char *err, size_t errlen);

/*  Start B = fn (arg) in the namespaces; returns once B has exec'd or
    died, with A reaped. B's pid (our child), or -1 with *errnum.          */
pid_t lns_spawn (lns_t *self, int (*fn) (void *), void *arg, int *errnum);

/*  The prepared sbx_ns_task_t, for child.c's hooks (layers_child.h).     */
const void *lns_task (const lns_t *self);

/*  Child B: raw system calls only. 0 or -errno (*step: sbx_ns's part).    */
int lns_child_setup (const lns_t *self, int *step);
int lns_child_landlock (const lns_t *self, int ruleset_fd);
const char *lns_step_name (int step);

#endif
