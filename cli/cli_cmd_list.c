/*  cli_cmd_list.c - "cleudo ls" and "cleudo workers".

    For people: an aligned table, the status in colour on a terminal. For
    scripts (--json): one object {"items": [...]}; a task item is the HTTP
    API's list item (record_to_json's short form), a worker item has the
    keys of GET /api/workers.                                               */
#include "cli.h"
#include "cli_cmd.h"
#include "cli_json.h"
#include "cli_output.h"
#include "cli_table.h"
#include "json_text.h"
#include "record_to_json.h"
#include "task_summary.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

enum { O_STATUS = CLI_OPT_COMMAND_ + 20, O_LIMIT };

static const cli_opt_t s_ls_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, CLI_O_JSON },
    { "status", 's', true, O_STATUS },
    { "limit", 'n', true, O_LIMIT },
};

static const cli_opt_t s_workers_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, CLI_O_JSON },
};

typedef struct {
    bool json;                          /* --json */
    proto_status_t status;              /* --status, NONE: any */
    uint32_t limit;                     /* --limit, 0: the server's default */
} s_args_t;

/*  Options only, no positional arguments. -1 to go on, or the exit status. */
static int
s_parse (cli_global_t *global, int argc, char **argv, const cli_opt_t *opts, size_t count,
         s_args_t *args)
{
    memset (args, 0, sizeof *args);
    const char *cmd = argv[0];
    char err[CLI_ERR_MAX];
    cli_parser_t p;
    cli_parser_init (&p, cmd, opts, count, true, argc, argv);
    int id;
    uint64_t n;
    while ((id = cli_parser_next (&p)) != CLI_DONE) {
        switch (id) {
            case CLI_BAD:
                cli_error ("%s", p.err);
                return CLI_EXIT_USAGE;
            case CLI_OPT_HELP:
                cli_help_print (cmd);
                return CLI_EXIT_OK;
            case CLI_ARG:
                cli_error ("unexpected argument '%s': %s takes no arguments (see cleudo help "
                           "%s)", p.value, cmd, cmd);
                return CLI_EXIT_USAGE;
            case CLI_O_JSON:
                args->json = true;
                break;
            case O_STATUS:
                if (proto_status_parse (p.value, &args->status)) {
                    cli_error ("invalid %s '%s': expected one of queued, dispatched, running, "
                               "succeeded, failed, timed_out, killed, memory_limit, "
                               "output_limit, cancelled, rejected, lost, internal_error",
                               p.name, p.value);
                    return CLI_EXIT_USAGE;
                }
                break;
            case O_LIMIT:
                if (cli_parse_count (p.name, p.value, PROTO_LIST_MAX, &n, err, sizeof err)) {
                    cli_error ("%s", err);
                    return CLI_EXIT_USAGE;
                }
                args->limit = (uint32_t) n;
                break;
            default:
                if (cli_global_option (global, id, p.name, p.value, err, sizeof err)) {
                    cli_error ("%s", err);
                    return CLI_EXIT_USAGE;
                }
        }
    }
    return -1;
}

static int64_t
s_wall_ms (void)
{
    struct timeval tv;
    gettimeofday (&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*  "12s ago", "3m ago", "5h ago", "2d ago"; "-" when unknown.              */
static void
s_format_age (char *buf, size_t size, int64_t then_ms, int64_t now_ms)
{
    if (then_ms <= 0) {
        snprintf (buf, size, "-");
        return;
    }
    int64_t s = (now_ms - then_ms) / 1000;
    if (s < 0)
        s = 0;
    if (s < 60)
        snprintf (buf, size, "%" PRId64 "s ago", s);
    else
    if (s < 3600)
        snprintf (buf, size, "%" PRId64 "m ago", s / 60);
    else
    if (s < 86400)
        snprintf (buf, size, "%" PRId64 "h ago", s / 3600);
    else
        snprintf (buf, size, "%" PRId64 "d ago", s / 86400);
}

/*  ---- ls ----------------------------------------------------------------- */

/*  Print {"items": [...]} with item (i) for i < count; what names the
    list in the error message.                                              */
static int
s_items_json (size_t count, json_t *(*item) (const void *arg, size_t i), const void *arg,
              const char *what)
{
    json_t *items = json_array ();
    json_t *root = json_object ();
    int rc = 0;
    if (!items || !root || json_object_set (root, "items", items))
        rc = -1;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        json_t *one = item (arg, i);
        if (!one || json_array_append_new (items, one))
            rc = -1;
    }
    if (rc == 0)
        rc = cli_json_print (stdout, root);
    json_decref (items);
    json_decref (root);
    if (rc)
        cli_error ("cannot print the %s as JSON (out of memory, or stdout closed)", what);
    return rc ? CLI_EXIT_INTERNAL : 0;
}

static json_t *
s_task_item (const void *arg, size_t i)
{
    const proto_rep_tasks_t *tasks = arg;
    record_json_opts_t opts = { .list_item = true };
    return record_to_json (&tasks->items[i], &opts);
}

static int
s_ls_json (const proto_rep_tasks_t *tasks)
{
    return s_items_json (tasks->count, s_task_item, tasks, "list");
}

static int
s_ls_table (const proto_rep_tasks_t *tasks)
{
    static const char *const headers[] = { "ID", "STATUS", "EXIT", "CREATED", "WALL", "TASK" };
    cli_table_t *table = cli_table_new (headers, 6, 1);
    if (!table) {
        cli_error ("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    int64_t now = s_wall_ms ();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < tasks->count; i++) {
        const proto_record_t *rec = &tasks->items[i];
        const proto_result_t *r = &rec->result;
        bool done = proto_status_is_terminal (rec->status);
        char exit_text[32] = "-", created[32], wall[32] = "-";
        if (done && r->has_exit_code)
            snprintf (exit_text, sizeof exit_text, "%" PRId64, r->exit_code);
        else
        if (done && r->has_signal)
            snprintf (exit_text, sizeof exit_text, "sig %" PRId64, r->signal);
        s_format_age (created, sizeof created, rec->created_ms, now);
        if (done)
            cli_format_ms (wall, sizeof wall, r->wall_ms);
        char *summary = task_summary (&rec->task);
        const char *cells[] = { rec->id, proto_status_name (rec->status), exit_text, created,
                                wall, summary ? summary : "?" };
        rc = cli_table_add (table, cells, rec->status);
        free (summary);
    }
    if (rc == 0)
        cli_table_print (table, stdout, cli_use_color (STDOUT_FILENO));
    else
        cli_error ("out of memory");
    cli_table_destroy (&table);
    return rc ? CLI_EXIT_INTERNAL : 0;
}

int
cli_cmd_ls (cli_global_t *global, int argc, char **argv)
{
    s_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    int rc = s_parse (global, argc, argv, s_ls_opts, sizeof s_ls_opts / sizeof s_ls_opts[0],
                      &args);
    if (rc < 0)
        rc = cli_command_connect (global, &client);
    if (rc >= 0)
        return rc;
    rc = cli_client_list (client, args.status, args.limit, &reply);
    if (rc == 0)
        rc = args.json ? s_ls_json (&reply->u.tasks) : s_ls_table (&reply->u.tasks);
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}

/*  ---- workers --------------------------------------------------------------- */

/*  A layer for people: "on" / "off"; a level as "on: level N".            */
static void
s_layer_text (char *buf, size_t size, const proto_layer_t *layer)
{
    if (layer->value <= 0)
        snprintf (buf, size, "off");
    else
    if (layer->is_bool)
        snprintf (buf, size, "on");
    else
        snprintf (buf, size, "on: level %" PRId64, layer->value);
}

static json_t *
s_worker_json (const proto_worker_info_t *w)
{
    json_t *obj = json_object ();
    json_t *running = json_array ();
    json_t *isolation = json_object ();
    bool ok = obj && running && isolation;
    for (size_t i = 0; ok && i < w->running_count; i++)
        ok = json_array_append_new (running, json_string (w->running[i])) == 0;
    /*  The HTTP API's values: true/false, or the level (Landlock ABI).    */
    for (size_t i = 0; ok && i < w->isolation_count; i++) {
        const proto_layer_t *l = &w->isolation[i];
        ok = jtext_set_key (isolation, l->name, l->is_bool ? json_boolean (l->value)
                                                           : json_integer (l->value)) == 0;
    }
    ok = ok && json_object_set_new (obj, "id", jtext_name (w->worker)) == 0
         && json_object_set_new (obj, "slots", json_integer (w->slots)) == 0
         && json_object_set_new (obj, "busy", json_integer ((json_int_t) w->slots
                                                            - (json_int_t) w->free)) == 0
         && json_object_set_new (obj, "free", json_integer (w->free)) == 0
         && json_object_set_new (obj, "version", jtext_name (w->version)) == 0
         && json_object_set_new (obj, "last_heartbeat_ms",
                                 w->last_seen_ms > 0 ? json_integer (w->last_seen_ms)
                                                     : json_null ()) == 0
         && json_object_set_new (obj, "tasks_done", json_integer ((json_int_t) w->tasks_done)) == 0
         && json_object_set (obj, "running", running) == 0
         && json_object_set (obj, "isolation", isolation) == 0;
    json_decref (running);
    json_decref (isolation);
    if (!ok)
        json_decref (obj);
    return ok ? obj : NULL;
}

static json_t *
s_worker_item (const void *arg, size_t i)
{
    const proto_rep_workers_t *workers = arg;
    return s_worker_json (&workers->items[i]);
}

static int
s_workers_json (const proto_rep_workers_t *workers)
{
    return s_items_json (workers->count, s_worker_item, workers, "workers");
}

static int
s_workers_table (const proto_rep_workers_t *workers)
{
    static const char *const headers[] = { "WORKER", "SLOTS", "BUSY", "VERSION", "SEEN",
                                           "DONE", "RUNNING", "ISOLATION" };
    cli_table_t *table = cli_table_new (headers, 8, -1);
    if (!table) {
        cli_error ("out of memory");
        return CLI_EXIT_INTERNAL;
    }
    int64_t now = s_wall_ms ();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < workers->count; i++) {
        const proto_worker_info_t *w = &workers->items[i];
        char slots[16], busy[16], seen[32], done[32], running[512] = "", isolation[512] = "";
        snprintf (slots, sizeof slots, "%" PRIu32, w->slots);
        snprintf (busy, sizeof busy, "%" PRIu32, w->slots - (w->free < w->slots ? w->free
                                                                                : w->slots));
        s_format_age (seen, sizeof seen, w->last_seen_ms, now);
        snprintf (done, sizeof done, "%" PRIu64, w->tasks_done);
        for (size_t k = 0; k < w->running_count; k++) {
            size_t len = strlen (running);
            snprintf (running + len, sizeof running - len, "%s%s", k ? "," : "", w->running[k]);
        }
        for (size_t k = 0; k < w->isolation_count; k++) {
            char text[64];
            s_layer_text (text, sizeof text, &w->isolation[k]);
            size_t len = strlen (isolation);
            snprintf (isolation + len, sizeof isolation - len, "%s%s=%s", k ? " " : "",
                      w->isolation[k].name, text);
        }
        const char *cells[] = { w->worker, slots, busy, w->version, seen, done,
                                *running ? running : "-", *isolation ? isolation : "-" };
        rc = cli_table_add (table, cells, PROTO_STATUS_NONE);
    }
    if (rc == 0)
        cli_table_print (table, stdout, false);
    else
        cli_error ("out of memory");
    cli_table_destroy (&table);
    return rc ? CLI_EXIT_INTERNAL : 0;
}

int
cli_cmd_workers (cli_global_t *global, int argc, char **argv)
{
    s_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    int rc = s_parse (global, argc, argv, s_workers_opts,
                      sizeof s_workers_opts / sizeof s_workers_opts[0], &args);
    if (rc < 0)
        rc = cli_command_connect (global, &client);
    if (rc >= 0)
        return rc;
    rc = cli_client_workers (client, &reply);
    if (rc == 0)
        rc = args.json ? s_workers_json (&reply->u.workers)
                       : s_workers_table (&reply->u.workers);
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}
