/*  spec.h - decide, before any process exists, what a task will run with:
    effective limits (defaults filled, maxima clamped), the executable found
    on the fixed PATH, argv and the scrubbed environment. Pure preparation:
    nothing here touches a child.
*/
#ifndef SBX_SPEC_H_INCLUDED
#define SBX_SPEC_H_INCLUDED

#include "proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*  The PATH every task gets, and where the worker looks up programs.      */
#define SBX_FIXED_PATH "/usr/local/bin:/usr/bin:/bin"
#define SBX_FIXED_LANG "C.UTF-8"

typedef struct {
    uint64_t wall_ms;                   /* wall-clock deadline */
    uint64_t cpu_ms;                    /* RLIMIT_CPU (rounded up to seconds) */
    uint64_t memory_bytes;              /* RLIMIT_AS */
    uint64_t processes;                 /* RLIMIT_NPROC */
    uint64_t output_bytes;              /* kept per stream */
    uint64_t file_bytes;                /* RLIMIT_FSIZE */
} sbx_limits_t;

struct sbx_iso_s;                       /* isolation.h */

/*  What a worker allows; shared by every run, owned by the worker.        */
typedef struct {
    const char *work_dir;               /* parent of workspaces (exists) */
    const char *worker;                 /* worker id put in results */
    sbx_limits_t defaults;              /* for limits a task leaves out */
    sbx_limits_t maxima;                /* larger requests are clamped */
    uint64_t max_collect;               /* collected bytes (names included) */
    uint64_t open_files;                /* RLIMIT_NOFILE */
    const struct sbx_iso_s *iso;        /* isolation layers; NULL: a plain child
                                           (tests only: the worker always has one) */
    bool allow_network;                 /* SANDBOX_ALLOW_NETWORK: tasks may ask */
    bool output_kill;                   /* SANDBOX_OUTPUT_POLICY=kill */
    bool stream_output;                 /* SANDBOX_STREAM_OUTPUT: live output */
} sbx_run_conf_t;

/*  Effective limits of a task. Each clamped limit appends
    "limits.NAME clamped from X to Y" to notes ("; "-separated).            */
void sbx_spec_limits (const sbx_run_conf_t *conf, const proto_limits_t *asked,
                      sbx_limits_t *out, char *notes, size_t notes_size);

/*  Find name as the shell would: a name with a '/' is taken as is
    (relative ones against dirfd, the workspace), others are searched on
    SBX_FIXED_PATH. Only executable regular files count. 0 with the path
    in out, or -1.                                                          */
int sbx_spec_find_program (const char *name, int dirfd, char *out, size_t out_size);

/*  The child's environment: the task's variables except PATH, HOME and
    LANG, then the fixed PATH, HOME=home and LANG (fixed ones win).
    One malloc'd block (free it once); NULL when out of memory.            */
char **sbx_spec_envp (const proto_env_t *env, size_t count, const char *home);

/*  Interpreter and script file name for code tasks.                       */
const char *sbx_spec_interpreter (proto_lang_t lang);
const char *sbx_spec_script_name (proto_lang_t lang);

#endif
