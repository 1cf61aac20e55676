/*  fuzz_task_json.c - libFuzzer target: the body of POST /api/tasks.

    The input is the body. It goes the way api_tasks.c sends it: json_loadb
    with the same flags, orch_task_in_parse (task_json.c), the body's json_t
    released before the task is used; then the task is encoded into a task
    frame as tasks.c does. What must hold:
      - no crash, leak or out-of-bounds access anywhere on that path;
      - a refused body gives a 400 (500 only for out of memory) whose
        message starts with the field it names; field and message are
        NUL-terminated, valid UTF-8;
      - an accepted task always encodes (tasks.c's 400 "does not satisfy
        the wire protocol" is a backstop that must stay unreachable), the
        frame decodes on the tasks socket and encodes to the same bytes;
      - task_summary () gives one line of valid UTF-8;
      - task_to_json () of the task, posted back, is accepted and gives the
        same task (task_to_json.h promises it "can be posted back
        unchanged"); file and env order may differ, so both sides are
        compared with files and env sorted.
    FUZZ_VERBOSE=1 in the environment prints each verdict (to check seeds).
*/
#include "log.h"
#include "proto.h"
#include "task_json.h"
#include "task_summary.h"
#include "task_to_json.h"
#include "utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_FLAGS (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)   /* api_tasks.c */
#define FUZZ_ID    "0195f0a1b2c3-0a1b2c3d"     /* what orch_new_task_id makes */

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static bool s_verbose;                  /* FUZZ_VERBOSE: print verdicts */

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    log_set_level (CLOG_ERROR);
    s_verbose = getenv ("FUZZ_VERBOSE") != NULL;
    return 0;
}

static void
s_fail (const char *what, const orch_err_t *err)
{
    fprintf (stderr, "fuzz_task_json: INVARIANT VIOLATED: %s", what);
    if (err)
        fprintf (stderr, " (%d %s field \"%s\": %s)", err->status, err->code, err->field,
                 err->message);
    fprintf (stderr, "\n");
    abort ();
}

static void
s_check_error (const orch_err_t *err)
{
    if (!memchr (err->code, '\0', sizeof err->code)
    ||  !memchr (err->field, '\0', sizeof err->field)
    ||  !memchr (err->message, '\0', sizeof err->message))
        s_fail ("error text is not NUL-terminated", NULL);
    if (!((err->status == 400 && strcmp (err->code, "bad_request") == 0)
          || (err->status == 500 && strcmp (err->code, "internal") == 0)))
        s_fail ("refused body is neither 400 bad_request nor 500 internal", err);
    /*  task_json.c cuts user keys "on a UTF-8 boundary, so error fields
        stay short and valid" (s_field_key): field and message are text.    */
    if (!utf8_valid (err->field, strlen (err->field)))
        s_fail ("error field is not valid UTF-8", err);
    if (!utf8_valid (err->message, strlen (err->message)))
        s_fail ("error message is not valid UTF-8", err);
    size_t flen = strlen (err->field);
    if (flen && (strncmp (err->message, err->field, flen) != 0
                 || strncmp (err->message + flen, ": ", 2) != 0))
        s_fail ("error message does not start with its field", err);
}

static int
s_cmp_env (const void *a, const void *b)
{
    return strcmp (((const proto_env_t *) a)->key, ((const proto_env_t *) b)->key);
}

static int
s_cmp_file (const void *a, const void *b)
{
    return strcmp (((const proto_file_t *) a)->path, ((const proto_file_t *) b)->path);
}

/*  The task frame of task with env and files in name order. 0 or -1.      */
static int
s_encode_sorted (const proto_task_t *task, uint8_t **out, size_t *size)
{
    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task = *task;
    msg.u.task.id = FUZZ_ID;
    msg.u.task.attempt = 1;
    proto_env_t *env = NULL;
    proto_file_t *files = NULL;
    if (task->env_count) {
        env = malloc (task->env_count * sizeof *env);
        if (!env)
            return -1;
        memcpy (env, task->env, task->env_count * sizeof *env);
        qsort (env, task->env_count, sizeof *env, s_cmp_env);
        msg.u.task.env = env;
    }
    if (task->file_count) {
        files = malloc (task->file_count * sizeof *files);
        if (!files) {
            free (env);
            return -1;
        }
        memcpy (files, task->files, task->file_count * sizeof *files);
        qsort (files, task->file_count, sizeof *files, s_cmp_file);
        msg.u.task.files = files;
    }
    int rc = proto_encode (&msg, out, size);
    free (env);
    free (files);
    return rc;
}

/*  The frame as tasks.c builds it must encode, decode and encode again to
    the same bytes.                                                         */
static void
s_check_frame (const proto_task_t *task)
{
    proto_msg_t msg = { .type = PROTO_TASK };
    msg.u.task = *task;
    msg.u.task.id = FUZZ_ID;
    msg.u.task.attempt = 1;
    uint8_t *frame = NULL, *again = NULL;
    size_t size = 0, again_size = 0;
    if (proto_encode (&msg, &frame, &size))
        s_fail ("accepted task does not encode as a task frame", NULL);
    proto_error_t perr;
    proto_msg_t *decoded = proto_decode (PROTO_CH_TASKS, frame, size, 0, &perr);
    if (!decoded) {
        fprintf (stderr, "decode: field \"%s\": %s\n", perr.field, perr.message);
        s_fail ("task frame from an accepted body is rejected by the decoder", NULL);
    }
    if (proto_encode (decoded, &again, &again_size)
    ||  again_size != size || memcmp (frame, again, size) != 0)
        s_fail ("task frame does not survive decode + encode unchanged", NULL);
    proto_msg_destroy (&decoded);
    free (frame);
    free (again);
}

/*  task_to_json (task), serialized, posted back: the same task.            */
static void
s_check_json_round_trip (const proto_task_t *task)
{
    json_t *json = task_to_json (task);
    if (!json)
        s_fail ("task_to_json failed on an accepted task", NULL);
    char *text = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    if (!text)
        s_fail ("json_dumps failed on task_to_json output", NULL);
    json_error_t jerr;
    json_t *root = json_loadb (text, strlen (text), BODY_FLAGS, &jerr);
    if (!root) {
        fprintf (stderr, "body: %s\njansson: %s\n", text, jerr.text);
        s_fail ("task_to_json output is not a JSON body we accept", NULL);
    }
    orch_task_in_t in;
    orch_err_t err;
    int rc = orch_task_in_parse (&in, root, &err);
    json_decref (root);
    if (rc) {
        fprintf (stderr, "body: %s\n", text);
        s_fail ("task_to_json output, posted back, is refused", &err);
    }
    uint8_t *a = NULL, *b = NULL;
    size_t a_size = 0, b_size = 0;
    if (s_encode_sorted (task, &a, &a_size) || s_encode_sorted (&in.task, &b, &b_size))
        s_fail ("sorted task does not encode", NULL);
    if (a_size != b_size || memcmp (a, b, a_size) != 0) {
        fprintf (stderr, "body: %s\n", text);
        s_fail ("task_to_json output, posted back, gives a different task", NULL);
    }
    free (a);
    free (b);
    free (text);
    orch_task_in_free (&in);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *root = json_loadb ((const char *) data, size, BODY_FLAGS, &jerr);
    if (!root) {
        if (s_verbose)
            fprintf (stderr, "fuzz_task_json: not JSON: %s\n", jerr.text);
        return 0;
    }
    orch_task_in_t in;
    orch_err_t err;
    memset (&err, 0xa5, sizeof err);    /* unterminated unless filled */
    int rc = orch_task_in_parse (&in, root, &err);
    /*  api_tasks.c drops its reference here, before using the task: the
        task must live on in what orch_task_in_t holds.                     */
    json_decref (root);
    if (rc) {
        s_check_error (&err);
        if (s_verbose)
            fprintf (stderr, "fuzz_task_json: refused: %d %s\n", err.status, err.message);
        orch_task_in_free (&in);
        return 0;
    }
    if (s_verbose)
        fprintf (stderr, "fuzz_task_json: accepted\n");
    if (in.task.id || in.task.attempt)
        s_fail ("a parsed body sets id or attempt", NULL);
    s_check_frame (&in.task);
    char *summary = task_summary (&in.task);
    if (!summary)
        s_fail ("task_summary returned NULL", NULL);
    if (!utf8_valid (summary, strlen (summary)))
        s_fail ("task_summary is not valid UTF-8", NULL);
    for (const char *c = summary; *c; c++)
        if ((unsigned char) *c < 0x20 || *c == 0x7f)
            s_fail ("task_summary holds a control character", NULL);
    free (summary);
    s_check_json_round_trip (&in.task);
    orch_task_in_free (&in);
    return 0;
}
