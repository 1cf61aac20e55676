/*  layers_child.c - spawn through child.c's sbx_child_start (see
    layers_child.h).                                                        */
#define _GNU_SOURCE
#include "layers_child.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef LAYERS_CHILD_STUB
#include "child.h"
#endif

#ifdef LAYERS_CHILD_STUB

const char *
lch_unavailable (void)
{
    return "child.h does not match bench/layers_child.c";
}

pid_t
lch_spawn (const lch_spec_t *spec, char *why, size_t whylen)
{
    (void) spec;
    snprintf (why, whylen, "%s", lch_unavailable ());
    return -1;
}

#else

const char *
lch_unavailable (void)
{
    return NULL;
}

pid_t
lch_spawn (const lch_spec_t *s, char *why, size_t whylen)
{
    sbx_child_spec_t spec;
    memset (&spec, 0, sizeof spec);
    spec.path = s->path;
    spec.argv = s->argv;
    spec.envp = s->envp;
    spec.stdin_fd = s->stdin_fd;
    spec.stdout_fd = s->stdout_fd;
    spec.stderr_fd = s->stderr_fd;
    spec.workdir_fd = s->workdir_fd;
    for (size_t i = 0; i < s->rlimit_count && i < SBX_CHILD_RLIMITS_MAX; i++) {
        spec.rlimits[i].resource = s->rlimits[i].resource;
        spec.rlimits[i].value = s->rlimits[i].value;
        spec.rlimit_count = i + 1;
    }
    spec.iso.ns = s->ns;
    spec.iso.cgroup = s->cgroup;
    spec.iso.caps = s->caps;
    spec.iso.landlock_fd = s->landlock_fd;
    spec.iso.seccomp = s->seccomp;
    pid_t pid;
    int pidfd;
    sbx_child_failure_t f;
    if (sbx_child_start (&spec, &pid, &pidfd, &f)) {
        snprintf (why, whylen, "sbx_child_start: step %s%s%s: %s", sbx_child_step_name (f.step),
                  f.sub ? "/" : "", f.sub ? sbx_ns_step_name (f.sub) : "", strerror (f.err));
        return -1;
    }
    close (pidfd);                      /* the worker polls it; we wait4 */
    return pid;
}

#endif
