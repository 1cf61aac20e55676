/*  orch_config.c - the settings table.                                     */
#include "orch_config.h"
#include "config.h"
#include "token.h"

#include <stdio.h>
#include <string.h>

#define ORCH_USAGE \
    "usage: orchestrator [OPTIONS]\n\n" \
    "Serves the REST API and the CLI's submit socket, keeps every task in\n" \
    "SQLite and dispatches tasks to agent-sandbox workers over ZeroMQ.\n\n" \
    "       orchestrator keygen DIR\n\n" \
    "creates the CURVE keys of the worker link in DIR (never replacing a file):\n" \
    "DIR/server.key_secret and DIR/workers/ for the orchestrator (ORCH_KEYS_DIR=DIR),\n" \
    "DIR/server.key and DIR/worker.key_secret for agent-sandbox (SANDBOX_SERVER_KEY,\n" \
    "SANDBOX_CERT). Secret files are 0600."

int
orch_config_load (orch_config_t *cfg, int argc, char **argv, char *err, size_t err_size)
{
    memset (cfg, 0, sizeof *cfg);
    const cfg_option_t opts[] = {
        { "ORCH_HTTP_ADDR", "http-addr", CFG_HOSTPORT, "127.0.0.1:8080", 0, 0, NULL,
          "HTTP listen address (port 0: pick a free one)", &cfg->http_addr, false },
        { "ORCH_SUBMIT_ENDPOINT", "submit-endpoint", CFG_ENDPOINT, "tcp://127.0.0.1:5555", 0, 0,
          NULL, "submit socket for the CLI (ROUTER, bound)", &cfg->submit_endpoint, false },
        { "ORCH_TASKS_ENDPOINT", "tasks-endpoint", CFG_ENDPOINT, "tcp://127.0.0.1:5557", 0, 0,
          NULL, "task frames to workers (PUSH, bound)", &cfg->tasks_endpoint, false },
        { "ORCH_RESULTS_ENDPOINT", "results-endpoint", CFG_ENDPOINT, "tcp://127.0.0.1:5558", 0,
          0, NULL, "frames from workers (PULL, bound)", &cfg->results_endpoint, false },
        { "ORCH_CONTROL_ENDPOINT", "control-endpoint", CFG_ENDPOINT, "tcp://127.0.0.1:5559", 0,
          0, NULL, "cancel/ack to workers (PUB, bound)", &cfg->control_endpoint, false },
        { "ORCH_DATA_DIR", "data-dir", CFG_STRING, "./data", 1, 0, NULL,
          "database and token file directory (created 0700)", &cfg->data_dir, false },
        { "ORCH_API_TOKEN", "api-token", CFG_STRING, NULL, ORCH_TOKEN_MIN, 0, NULL,
          "API token (generated into DATA_DIR/token when unset)", &cfg->api_token, true },
        { "ORCH_DURABILITY", "durability", CFG_CHOICE, "normal", 0, 0, "normal|full",
          "normal: commits survive a crash; full: also a power loss", &cfg->durability, false },
        { "ORCH_MAX_FRAME", "max-frame", CFG_BYTES, "16M", 64 * 1024, 1024ll * 1024 * 1024,
          NULL, "largest ZeroMQ frame accepted or sent", &cfg->max_frame, false },
        { "ORCH_MAX_BODY", "max-body", CFG_BYTES, "32M", 1024, 1024ll * 1024 * 1024, NULL,
          "largest HTTP request body", &cfg->max_body, false },
        { "ORCH_MAX_WAIT", "max-wait", CFG_MS, "300s", 1000, 24ll * 3600 * 1000, NULL,
          "longest ?wait / wait_ms a client may ask for", &cfg->max_wait, false },
        { "ORCH_WORKER_TIMEOUT", "worker-timeout", CFG_MS, "5s", 100, 3600 * 1000, NULL,
          "a worker silent this long is dead", &cfg->worker_timeout, false },
        { "ORCH_MAX_WAITERS", "max-waiters", CFG_INT, "10000", 1, 1000000, NULL,
          "requests that may wait for tasks at once", &cfg->max_waiters, false },
        { "ORCH_HTTP_IDLE_TIMEOUT", "http-idle-timeout", CFG_MS, "120s", 1000, 3600 * 1000,
          NULL, "close HTTP connections idle this long (waiting ones excepted)",
          &cfg->http_idle_timeout, false },
        { "ORCH_MAX_ATTEMPTS", "max-attempts", CFG_INT, "2", 1, 100, NULL,
          "runs of a task that may end with their worker gone before it is lost",
          &cfg->max_attempts, false },
        { "ORCH_DISPATCH_LEASE", "dispatch-lease", CFG_MS, "5s", 100, 3600 * 1000, NULL,
          "a task sent but not started this long goes back to the queue",
          &cfg->dispatch_lease, false },
        { "ORCH_MAX_QUEUED", "max-queued", CFG_INT, "10000", 1, 10000000, NULL,
          "tasks waiting (queued or sent, not started); beyond: 429 queue_full",
          &cfg->max_queued, false },
        { "ORCH_RETENTION", "retention", CFG_MS, "7d", 1000, 3650ll * 24 * 3600 * 1000, NULL,
          "finished tasks older than this are deleted", &cfg->retention, false },
        { "ORCH_MAX_OUTPUT_STORED", "max-output-stored", CFG_BYTES, "4M", 0,
          1024ll * 1024 * 1024, NULL, "stdout / stderr bytes kept per task and stream",
          &cfg->max_output_stored, false },
        { "ORCH_SSE_PING", "sse-ping", CFG_MS, "15s", 100, 3600 * 1000, NULL,
          "an idle event stream gets a comment line this often", &cfg->sse_ping, false },
        { "ORCH_EVENT_HISTORY", "event-history", CFG_INT, "4096", 16, 1000000, NULL,
          "changes kept for event streams that resume (Last-Event-ID)",
          &cfg->event_history, false },
        { "ORCH_HTTP_MAX_CONNECTIONS", "http-max-connections", CFG_INT, "4096", 16, 1000000,
          NULL, "HTTP connections open at once; beyond, new ones are closed",
          &cfg->http_max_connections, false },
        { "ORCH_HTTP_MAX_PER_IP", "http-max-per-ip", CFG_INT, "256", 0, 1000000, NULL,
          "HTTP connections one client address may hold (0: no limit; loopback exempt)",
          &cfg->http_max_per_ip, false },
        { "ORCH_HTTP_HEADER_TIMEOUT", "http-header-timeout", CFG_MS, "10s", 500, 3600 * 1000,
          NULL, "a request's headers must be complete this long after its connection"
          " opened or its previous request ended", &cfg->http_header_timeout, false },
        { "ORCH_CURVE", "curve", CFG_CHOICE, "on", 0, 0, "on|off",
          "CURVE on the worker link (tasks, results, control); off: plain, for tests only",
          &cfg->curve, false },
        { "ORCH_KEYS_DIR", "keys-dir", CFG_STRING, "./keys", 1, 0, NULL,
          "server.key_secret and workers/*.key (allowed workers); see `orchestrator keygen`",
          &cfg->keys_dir, false },
        { "ORCH_LOG_LEVEL", "log-level", CFG_CHOICE, "info", 0, 0, "debug|info|warn|error",
          "least severe log level printed", &cfg->log_level, false },
    };
    int first = 0;
    int rc = cfg_load (opts, sizeof opts / sizeof opts[0], argc, argv, ORCH_USAGE, &first,
                       err, err_size);
    if (rc)
        return rc;
    if (first < argc) {
        snprintf (err, err_size, "unexpected argument '%.60s' (see --help)", argv[first]);
        return -1;
    }
    if (cfg->api_token && !orch_token_valid (cfg->api_token, strlen (cfg->api_token))) {
        char shown[32];
        cfg_mask_secret (cfg->api_token, shown, sizeof shown);
        snprintf (err, err_size, "invalid ORCH_API_TOKEN='%s': must be %d..%d printable ASCII"
                  " characters without spaces", shown, ORCH_TOKEN_MIN, 256);
        return -1;
    }
    return 0;
}
