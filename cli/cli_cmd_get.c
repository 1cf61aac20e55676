/*  cli_cmd_get.c - the commands about one task ID: "cleudo get ID",
    "cleudo wait ID" and "cleudo cancel ID", and their shared parser.      */
#include "cli.h"
#include "cli_cmd.h"
#include "cli_json.h"
#include "cli_output.h"

#include <stdio.h>
#include <string.h>

#define O_JSON CLI_O_JSON
#define O_TIMEOUT CLI_O_TIMEOUT
#define O_WAIT CLI_O_WAIT
typedef cli_id_args_t s_args_t;

static const cli_opt_t s_get_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, O_JSON },
};

static const cli_opt_t s_wait_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, O_JSON },
    { "timeout", 0, true, O_TIMEOUT },
};

static const cli_opt_t s_cancel_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, O_JSON },
    { "wait", 0, false, O_WAIT },
};

int
cli_command_connect (cli_global_t *global, cli_client_t **client)
{
    char err[CLI_ERR_MAX];
    if (cli_global_find_token (global, err, sizeof err)) {
        cli_error ("%s", err);
        return CLI_EXIT_USAGE;
    }
    *client = cli_client_new (global);
    return *client ? -1 : CLI_EXIT_INTERNAL;
}

int
cli_id_command_start (cli_global_t *global, int argc, char **argv, const cli_opt_t *opts,
                      size_t count, s_args_t *args, cli_client_t **client)
{
    memset (args, 0, sizeof *args);
    const char *cmd = argv[0];
    char err[CLI_ERR_MAX];
    cli_parser_t p;
    cli_parser_init (&p, cmd, opts, count, true, argc, argv);
    int id;
    while ((id = cli_parser_next (&p)) != CLI_DONE) {
        if (id == CLI_BAD) {
            cli_error ("%s", p.err);
            return CLI_EXIT_USAGE;
        }
        if (id == CLI_OPT_HELP) {
            cli_help_print (cmd);
            return CLI_EXIT_OK;
        }
        if (id == CLI_ARG) {
            if (args->id) {
                cli_error ("unexpected argument '%s': %s takes one task ID (see cleudo help %s)",
                           p.value, cmd, cmd);
                return CLI_EXIT_USAGE;
            }
            args->id = p.value;
        }
        else
        if (id == O_JSON)
            args->json = true;
        else
        if (id == O_WAIT)
            args->wait = true;
        else
        if (id == CLI_O_FOLLOW)
            args->follow = true;
        else
        if (id == CLI_O_QUIET)
            args->quiet = true;
        else
        if (id == O_TIMEOUT) {
            if (cli_parse_duration (p.name, p.value, &args->timeout_ms, err, sizeof err)) {
                cli_error ("%s", err);
                return CLI_EXIT_USAGE;
            }
        }
        else
        if (cli_global_option (global, id, p.name, p.value, err, sizeof err)) {
            cli_error ("%s", err);
            return CLI_EXIT_USAGE;
        }
    }
    if (!args->id) {
        cli_error ("%s needs a task ID (see cleudo help %s)", cmd, cmd);
        return CLI_EXIT_USAGE;
    }
    if (!proto_valid_id (args->id, strlen (args->id))) {
        cli_error ("'%s' is not a task id (1 to 64 of A-Z a-z 0-9 _ -)", args->id);
        return CLI_EXIT_USAGE;
    }
    return cli_command_connect (global, client);
}

static int
s_show (const s_args_t *args, const proto_record_t *record)
{
    if (args->json)
        return cli_json_print_record (stdout, record) ? CLI_EXIT_INTERNAL : 0;
    cli_print_summary (stdout, record);
    return 0;
}

int
cli_cmd_get (cli_global_t *global, int argc, char **argv)
{
    s_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    int rc = cli_id_command_start (global, argc, argv, s_get_opts, sizeof s_get_opts / sizeof s_get_opts[0],
                      &args, &client);
    if (rc >= 0)
        return rc;
    rc = cli_client_get (client, args.id, &reply);
    if (rc == 0)
        rc = s_show (&args, &reply->u.record);
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}

int
cli_cmd_wait (cli_global_t *global, int argc, char **argv)
{
    s_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    int rc = cli_id_command_start (global, argc, argv, s_wait_opts,
                      sizeof s_wait_opts / sizeof s_wait_opts[0], &args, &client);
    if (rc >= 0)
        return rc;
    /*  A quick get first: it tells at once whether the orchestrator is
        there and the task exists, and a finished task needs nothing more. */
    rc = cli_client_get (client, args.id, &reply);
    if (rc == 0 && !proto_status_is_terminal (reply->u.record.status)) {
        proto_msg_destroy (&reply);
        rc = cli_client_wait (client, args.id, (int64_t) args.timeout_ms, &reply);
    }
    if (rc == 0) {
        int shown = s_show (&args, &reply->u.record);
        rc = shown ? shown : cli_outcome (&reply->u.record, NULL, 0, NULL);
    }
    else
    if (rc == CLI_EXIT_WAIT_TIMEOUT) {
        char dur[64];
        cli_format_ms (dur, sizeof dur, args.timeout_ms);
        if (reply) {
            cli_error ("task %s has not finished after %s (status %s)", args.id, dur,
                       proto_status_name (reply->u.record.status));
            if (s_show (&args, &reply->u.record))
                rc = CLI_EXIT_INTERNAL;
        }
        else
            cli_error ("task %s has not finished after %s", args.id, dur);
    }
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}

int
cli_cmd_cancel (cli_global_t *global, int argc, char **argv)
{
    s_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    int rc = cli_id_command_start (global, argc, argv, s_cancel_opts,
                      sizeof s_cancel_opts / sizeof s_cancel_opts[0], &args, &client);
    if (rc >= 0)
        return rc;
    rc = cli_client_cancel (client, args.id, &reply);
    if (rc == 0 && args.wait && !proto_status_is_terminal (reply->u.record.status)) {
        proto_msg_destroy (&reply);
        rc = cli_client_wait (client, args.id, 0, &reply);
    }
    if (rc == 0) {
        const proto_record_t *record = &reply->u.record;
        if (args.json)
            rc = cli_json_print_record (stdout, record) ? CLI_EXIT_INTERNAL : 0;
        else
        if (record->status == PROTO_STATUS_CANCELLED)
            printf ("task %s cancelled\n", args.id);
        else
        if (proto_status_is_terminal (record->status))
            printf ("task %s finished before the cancel reached it (%s)\n", args.id,
                    proto_status_name (record->status));
        else
            printf ("task %s: cancel requested; its worker is stopping it"
                    " (cleudo wait %s shows the end)\n", args.id, args.id);
    }
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}

int
cli_cmd_help (cli_global_t *global, int argc, char **argv)
{
    (void) global;
    if (argc <= 1) {
        cli_help_print_main ();
        return CLI_EXIT_OK;
    }
    const char *name = argv[1];
    if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0)
        name = "help";
    if (argc > 2) {
        cli_error ("help takes one COMMAND (see cleudo help)");
        return CLI_EXIT_USAGE;
    }
    if (cli_help_print (name)) {
        cli_error ("unknown command '%s' (see cleudo help)", name);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}
