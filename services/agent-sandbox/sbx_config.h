/*  sbx_config.h - the agent-sandbox's settings: one typed table (see
    common/config.h), environment variables with flag twins.
*/
#ifndef SBX_CONFIG_H_INCLUDED
#define SBX_CONFIG_H_INCLUDED

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
    const char *log_level;              /* debug|info|warn|error */
    char worker_id_buf[300];            /* generated worker id */
    char work_dir_buf[4096];            /* resolved work directory */
} sbx_config_t;

/*  Parse environment and flags, check cross-field rules (defaults within
    maxima, results fit the frame cap), create the work directory. Returns
    0; 1 when --help was printed; -1 with a message in err (exit 1).       */
int sbx_config_load (sbx_config_t *cfg, int argc, char **argv, char *err, size_t err_size);

/*  What every run needs, taken from cfg (which must outlive it).          */
void sbx_config_run_conf (const sbx_config_t *cfg, sbx_run_conf_t *conf);

#endif
