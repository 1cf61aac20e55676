/*  layers_cg.h - the cgroup row of bench/layers.c, through the sandbox's
    own sbx_cgroup module (services/agent-sandbox/sbx_cgroup.h). Like
    layers_ns.h: built as a stub (-DLAYERS_CG_STUB) when the module is
    missing or its API no longer matches, and the row then says n/a.

    As the worker uses it (isolation.c): one group per slot, made once and
    reused task after task, so per task only the limits, the join, the kill
    of whatever is left and the OOM count remain.

    Parent, once:      lcg_t *cg = lcg_new (err, size);   (worker + slot group)
    Parent, per task:  lcg_task_begin (cg, err, size);    limits, before the clone
    Child, first step: lcg_child_join (cg);
    Parent, after the task was reaped: lcg_task_end (cg); kill the rest, OOM count
*/
#ifndef LAYERS_CG_H_INCLUDED
#define LAYERS_CG_H_INCLUDED

#include <stddef.h>

typedef struct lcg_s lcg_t;

/*  NULL when the row can run, else why not ("not built yet").             */
const char *lcg_unavailable (void);

/*  The worker's group. NULL with err set (e.g. no writable cgroup here).  */
lcg_t *lcg_new (char *err, size_t errlen);
void lcg_destroy (lcg_t **self_p);
/*  "v1" or "v2".                                                           */
const char *lcg_version (const lcg_t *self);

/*  Per task, with the worker's default limits (512 MiB, 64 processes).    */
int lcg_task_begin (lcg_t *self, char *err, size_t errlen);
/*  Child, raw system calls only: 0 or -errno.                              */
int lcg_child_join (const lcg_t *self);
/*  Kill what the task left in the group and read its OOM count.           */
int lcg_task_end (lcg_t *self);
/*  The slot's sbx_cgroup_task_t, for child.c's hooks (layers_child.h).    */
const void *lcg_task (const lcg_t *self);

#endif
