/*  cli_cmd_run.c - "cleudo run" and "cleudo submit".

    run = submit, then wait in bounded "wait" requests until the task is
    terminal, then print. Streaming output and Ctrl-C -> cancel will hook
    into the waiting step (cli_client_wait) without changing this shape.   */
#include "cli.h"
#include "cli_task_spec.h"
#include "cli_client.h"
#include "cli_json.h"
#include "cli_output.h"

#include <stdio.h>

/*  Parse the options, find the token, connect. Returns -1 to go on, or the
    exit status to leave with (0 after --help).                             */
static int
s_start (cli_global_t *global, int argc, char **argv, cli_task_spec_t *spec,
         cli_client_t **client)
{
    char err[CLI_ERR_MAX];
    int rc = cli_task_spec_parse (spec, global, argc, argv, err, sizeof err);
    if (rc == 1) {
        cli_help_print (argv[0]);
        return CLI_EXIT_OK;
    }
    if (rc < 0) {
        cli_error ("%s", err);
        return CLI_EXIT_USAGE;
    }
    if (cli_global_find_token (global, err, sizeof err)) {
        cli_error ("%s", err);
        return CLI_EXIT_USAGE;
    }
    *client = cli_client_new (global);
    return *client ? -1 : CLI_EXIT_INTERNAL;
}

int
cli_cmd_run (cli_global_t *global, int argc, char **argv)
{
    cli_task_spec_t spec;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    char id[PROTO_ID_MAX + 1];
    int rc = s_start (global, argc, argv, &spec, &client);
    if (rc >= 0)
        goto done;
    rc = cli_client_submit (client, &spec.task, spec.key, id);
    if (rc)
        goto done;
    rc = cli_client_wait (client, id, 0, &reply);
    if (rc) {
        cli_error ("task %s was accepted and will still run; see it with: cleudo wait %s",
                   id, id);
        goto done;
    }
    const proto_record_t *record = &reply->u.record;
    if (spec.json)
        rc = cli_json_print_record (stdout, record) ? CLI_EXIT_INTERNAL
                                                    : cli_outcome (record, NULL, 0, NULL);
    else
        rc = cli_print_task_output (record, stdout, stderr, spec.quiet);
done:
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    cli_task_spec_free (&spec);
    return rc;
}

int
cli_cmd_submit (cli_global_t *global, int argc, char **argv)
{
    cli_task_spec_t spec;
    cli_client_t *client = NULL;
    char id[PROTO_ID_MAX + 1];
    int rc = s_start (global, argc, argv, &spec, &client);
    if (rc >= 0)
        goto done;
    rc = cli_client_submit (client, &spec.task, spec.key, id);
    if (rc)
        goto done;
    /*  Ids are [A-Za-z0-9_-]: safe to print, also inside JSON quotes.     */
    if (spec.json)
        printf ("{\"id\":\"%s\"}\n", id);
    else
        printf ("%s\n", id);
    if (fflush (stdout)) {
        cli_error ("cannot write to stdout (task %s was accepted)", id);
        rc = CLI_EXIT_INTERNAL;
    }
done:
    cli_client_destroy (&client);
    cli_task_spec_free (&spec);
    return rc;
}
