/*  orch_config.h - the orchestrator's settings (one typed table).

    Each is an environment variable with a flag twin (see --help); a bad
    value stops the start with the variable, the value and what is allowed.
*/
#ifndef ORCH_CONFIG_H_INCLUDED
#define ORCH_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct orch_config_t {
    const char *http_addr;              /* ORCH_HTTP_ADDR, HOST:PORT (0: any) */
    const char *submit_endpoint;        /* ORCH_SUBMIT_ENDPOINT (ROUTER) */
    const char *tasks_endpoint;         /* ORCH_TASKS_ENDPOINT (PUSH) */
    const char *results_endpoint;       /* ORCH_RESULTS_ENDPOINT (PULL) */
    const char *control_endpoint;       /* ORCH_CONTROL_ENDPOINT (PUB) */
    const char *data_dir;               /* ORCH_DATA_DIR */
    const char *api_token;              /* ORCH_API_TOKEN or NULL */
    const char *durability;             /* ORCH_DURABILITY: normal|full */
    int64_t max_frame;                  /* ORCH_MAX_FRAME, bytes */
    int64_t max_body;                   /* ORCH_MAX_BODY, bytes */
    int64_t max_wait;                   /* ORCH_MAX_WAIT, ms */
    int64_t worker_timeout;             /* ORCH_WORKER_TIMEOUT, ms */
    int64_t max_waiters;                /* ORCH_MAX_WAITERS */
    int64_t http_idle_timeout;          /* ORCH_HTTP_IDLE_TIMEOUT, ms */
    int64_t max_attempts;               /* ORCH_MAX_ATTEMPTS: runs a vanished
                                           worker may cost a task */
    int64_t dispatch_lease;             /* ORCH_DISPATCH_LEASE, ms */
    int64_t max_queued;                 /* ORCH_MAX_QUEUED: waiting tasks */
    int64_t retention;                  /* ORCH_RETENTION, ms */
    int64_t max_output_stored;          /* ORCH_MAX_OUTPUT_STORED, bytes/stream */
    int64_t sse_ping;                   /* ORCH_SSE_PING, ms */
    int64_t event_history;              /* ORCH_EVENT_HISTORY, events kept */
    int64_t http_max_connections;       /* ORCH_HTTP_MAX_CONNECTIONS */
    int64_t http_max_per_ip;            /* ORCH_HTTP_MAX_PER_IP, 0: none */
    int64_t http_header_timeout;        /* ORCH_HTTP_HEADER_TIMEOUT, ms */
    const char *curve;                  /* ORCH_CURVE: on|off */
    const char *keys_dir;               /* ORCH_KEYS_DIR (curve.h) */
    const char *log_level;              /* ORCH_LOG_LEVEL */
};

typedef struct orch_config_t orch_config_t;

/*  Defaults, environment, then flags. 0: loaded, 1: --help was printed,
    -1: err names the variable, the value and what is allowed.             */
int orch_config_load (orch_config_t *cfg, int argc, char **argv, char *err, size_t err_size);

#endif
