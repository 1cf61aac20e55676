/*  sbx_config.h - the agent-sandbox's settings: one typed table (see
    common/config.h), environment variables with flag twins.
*/
#ifndef SBX_CONFIG_H_INCLUDED
#define SBX_CONFIG_H_INCLUDED

#include "isolation.h"
#include "spec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SBX_OPEN_FILES 256              /* RLIMIT_NOFILE of every task */
#define SBX_RESULT_SLACK (64 * 1024)    /* result bytes beside output and files */

typedef struct {
    const char *tasks_endpoint;         /* PULL, connect */
    const char *results_endpoint;       /* PUSH, connect */
    const char *control_endpoint;       /* SUB, connect */
    int64_t slots;                      /* tasks at once */
    const char *work_dir;               /* absolute after sbx_config_load */
    const char *worker_id;              /* unique per process */
    int64_t heartbeat_ms;               /* heartbeat period */
    int64_t max_frame;                  /* ZMQ_MAXMSGSIZE and result cap */
    int64_t default_wall, max_wall;     /* ms */
    int64_t default_cpu, max_cpu;       /* ms */
    int64_t default_memory, max_memory; /* bytes */
    int64_t default_processes, max_processes;
    int64_t default_output, max_output; /* bytes per stream */
    int64_t default_file_size, max_file_size;   /* bytes */
    int64_t max_collect;                /* bytes */
    const char *require;                /* SANDBOX_REQUIRE: comma list of layers */
    const char *seccomp;                /* SANDBOX_SECCOMP: auto|off */
    const char *landlock;               /* SANDBOX_LANDLOCK: auto|off */
    const char *namespaces;             /* SANDBOX_NAMESPACES: auto|off */
    const char *cgroup;                 /* SANDBOX_CGROUP: auto|off */
    int64_t uid_base;                   /* SANDBOX_UID_BASE: host uid of slot 0 (root) */
    bool allow_network;                 /* SANDBOX_ALLOW_NETWORK */
    const char *output_policy;          /* SANDBOX_OUTPUT_POLICY: truncate|kill */
    bool stream_output;                 /* SANDBOX_STREAM_OUTPUT: live output */
    const char *log_level;              /* debug|info|warn|error */
    char worker_id_buf[300];            /* generated worker id */
    char work_dir_buf[4096];            /* resolved work directory */
    int64_t outbox_results;             /* SANDBOX_OUTBOX: results kept */
    int64_t outbox_bytes;               /* SANDBOX_OUTBOX_BYTES */
    int64_t resend_ms;                  /* SANDBOX_RESEND: first re-send */
    int64_t grace_ms;                   /* SANDBOX_GRACE: SIGTERM drain */
} sbx_config_t;

/*  Parse environment and flags, check cross-field rules (defaults within
    maxima, results fit the frame cap), create the work directory. Returns
    0; 1 when --help was printed; -1 with a message in err (exit 1).       */
int sbx_config_load (sbx_config_t *cfg, int argc, char **argv, char *err, size_t err_size);

/*  What every run needs, taken from cfg (which must outlive it); conf->iso
    is the caller's to set.                                                 */
void sbx_config_run_conf (const sbx_config_t *cfg, sbx_run_conf_t *conf);

/*  The isolation settings, taken from cfg (which must outlive them).      */
void sbx_config_iso (const sbx_config_t *cfg, sbx_iso_config_t *iso);

#endif
