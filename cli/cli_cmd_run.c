/*  cli_cmd_run.c - "cleudo run" and "cleudo submit".

    run = submit, then follow the task's output as it is produced
    (cli_stream) until its final record, then the notes and the exit
    status. --json waits instead (the record is the output), and so does
    run against an orchestrator that does not know "stream". Ctrl-C while
    following cancels the task. run --detach is submit.                    */
#include "cli.h"
#include "cli_task_spec.h"
#include "cli_client.h"
#include "cli_interrupt.h"
#include "cli_json.h"
#include "cli_output.h"
#include "cli_stream.h"

#include <stdio.h>
#include <unistd.h>

/*  How long a cancel after Ctrl-C waits for its answer.                    */
#define S_CANCEL_MS 2000

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

/*  Ctrl-C: cancel the task, wait briefly for the answer, exit 130. A
    second Ctrl-C ends cleudo at once.                                      */
int
cli_cancel_after_interrupt (cli_client_t *client, const char *id)
{
    cli_interrupt_release ();
    proto_msg_t *reply = NULL;
    int rc = cli_client_cancel_within (client, id, S_CANCEL_MS, &reply);
    if (rc == 0)
        cli_error ("interrupted: task %s %s", id,
                   reply->u.record.status == PROTO_STATUS_CANCELLED ? "cancelled"
                   : proto_status_is_terminal (reply->u.record.status) ? "had finished already"
                   : "is being cancelled");
    else
        cli_error ("interrupted: task %s may still run; cancel it with: cleudo cancel %s",
                   id, id);
    proto_msg_destroy (&reply);
    return CLI_EXIT_INTERRUPTED;
}

/*  Submit, print the id, return (submit, run --detach).                   */
static int
s_submit_only (cli_client_t *client, const cli_task_spec_t *spec)
{
    char id[PROTO_ID_MAX + 1];
    int rc = cli_client_submit (client, &spec->task, spec->key, id);
    if (rc)
        return rc;
    /*  Ids are [A-Za-z0-9_-]: safe to print, also inside JSON quotes.     */
    if (spec->json)
        printf ("{\"id\":\"%s\"}\n", id);
    else
        printf ("%s\n", id);
    if (fflush (stdout)) {
        cli_error ("cannot write to stdout (task %s was accepted)", id);
        return CLI_EXIT_INTERNAL;
    }
    return 0;
}

int
cli_run_follow (cli_client_t *client, const char *id, bool json, bool quiet)
{
    proto_msg_t *reply = NULL;
    cli_interrupt_catch ();
    bool at_line_start = true;
    int rc = CLI_STREAM_UNSUPPORTED;
    if (!json) {
        cli_stream_opts_t opts = { STDOUT_FILENO, STDERR_FILENO, quiet, true };
        rc = cli_stream_follow (client, id, &opts, &reply, &at_line_start);
    }
    if (rc == CLI_STREAM_UNSUPPORTED) {
        rc = cli_client_wait (client, id, 0, &reply);
        if (rc == 0 && !json) {
            rc = cli_print_task_output (&reply->u.record, stdout, stderr, quiet);
            goto done;
        }
    }
    if (rc == CLI_EXIT_INTERRUPTED) {
        rc = cli_cancel_after_interrupt (client, id);
        goto done;
    }
    if (rc) {
        cli_error ("task %s was accepted and will still run; see it with: cleudo wait %s",
                   id, id);
        goto done;
    }
    const proto_record_t *record = &reply->u.record;
    if (json)
        rc = cli_json_print_record (stdout, record) ? CLI_EXIT_INTERNAL
                                                    : cli_outcome (record, NULL, 0, NULL);
    else
        rc = cli_print_task_notes (record, stderr, quiet, at_line_start);
done:
    cli_interrupt_release ();
    proto_msg_destroy (&reply);
    return rc;
}

int
cli_cmd_run (cli_global_t *global, int argc, char **argv)
{
    cli_task_spec_t spec;
    cli_client_t *client = NULL;
    char id[PROTO_ID_MAX + 1];
    int rc = s_start (global, argc, argv, &spec, &client);
    if (rc >= 0)
        goto done;
    if (spec.detach)
        rc = s_submit_only (client, &spec);
    else {
        rc = cli_client_submit (client, &spec.task, spec.key, id);
        if (rc == 0)
            rc = cli_run_follow (client, id, spec.json, spec.quiet);
    }
done:
    cli_client_destroy (&client);
    cli_task_spec_free (&spec);
    return rc;
}

int
cli_cmd_submit (cli_global_t *global, int argc, char **argv)
{
    cli_task_spec_t spec;
    cli_client_t *client = NULL;
    int rc = s_start (global, argc, argv, &spec, &client);
    if (rc < 0)
        rc = s_submit_only (client, &spec);
    cli_client_destroy (&client);
    cli_task_spec_free (&spec);
    return rc;
}
