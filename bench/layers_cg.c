/*  layers_cg.c - the cgroup row through sbx_cgroup (see layers_cg.h).
    sbx_cgroup's functions are weak: NULL when sbx_cgroup.o is not linked. */
#define _GNU_SOURCE
#include "layers_cg.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined (LAYERS_CG_STUB) && __has_include ("sbx_cgroup.h")
#include "sbx_cgroup.h"
#else
#undef LAYERS_CG_STUB
#define LAYERS_CG_STUB 1
#endif

#define CHILD_CODE __attribute__ ((no_sanitize ("address", "undefined"), noinline))

#ifdef LAYERS_CG_STUB

const char *
lcg_unavailable (void)
{
#if __has_include ("sbx_cgroup.h")
    return "sbx_cgroup API does not match bench/layers_cg.c";
#else
    return "not built yet";
#endif
}

lcg_t *
lcg_new (char *err, size_t errlen)
{
    snprintf (err, errlen, "%s", lcg_unavailable ());
    return NULL;
}

void
lcg_destroy (lcg_t **self_p)
{
    (void) self_p;
}

const char *
lcg_version (const lcg_t *self)
{
    (void) self;
    return "";
}

int
lcg_task_begin (lcg_t *self, char *err, size_t errlen)
{
    (void) self;
    snprintf (err, errlen, "%s", lcg_unavailable ());
    return -1;
}

const void *
lcg_task (const lcg_t *self)
{
    (void) self;
    return NULL;
}

int
lcg_child_join (const lcg_t *self)
{
    (void) self;
    return -ENOSYS;
}

int
lcg_task_end (lcg_t *self)
{
    (void) self;
    return -1;
}

#else

#pragma weak sbx_cgroup_new
#pragma weak sbx_cgroup_destroy
#pragma weak sbx_cgroup_caps
#pragma weak sbx_cgroup_task_create
#pragma weak sbx_cgroup_task_limit
#pragma weak sbx_cgroup_task_oom_kills
#pragma weak sbx_cgroup_child_join
#pragma weak sbx_cgroup_task_kill
#pragma weak sbx_cgroup_task_destroy

#define TASK_MEMORY (512ull << 20)      /* SANDBOX_DEFAULT_MEMORY */
#define TASK_PIDS 64                    /* SANDBOX_DEFAULT_PROCESSES */

struct lcg_s {
    sbx_cgroup_t *cg;                   /* the worker's group */
    sbx_cgroup_task_t slot;             /* the slot's group, reused */
    bool made;                          /* slot was created */
    char version[8];
};

const char *
lcg_unavailable (void)
{
    if (!sbx_cgroup_new || !sbx_cgroup_task_create || !sbx_cgroup_child_join
        || !sbx_cgroup_task_limit || !sbx_cgroup_task_kill || !sbx_cgroup_task_oom_kills)
        return "not built yet";
    return NULL;
}

lcg_t *
lcg_new (char *err, size_t errlen)
{
    const char *why = lcg_unavailable ();
    if (why) {
        snprintf (err, errlen, "%s", why);
        return NULL;
    }
    lcg_t *self = calloc (1, sizeof *self);
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    sbx_cgroup_config_t config;
    memset (&config, 0, sizeof config);
    sbx_cgroup_caps_t caps;
    memset (&caps, 0, sizeof caps);
    self->cg = sbx_cgroup_new (&config, &caps, err, errlen);
    char name[32];
    snprintf (name, sizeof name, "slot-%d", (int) getpid ());
    if (!self->cg || sbx_cgroup_task_create (self->cg, name, TASK_MEMORY, TASK_PIDS,
                                             &self->slot, err, errlen)) {
        lcg_destroy (&self);
        return NULL;
    }
    self->made = true;
    snprintf (self->version, sizeof self->version, "v%d", sbx_cgroup_caps (self->cg)->version);
    return self;
}

void
lcg_destroy (lcg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->made)
        sbx_cgroup_task_destroy (&(*self_p)->slot);
    sbx_cgroup_destroy (&(*self_p)->cg);
    free (*self_p);
    *self_p = NULL;
}

const char *
lcg_version (const lcg_t *self)
{
    return self->version;
}

int
lcg_task_begin (lcg_t *self, char *err, size_t errlen)
{
    return sbx_cgroup_task_limit (self->cg, &self->slot, TASK_MEMORY, TASK_PIDS, err, errlen);
}

CHILD_CODE int
lcg_child_join (const lcg_t *self)
{
    return sbx_cgroup_child_join (&self->slot);
}

int
lcg_task_end (lcg_t *self)
{
    uint64_t count;
    int rc = sbx_cgroup_task_kill (&self->slot, 2000);
    sbx_cgroup_task_oom_kills (&self->slot, &count);
    return rc;
}

const void *
lcg_task (const lcg_t *self)
{
    return &self->slot;
}

#endif
