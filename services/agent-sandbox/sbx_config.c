/*  sbx_config.c - settings table and start-up checks of the agent-sandbox. */
#define _GNU_SOURCE
#include "sbx_config.h"
#include "config.h"
#include "proto.h"
#include "workspace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define KIB 1024ll
#define MIB (1024ll * 1024)
#define GIB (1024ll * 1024 * 1024)
#define ABSURD_MS ((int64_t) PROTO_LIMIT_ABSURD_MS)
#define ABSURD_BYTES ((int64_t) PROTO_LIMIT_ABSURD_BYTES)
#define ABSURD_COUNT ((int64_t) PROTO_LIMIT_ABSURD_COUNT)

static const char s_usage[] =
    "usage: agent-sandbox [OPTIONS]\n\n"
    "Connects to the orchestrator's worker link (tasks, results, control),\n"
    "runs each task in a fresh child process, sends the results back.";

int
sbx_config_load (sbx_config_t *cfg, int argc, char **argv, char *err, size_t err_size)
{
    memset (cfg, 0, sizeof *cfg);
    /*  The slot default is the machine's: computed now, not at build.     */
    static char slots_def[16];
    long cpus = sysconf (_SC_NPROCESSORS_ONLN);
    snprintf (slots_def, sizeof slots_def, "%ld", cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);

    const cfg_option_t opts[] = {
        { "SANDBOX_TASKS_ENDPOINT", "tasks-endpoint", CFG_ENDPOINT, "tcp://127.0.0.1:5557", 0, 0,
          NULL, "orchestrator's tasks socket (we PULL)", &cfg->tasks_endpoint, false },
        { "SANDBOX_RESULTS_ENDPOINT", "results-endpoint", CFG_ENDPOINT, "tcp://127.0.0.1:5558", 0, 0,
          NULL, "orchestrator's results socket (we PUSH)", &cfg->results_endpoint, false },
        { "SANDBOX_CONTROL_ENDPOINT", "control-endpoint", CFG_ENDPOINT, "tcp://127.0.0.1:5559", 0, 0,
          NULL, "orchestrator's control socket (we SUB)", &cfg->control_endpoint, false },
        { "SANDBOX_SLOTS", "slots", CFG_INT, slots_def, 1, 256, NULL,
          "tasks run at once; the default is the number of online CPUs", &cfg->slots, false },
        { "SANDBOX_WORK_DIR", "work-dir", CFG_STRING, "./sandbox_io/work", 1, 0, NULL,
          "parent of per-task workspaces (created 0700)", &cfg->work_dir, false },
        { "SANDBOX_WORKER_ID", "worker-id", CFG_STRING, "", 0, 0, NULL,
          "unique worker id; empty: HOSTNAME-PID-RANDOM", &cfg->worker_id, false },
        { "SANDBOX_HEARTBEAT", "heartbeat", CFG_MS, "1s", 50, 60000, NULL,
          "heartbeat period", &cfg->heartbeat_ms, false },
        { "SANDBOX_MAX_FRAME", "max-frame", CFG_BYTES, "16M", 256 * KIB, 2 * GIB - 1, NULL,
          "largest frame received or sent", &cfg->max_frame, false },
        { "SANDBOX_DEFAULT_WALL", "default-wall", CFG_MS, "10s", 1, ABSURD_MS, NULL,
          "wall-clock limit when a task gives none", &cfg->default_wall, false },
        { "SANDBOX_MAX_WALL", "max-wall", CFG_MS, "10m", 1, ABSURD_MS, NULL,
          "largest wall-clock limit (larger ones are clamped)", &cfg->max_wall, false },
        { "SANDBOX_DEFAULT_CPU", "default-cpu", CFG_MS, "10s", 1, ABSURD_MS, NULL,
          "CPU time limit when a task gives none", &cfg->default_cpu, false },
        { "SANDBOX_MAX_CPU", "max-cpu", CFG_MS, "10m", 1, ABSURD_MS, NULL,
          "largest CPU time limit", &cfg->max_cpu, false },
        { "SANDBOX_DEFAULT_MEMORY", "default-memory", CFG_BYTES, "512M", MIB, ABSURD_BYTES, NULL,
          "address-space limit when a task gives none", &cfg->default_memory, false },
        { "SANDBOX_MAX_MEMORY", "max-memory", CFG_BYTES, "4G", MIB, ABSURD_BYTES, NULL,
          "largest address-space limit", &cfg->max_memory, false },
        { "SANDBOX_DEFAULT_PROCESSES", "default-processes", CFG_INT, "64", 1, ABSURD_COUNT, NULL,
          "process limit when a task gives none", &cfg->default_processes, false },
        { "SANDBOX_MAX_PROCESSES", "max-processes", CFG_INT, "1024", 1, ABSURD_COUNT, NULL,
          "largest process limit", &cfg->max_processes, false },
        { "SANDBOX_DEFAULT_OUTPUT", "default-output", CFG_BYTES, "1M", 1, GIB, NULL,
          "output kept per stream when a task gives no limit", &cfg->default_output, false },
        { "SANDBOX_MAX_OUTPUT", "max-output", CFG_BYTES, "4M", 1, GIB, NULL,
          "largest output kept per stream", &cfg->max_output, false },
        { "SANDBOX_DEFAULT_FILE_SIZE", "default-file-size", CFG_BYTES, "16M", 1, ABSURD_BYTES, NULL,
          "largest file a task may write when it gives no limit", &cfg->default_file_size, false },
        { "SANDBOX_MAX_FILE_SIZE", "max-file-size", CFG_BYTES, "1G", 1, ABSURD_BYTES, NULL,
          "largest file size limit", &cfg->max_file_size, false },
        /*  8M minus the 64K result slack: with the 4M output maximum the
            defaults then fit a 16M frame exactly (see the check below).   */
        { "SANDBOX_MAX_COLLECT", "max-collect", CFG_BYTES, "8128K", 0, GIB, NULL,
          "collected file bytes per result, names included", &cfg->max_collect, false },
        /*  Isolation: every layer is on where it works; these turn optional
            ones off (for comparisons, or a kernel that misbehaves) and
            name the ones without which the worker must not run.           */
        { "SANDBOX_REQUIRE", "require", CFG_LIST, "", 0, 0, SBX_ISO_LAYER_NAMES,
          "comma list of isolation layers that must be enforced, else refuse to start"
          " (e.g. seccomp,landlock,userns,pidns,mountns,netns,cgroup)", &cfg->require, false },
        { "SANDBOX_SECCOMP", "seccomp", CFG_CHOICE, "auto", 0, 0, "auto|off",
          "seccomp filter: auto (when the kernel has it) or off", &cfg->seccomp, false },
        { "SANDBOX_LANDLOCK", "landlock", CFG_CHOICE, "auto", 0, 0, "auto|off",
          "Landlock file and TCP rules: auto or off", &cfg->landlock, false },
        { "SANDBOX_NAMESPACES", "namespaces", CFG_CHOICE, "auto", 0, 0, "auto|off",
          "user, PID, mount, network, IPC, UTS namespaces: auto or off",
          &cfg->namespaces, false },
        { "SANDBOX_CGROUP", "cgroup", CFG_CHOICE, "auto", 0, 0, "auto|off",
          "a cgroup per slot (memory, pids, OOM, kill): auto or off", &cfg->cgroup, false },
        { "SANDBOX_UID_BASE", "uid-base", CFG_INT, "200000", 1000, 4000000000ll, NULL,
          "as root: slot N's tasks run as host uid/gid UID_BASE+N", &cfg->uid_base, false },
        { "SANDBOX_ALLOW_NETWORK", "allow-network", CFG_BOOL, "false", 0, 0, NULL,
          "tasks may ask for network (limits.network): host network, no netns",
          &cfg->allow_network, false },
        { "SANDBOX_OUTPUT_POLICY", "output-policy", CFG_CHOICE, "truncate", 0, 0, "truncate|kill",
          "output beyond the cap: truncate (keep running) or kill (status output_limit)",
          &cfg->output_policy, false },
        { "SANDBOX_STREAM_OUTPUT", "stream-output", CFG_BOOL, "on", 0, 0, NULL,
          "send output frames while a task runs (every 50 ms / 16 KiB): on or off",
          &cfg->stream_output, false },
        { "SANDBOX_LOG_LEVEL", "log-level", CFG_CHOICE, "info", 0, 0, "debug|info|warn|error",
          "log level", &cfg->log_level, false },
        /*  Reliability: the acknowledged outbox and the graceful stop.    */
        { "SANDBOX_OUTBOX", "outbox", CFG_INT, "1000", 1, 1000000, NULL,
          "finished results kept until acknowledged; when full, no new task",
          &cfg->outbox_results, false },
        { "SANDBOX_OUTBOX_BYTES", "outbox-bytes", CFG_BYTES, "256M", 64 * KIB, 64 * GIB, NULL,
          "bytes of results kept until acknowledged; when full, no new task",
          &cfg->outbox_bytes, false },
        { "SANDBOX_RESEND", "resend", CFG_MS, "1s", 50, 60000, NULL,
          "re-send an unacknowledged result after this (then doubling, max 30s)",
          &cfg->resend_ms, false },
        { "SANDBOX_GRACE", "grace", CFG_MS, "10s", 0, 3600 * 1000, NULL,
          "on SIGTERM: time to finish running tasks and get results acknowledged",
          &cfg->grace_ms, false },
    };
    int first = 0;
    int rc = cfg_load (opts, sizeof opts / sizeof opts[0], argc, argv, s_usage, &first,
                       err, err_size);
    if (rc)
        return rc;
    if (first < argc) {
        snprintf (err, err_size, "unexpected argument '%.60s' (see --help)", argv[first]);
        return -1;
    }

    /*  Defaults must lie within the maxima they are clamped to.           */
    const struct { const char *d, *m; int64_t dv, mv; } pairs[] = {
        { "SANDBOX_DEFAULT_WALL", "SANDBOX_MAX_WALL", cfg->default_wall, cfg->max_wall },
        { "SANDBOX_DEFAULT_CPU", "SANDBOX_MAX_CPU", cfg->default_cpu, cfg->max_cpu },
        { "SANDBOX_DEFAULT_MEMORY", "SANDBOX_MAX_MEMORY", cfg->default_memory, cfg->max_memory },
        { "SANDBOX_DEFAULT_PROCESSES", "SANDBOX_MAX_PROCESSES", cfg->default_processes,
          cfg->max_processes },
        { "SANDBOX_DEFAULT_OUTPUT", "SANDBOX_MAX_OUTPUT", cfg->default_output, cfg->max_output },
        { "SANDBOX_DEFAULT_FILE_SIZE", "SANDBOX_MAX_FILE_SIZE", cfg->default_file_size,
          cfg->max_file_size },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        if (pairs[i].dv > pairs[i].mv) {
            snprintf (err, err_size, "invalid %s=%" PRId64 ": must not exceed %s=%" PRId64,
                      pairs[i].d, pairs[i].dv, pairs[i].m, pairs[i].mv);
            return -1;
        }

    /*  A result holds at most both streams, the collected files and small
        fields: it must always fit the frame cap, or it could never be sent. */
    int64_t need = 2 * cfg->max_output + cfg->max_collect + SBX_RESULT_SLACK;
    if (need > cfg->max_frame) {
        snprintf (err, err_size,
                  "invalid limits: 2 x SANDBOX_MAX_OUTPUT (%" PRId64 ") + SANDBOX_MAX_COLLECT (%" PRId64
                  ") + 64K = %" PRId64 " bytes exceeds SANDBOX_MAX_FRAME=%" PRId64
                  "; lower the first two or raise the last",
                  cfg->max_output, cfg->max_collect, need, cfg->max_frame);
        return -1;
    }

    if (!cfg->worker_id[0]) {
        char host[256] = "";
        if (gethostname (host, sizeof host - 1))
            snprintf (host, sizeof host, "sandbox");
        uint16_t rnd = 0;
        if (getrandom (&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t) sizeof rnd)
            rnd = (uint16_t) (getpid () * 2654435761u >> 16);
        snprintf (cfg->worker_id_buf, sizeof cfg->worker_id_buf, "%.200s-%ld-%04x", host,
                  (long) getpid (), rnd);
        cfg->worker_id = cfg->worker_id_buf;
    }
    size_t idlen = strlen (cfg->worker_id);
    bool id_ok = idlen <= PROTO_NAME_MAX;
    for (size_t i = 0; i < idlen && id_ok; i++)
        id_ok = (unsigned char) cfg->worker_id[i] > 0x20 && cfg->worker_id[i] != 0x7f;
    if (!id_ok) {
        snprintf (err, err_size, "invalid SANDBOX_WORKER_ID='%.60s': expected 1 to %d "
                  "printable characters without spaces", cfg->worker_id, PROTO_NAME_MAX);
        return -1;
    }

    if (sbx_workspace_prepare_root (cfg->work_dir, err, err_size))
        return -1;
    if (!realpath (cfg->work_dir, cfg->work_dir_buf)) {
        snprintf (err, err_size, "invalid SANDBOX_WORK_DIR='%.200s': cannot resolve", cfg->work_dir);
        return -1;
    }
    cfg->work_dir = cfg->work_dir_buf;
    return 0;
}

void
sbx_config_run_conf (const sbx_config_t *cfg, sbx_run_conf_t *conf)
{
    memset (conf, 0, sizeof *conf);
    conf->work_dir = cfg->work_dir;
    conf->worker = cfg->worker_id;
    conf->defaults = (sbx_limits_t) {
        (uint64_t) cfg->default_wall, (uint64_t) cfg->default_cpu,
        (uint64_t) cfg->default_memory, (uint64_t) cfg->default_processes,
        (uint64_t) cfg->default_output, (uint64_t) cfg->default_file_size,
    };
    conf->maxima = (sbx_limits_t) {
        (uint64_t) cfg->max_wall, (uint64_t) cfg->max_cpu,
        (uint64_t) cfg->max_memory, (uint64_t) cfg->max_processes,
        (uint64_t) cfg->max_output, (uint64_t) cfg->max_file_size,
    };
    conf->max_collect = (uint64_t) cfg->max_collect;
    conf->open_files = SBX_OPEN_FILES;
    conf->allow_network = cfg->allow_network;
    conf->output_kill = strcmp (cfg->output_policy, "kill") == 0;
    conf->stream_output = cfg->stream_output;
}

void
sbx_config_iso (const sbx_config_t *cfg, sbx_iso_config_t *iso)
{
    memset (iso, 0, sizeof *iso);
    iso->seccomp = strcmp (cfg->seccomp, "off") != 0;
    iso->landlock = strcmp (cfg->landlock, "off") != 0;
    iso->namespaces = strcmp (cfg->namespaces, "off") != 0;
    iso->cgroup = strcmp (cfg->cgroup, "off") != 0;
    iso->require = cfg->require;
    iso->uid_base = (uint32_t) cfg->uid_base;
    iso->work_dir = cfg->work_dir;
    iso->slots = (size_t) cfg->slots;
    iso->allow_network = cfg->allow_network;
}
