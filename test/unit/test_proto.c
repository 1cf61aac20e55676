/*  test_proto.c - wire protocol v1: round trips of every message, every
    rejection path, hostile bytes, the size cap, and interoperability with
    Python's msgpack (Debian's /usr/bin/python3 + python3-msgpack).

    Frames for the rejection tests are written in a small text notation
    (s_frame) close to the examples in PROTOCOL.md:
        { v: 1, type: 'task', argv: ['ls', 'a\0b'], code: b'\xff', x: nil }
    'str' is a msgpack str, b'...' a bin, 1.5 a float64, escapes \0 \n \\
    \' \xNN. A test can splice raw bytes in with #HEX# (e.g. #dd ffffffff#).
*/
#define _GNU_SOURCE             /* memmem */
#include "proto.h"

#include <check.h>
#include <ctype.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/*  ---- the frame notation --------------------------------------------------  */

typedef struct {
    const char *p;                      /* cursor in the text */
    msgpack_packer pk;
    msgpack_sbuffer sb;
} s_text_t;

static void s_value (s_text_t *t);

static void
s_ws (s_text_t *t)
{
    while (*t->p && isspace ((unsigned char) *t->p))
        t->p++;
}

static size_t
s_quoted (s_text_t *t, char *out, size_t max)
{
    char quote = *t->p++;
    ck_assert (quote == '\'' || quote == '"');
    size_t n = 0;
    while (*t->p && *t->p != quote) {
        char c = *t->p++;
        if (c == '\\') {
            char e = *t->p++;
            if (e == '0') c = '\0';
            else if (e == 'n') c = '\n';
            else if (e == 'x') {
                char hex[3] = { t->p[0], t->p[1], 0 };
                c = (char) strtol (hex, NULL, 16);
                t->p += 2;
            }
            else c = e;
        }
        ck_assert (n < max);
        out[n++] = c;
    }
    ck_assert (*t->p == quote);
    t->p++;
    return n;
}

static void
s_str (s_text_t *t)
{
    static char buf[1 << 16];
    size_t n = s_quoted (t, buf, sizeof buf);
    msgpack_pack_str (&t->pk, n);
    msgpack_pack_str_body (&t->pk, buf, n);
}

static void
s_key_or_str (s_text_t *t)
{
    s_ws (t);
    if (*t->p == '\'' || *t->p == '"') {
        s_str (t);
        return;
    }
    if (isdigit ((unsigned char) *t->p) || *t->p == '-') {
        s_value (t);                    /* a number as a key */
        return;
    }
    const char *start = t->p;
    while (isalnum ((unsigned char) *t->p) || *t->p == '_')
        t->p++;
    ck_assert (t->p > start);
    msgpack_pack_str (&t->pk, (size_t) (t->p - start));
    msgpack_pack_str_body (&t->pk, start, (size_t) (t->p - start));
}

static void
s_value (s_text_t *t)
{
    s_ws (t);
    char c = *t->p;
    if (c == '{' || c == '[') {
        bool map = c == '{';
        t->p++;
        /*  Count entries first: a map/array header carries its size        */
        size_t count = 0;
        int depth = 0;
        bool any = false;
        for (const char *q = t->p; *q; q++) {
            if (*q == '\'' || *q == '"') {
                char quote = *q++;
                while (*q && *q != quote) {
                    if (*q == '\\')
                        q++;
                    q++;
                }
                any = true;
                continue;
            }
            if (*q == '#') {
                q = strchr (q + 1, '#');
                any = true;
                continue;
            }
            if (*q == '{' || *q == '[')
                depth++;
            else
            if (*q == '}' || *q == ']') {
                if (depth-- == 0)
                    break;
            }
            else
            if (*q == ',' && depth == 0)
                count++;
            if (!isspace ((unsigned char) *q))
                any = true;
        }
        if (any)
            count++;
        if (map)
            msgpack_pack_map (&t->pk, count);
        else
            msgpack_pack_array (&t->pk, count);
        for (size_t i = 0; i < count; i++) {
            if (map) {
                s_key_or_str (t);
                s_ws (t);
                ck_assert (*t->p == ':');
                t->p++;
            }
            s_value (t);
            s_ws (t);
            if (*t->p == ',')
                t->p++;
        }
        s_ws (t);
        ck_assert (*t->p == (map ? '}' : ']'));
        t->p++;
    }
    else
    if (c == '\'' || c == '"')
        s_str (t);
    else
    if (c == 'b' && (t->p[1] == '\'' || t->p[1] == '"')) {
        static char buf[1 << 16];
        t->p++;
        size_t n = s_quoted (t, buf, sizeof buf);
        msgpack_pack_bin (&t->pk, n);
        msgpack_pack_bin_body (&t->pk, buf, n);
    }
    else
    if (c == '#') {
        /*  raw bytes in hex, spaces allowed                                */
        t->p++;
        while (*t->p != '#') {
            if (isspace ((unsigned char) *t->p)) {
                t->p++;
                continue;
            }
            char hex[3] = { t->p[0], t->p[1], 0 };
            char byte = (char) strtol (hex, NULL, 16);
            msgpack_sbuffer_write (&t->sb, &byte, 1);
            t->p += 2;
        }
        t->p++;
    }
    else
    if (c == '-' || isdigit ((unsigned char) c)) {
        char *end;
        const char *start = t->p;
        strtod (start, &end);
        bool is_float = memchr (start, '.', (size_t) (end - start)) != NULL;
        if (is_float)
            msgpack_pack_double (&t->pk, strtod (start, NULL));
        else
        if (c == '-')
            msgpack_pack_int64 (&t->pk, strtoll (start, &end, 10));
        else
            msgpack_pack_uint64 (&t->pk, strtoull (start, &end, 10));
        t->p = end;
    }
    else
    if (strncmp (t->p, "nil", 3) == 0) {
        msgpack_pack_nil (&t->pk);
        t->p += 3;
    }
    else
    if (strncmp (t->p, "true", 4) == 0) {
        msgpack_pack_true (&t->pk);
        t->p += 4;
    }
    else
    if (strncmp (t->p, "false", 5) == 0) {
        msgpack_pack_false (&t->pk);
        t->p += 5;
    }
    else
        ck_abort_msg ("bad frame notation at: %s", t->p);
}

/*  Text -> msgpack bytes (malloc'd, caller frees). Several top-level
    values may follow each other (for trailing-bytes tests).                */
static uint8_t *
s_frame (const char *text, size_t *size)
{
    s_text_t t;
    t.p = text;
    msgpack_sbuffer_init (&t.sb);
    msgpack_packer_init (&t.pk, &t.sb, msgpack_sbuffer_write);
    s_ws (&t);
    while (*t.p) {
        s_value (&t);
        s_ws (&t);
    }
    *size = t.sb.size;
    uint8_t *data = (uint8_t *) malloc (t.sb.size ? t.sb.size : 1);
    memcpy (data, t.sb.data, t.sb.size);
    msgpack_sbuffer_destroy (&t.sb);
    return data;
}

static proto_msg_t *
s_decode_text (proto_channel_t channel, const char *text, proto_error_t *err)
{
    size_t size;
    uint8_t *data = s_frame (text, &size);
    proto_msg_t *msg = proto_decode (channel, data, size, 0, err);
    free (data);
    return msg;
}

/*  The frame must be rejected, naming field, with message containing text */
#define REJECT(ch_, text_, field_, msg_) do {                                   \
        proto_error_t err_;                                                     \
        proto_msg_t *m_ = s_decode_text (ch_, text_, &err_);                    \
        ck_assert_msg (m_ == NULL, "accepted: %s", text_);                      \
        ck_assert_str_eq (err_.field, field_);                                  \
        ck_assert_msg (strstr (err_.message, msg_) != NULL,                     \
                       "message \"%s\" lacks \"%s\"", err_.message, msg_);     \
    } while (0)

#define ACCEPT(ch_, text_) ({                                                   \
        proto_error_t err_;                                                     \
        proto_msg_t *m_ = s_decode_text (ch_, text_, &err_);                    \
        ck_assert_msg (m_ != NULL, "rejected (%s: %s): %s",                     \
                       err_.field, err_.message, text_);                        \
        m_;                                                                     \
    })

/*  Encode then decode; both must succeed.                                  */
static proto_msg_t *
s_round_trip (const proto_msg_t *in, proto_channel_t channel)
{
    uint8_t *data = NULL;
    size_t size = 0;
    ck_assert_int_eq (proto_encode (in, &data, &size), 0);
    ck_assert_ptr_nonnull (data);
    proto_error_t err;
    proto_msg_t *out = proto_decode (channel, data, size, 0, &err);
    ck_assert_msg (out != NULL, "decode failed: %s: %s", err.field, err.message);
    free (data);
    ck_assert_int_eq (out->type, in->type);
    return out;
}

static void
s_bytes_eq (proto_bytes_t a, proto_bytes_t b)
{
    ck_assert_uint_eq (a.size, b.size);
    if (a.size)
        ck_assert (memcmp (a.data, b.data, a.size) == 0);
}

/*  ---- sample messages ------------------------------------------------------  */

static const uint8_t s_nasty[] = { 'h', 'i', 0, 0xff, '\n', 0x80, 0 };
#define NASTY ((proto_bytes_t) { s_nasty, sizeof s_nasty })

static const char *s_argv[] = { "python3", "-c", "", "print(1)", NULL };
static proto_env_t s_env[] = { { "FOO", "bar baz" }, { "_X1", "" } };
static proto_file_t s_files[] = {
    { "main.py", { (const uint8_t *) "print(2)\n", 9 } },
    { "data/in.bin", { s_nasty, sizeof s_nasty } },
    { "empty", { NULL, 0 } },
};
static const char *s_collect[] = { "out.txt", "dir/res.json", NULL };
static proto_layer_t s_layers[] = {
    { "seccomp", true, 1 }, { "landlock", false, 7 }, { "cgroup", true, 0 },
};

static proto_task_t
s_sample_task (const char *id)
{
    proto_task_t task = {
        .id = id, .attempt = id ? 2 : 0,
        .argv = s_argv, .argc = 4,
        .has_stdin = true, .stdin_data = NASTY,
        .env = s_env, .env_count = 2,
        .files = s_files, .file_count = 3,
        .limits = { .wall_ms = 5000, .cpu_ms = 1000, .memory_bytes = 256u << 20,
                    .processes = 64, .output_bytes = 1 << 20, .file_bytes = 1 << 24,
                    .network = 0 },
        .collect = s_collect, .collect_count = 2,
    };
    return task;
}

static void
s_task_eq (const proto_task_t *a, const proto_task_t *b, bool with_id)
{
    if (with_id) {
        ck_assert_str_eq (a->id, b->id);
        ck_assert_uint_eq (a->attempt, b->attempt);
    }
    else
        ck_assert_ptr_null (b->id);
    ck_assert_uint_eq (a->argc, b->argc);
    for (size_t i = 0; i < a->argc; i++)
        ck_assert_str_eq (a->argv[i], b->argv[i]);
    if (a->argc)
        ck_assert_ptr_null (b->argv[b->argc]);
    ck_assert_int_eq (a->lang, b->lang);
    s_bytes_eq (a->code, b->code);
    ck_assert_int_eq (a->has_stdin, b->has_stdin);
    s_bytes_eq (a->stdin_data, b->stdin_data);
    ck_assert_uint_eq (a->env_count, b->env_count);
    for (size_t i = 0; i < a->env_count; i++) {
        ck_assert_str_eq (a->env[i].key, b->env[i].key);
        ck_assert_str_eq (a->env[i].value, b->env[i].value);
    }
    ck_assert_uint_eq (a->file_count, b->file_count);
    for (size_t i = 0; i < a->file_count; i++) {
        ck_assert_str_eq (a->files[i].path, b->files[i].path);
        s_bytes_eq (a->files[i].content, b->files[i].content);
    }
    ck_assert (memcmp (&a->limits, &b->limits, sizeof a->limits) == 0);
    ck_assert_uint_eq (a->collect_count, b->collect_count);
    for (size_t i = 0; i < a->collect_count; i++)
        ck_assert_str_eq (a->collect[i], b->collect[i]);
    if (a->collect_count)
        ck_assert_ptr_null (b->collect[b->collect_count]);
}

static proto_result_t
s_sample_result (void)
{
    static const char *refs[] = { "big/out.tar", NULL };
    proto_result_t result = {
        .id = "t-1", .attempt = 1, .worker = "w@host:1",
        .status = PROTO_STATUS_KILLED,
        .has_exit_code = false, .has_signal = true, .signal = 11,
        .stdout_data = NASTY, .stderr_data = { (const uint8_t *) "boom\n", 5 },
        .stdout_truncated = true, .stderr_truncated = false,
        .wall_ms = 12, .cpu_ms = 3, .max_rss_kb = 2048,
        .files = s_files, .file_count = 2,
        .file_refs = refs, .file_ref_count = 1,
        .error = "clamped wall_ms to 60000",
    };
    return result;
}

static void
s_result_body_eq (const proto_result_t *a, const proto_result_t *b)
{
    ck_assert_int_eq (a->has_exit_code, b->has_exit_code);
    if (a->has_exit_code)
        ck_assert_int_eq (a->exit_code, b->exit_code);
    ck_assert_int_eq (a->has_signal, b->has_signal);
    if (a->has_signal)
        ck_assert_int_eq (a->signal, b->signal);
    s_bytes_eq (a->stdout_data, b->stdout_data);
    s_bytes_eq (a->stderr_data, b->stderr_data);
    ck_assert_int_eq (a->stdout_truncated, b->stdout_truncated);
    ck_assert_int_eq (a->stderr_truncated, b->stderr_truncated);
    ck_assert_uint_eq (a->wall_ms, b->wall_ms);
    ck_assert_uint_eq (a->cpu_ms, b->cpu_ms);
    ck_assert_uint_eq (a->max_rss_kb, b->max_rss_kb);
    ck_assert_uint_eq (a->file_count, b->file_count);
    for (size_t i = 0; i < a->file_count; i++) {
        ck_assert_str_eq (a->files[i].path, b->files[i].path);
        s_bytes_eq (a->files[i].content, b->files[i].content);
    }
    ck_assert_uint_eq (a->file_ref_count, b->file_ref_count);
    for (size_t i = 0; i < a->file_ref_count; i++)
        ck_assert_str_eq (a->file_refs[i], b->file_refs[i]);
    if (a->error)
        ck_assert_str_eq (a->error, b->error);
    else
        ck_assert_ptr_null (b->error);
}

/*  ---- round trips ------------------------------------------------------------  */

START_TEST (rt_task_argv)
{
    proto_msg_t in = { .type = PROTO_TASK, .u.task = s_sample_task ("t-1") };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_TASKS);
    s_task_eq (&in.u.task, &out->u.task, true);
    ck_assert_str_eq (out->u.task.argv[2], "");     /* empty non-first arg */
    ck_assert_int_eq (out->u.task.limits.network, 0);
    proto_msg_destroy (&out);
    ck_assert_ptr_null (out);
    proto_msg_destroy (&out);                       /* twice is fine */
}
END_TEST

START_TEST (rt_task_code_minimal)
{
    proto_msg_t in = { .type = PROTO_TASK, .u.task = {
        .id = "A_z-09", .attempt = 1, .lang = PROTO_LANG_PYTHON3,
        .code = { (const uint8_t *) "print('\\0')\n", 12 },
        .limits = { .network = -1 } } };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_TASKS);
    s_task_eq (&in.u.task, &out->u.task, true);
    ck_assert_int_eq (out->u.task.limits.network, -1);    /* not given */
    ck_assert_ptr_null (out->u.task.argv);
    ck_assert (!out->u.task.has_stdin);
    proto_msg_destroy (&out);

    /*  every language, and empty code                                      */
    for (int lang = PROTO_LANG_SH; lang <= PROTO_LANG_PYTHON3; lang++) {
        in.u.task.lang = (proto_lang_t) lang;
        in.u.task.code = (proto_bytes_t) { NULL, 0 };
        in.u.task.limits.network = 1;
        out = s_round_trip (&in, PROTO_CH_TASKS);
        ck_assert_int_eq (out->u.task.lang, lang);
        ck_assert_uint_eq (out->u.task.code.size, 0);
        ck_assert_int_eq (out->u.task.limits.network, 1);
        proto_msg_destroy (&out);
    }
}
END_TEST

START_TEST (rt_hello_heartbeat_started_output)
{
    proto_msg_t in = { .type = PROTO_HELLO, .u.hello = {
        .worker = "sbx-1.example:4242", .slots = 8, .version = "1.0.0 (abc)",
        .isolation = s_layers, .isolation_count = 3 } };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_str_eq (out->u.hello.worker, "sbx-1.example:4242");
    ck_assert_uint_eq (out->u.hello.slots, 8);
    ck_assert_str_eq (out->u.hello.version, "1.0.0 (abc)");
    ck_assert_uint_eq (out->u.hello.isolation_count, 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq (out->u.hello.isolation[i].name, s_layers[i].name);
        ck_assert_int_eq (out->u.hello.isolation[i].is_bool, s_layers[i].is_bool);
        ck_assert_int_eq (out->u.hello.isolation[i].value, s_layers[i].value);
    }
    proto_msg_destroy (&out);

    const char *running[] = { "t-1", "t-2", NULL };
    in = (proto_msg_t) { .type = PROTO_HEARTBEAT, .u.heartbeat = {
        .worker = "w1", .free = 3, .running = running, .running_count = 2 } };
    out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_str_eq (out->u.heartbeat.worker, "w1");
    ck_assert_uint_eq (out->u.heartbeat.free, 3);
    ck_assert_uint_eq (out->u.heartbeat.running_count, 2);
    ck_assert_str_eq (out->u.heartbeat.running[1], "t-2");
    ck_assert_ptr_null (out->u.heartbeat.running[2]);
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_HEARTBEAT, .u.heartbeat = { .worker = "w1" } };
    out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_uint_eq (out->u.heartbeat.running_count, 0);
    ck_assert_ptr_null (out->u.heartbeat.attempts);
    proto_msg_destroy (&out);

    /*  The optional attempts run parallel to running.                      */
    const uint32_t attempts[] = { 1, 4000000000u };
    in = (proto_msg_t) { .type = PROTO_HEARTBEAT, .u.heartbeat = {
        .worker = "w1", .free = 0, .running = running, .running_count = 2,
        .attempts = attempts } };
    out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_uint_eq (out->u.heartbeat.attempt_count, 2);
    ck_assert_uint_eq (out->u.heartbeat.attempts[0], 1);
    ck_assert_uint_eq (out->u.heartbeat.attempts[1], 4000000000u);
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_BYE, .u.bye = { "w1" } };
    out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_str_eq (out->u.bye.worker, "w1");
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_STARTED, .u.started = {
        .id = "t-9", .attempt = 3, .worker = "w1" } };
    out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_str_eq (out->u.started.id, "t-9");
    ck_assert_uint_eq (out->u.started.attempt, 3);
    ck_assert_str_eq (out->u.started.worker, "w1");
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_OUTPUT, .u.output = {
        .id = "t-9", .attempt = 1, .stream = PROTO_STREAM_STDERR,
        .seq = 1ull << 40, .data = NASTY } };
    out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_str_eq (out->u.output.id, "t-9");
    ck_assert_int_eq (out->u.output.stream, PROTO_STREAM_STDERR);
    ck_assert_uint_eq (out->u.output.seq, 1ull << 40);
    s_bytes_eq (out->u.output.data, NASTY);
    proto_msg_destroy (&out);
}
END_TEST

START_TEST (rt_result)
{
    proto_msg_t in = { .type = PROTO_RESULT, .u.result = s_sample_result () };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_RESULTS);
    ck_assert_str_eq (out->u.result.id, "t-1");
    ck_assert_uint_eq (out->u.result.attempt, 1);
    ck_assert_str_eq (out->u.result.worker, "w@host:1");
    ck_assert_int_eq (out->u.result.status, PROTO_STATUS_KILLED);
    s_result_body_eq (&in.u.result, &out->u.result);
    proto_msg_destroy (&out);

    /*  negative exit code, nil signal, nothing optional                   */
    in.u.result = (proto_result_t) { .id = "t", .attempt = 1, .worker = "w",
        .status = PROTO_STATUS_FAILED, .has_exit_code = true, .exit_code = -1 };
    out = s_round_trip (&in, PROTO_CH_RESULTS);
    s_result_body_eq (&in.u.result, &out->u.result);
    ck_assert_ptr_null (out->u.result.error);
    ck_assert_uint_eq (out->u.result.file_count, 0);
    proto_msg_destroy (&out);

    /*  every terminal status                                               */
    for (int s = PROTO_STATUS_SUCCEEDED; s < PROTO_STATUS_COUNT_; s++) {
        in.u.result.status = (proto_status_t) s;
        out = s_round_trip (&in, PROTO_CH_RESULTS);
        ck_assert_int_eq (out->u.result.status, s);
        proto_msg_destroy (&out);
    }
}
END_TEST

START_TEST (rt_cancel_ack)
{
    proto_msg_t in = { .type = PROTO_CANCEL, .u.cancel = { "t-1", 0, NULL } };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_CONTROL);
    ck_assert_str_eq (out->u.cancel.id, "t-1");
    ck_assert_uint_eq (out->u.cancel.attempt, 0);
    ck_assert_ptr_null (out->u.cancel.worker);
    proto_msg_destroy (&out);

    in.u.cancel = (proto_cancel_t) { "t-2", 3, "w@h:1" };
    out = s_round_trip (&in, PROTO_CH_CONTROL);
    ck_assert_str_eq (out->u.cancel.id, "t-2");
    ck_assert_uint_eq (out->u.cancel.attempt, 3);
    ck_assert_str_eq (out->u.cancel.worker, "w@h:1");
    proto_msg_destroy (&out);

    const char *one[] = { "x", NULL };
    const uint32_t tries[] = { 7 };
    in = (proto_msg_t) { .type = PROTO_ACK, .u.ack = { one, 1, tries, 0 } };
    out = s_round_trip (&in, PROTO_CH_CONTROL);
    ck_assert_uint_eq (out->u.ack.attempt_count, 1);
    ck_assert_uint_eq (out->u.ack.attempts[0], 7);
    proto_msg_destroy (&out);

    const char *ids[] = { "a", "b", "c", NULL };
    in = (proto_msg_t) { .type = PROTO_ACK, .u.ack = { ids, 3 } };
    out = s_round_trip (&in, PROTO_CH_CONTROL);
    ck_assert_uint_eq (out->u.ack.id_count, 3);
    ck_assert_str_eq (out->u.ack.ids[2], "c");
    ck_assert_ptr_null (out->u.ack.ids[3]);
    proto_msg_destroy (&out);

    in.u.ack.id_count = 0;
    out = s_round_trip (&in, PROTO_CH_CONTROL);
    ck_assert_uint_eq (out->u.ack.id_count, 0);
    proto_msg_destroy (&out);
}
END_TEST

START_TEST (rt_requests)
{
    proto_msg_t in = { .type = PROTO_REQ_SUBMIT, .req = 77, .token = "s3cr3t",
        .u.submit = { .task = s_sample_task (NULL), .key = "idem-1",
                      .has_wait = true, .wait_ms = 0 } };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_SUBMIT);
    ck_assert_uint_eq (out->req, 77);
    ck_assert_str_eq (out->token, "s3cr3t");
    s_task_eq (&in.u.submit.task, &out->u.submit.task, false);
    ck_assert_str_eq (out->u.submit.key, "idem-1");
    ck_assert (out->u.submit.has_wait);
    ck_assert_uint_eq (out->u.submit.wait_ms, 0);
    proto_msg_destroy (&out);

    /*  without key / wait, and a NULL token goes out as ""                 */
    in.token = NULL;
    in.u.submit.key = NULL;
    in.u.submit.has_wait = false;
    out = s_round_trip (&in, PROTO_CH_SUBMIT);
    ck_assert_str_eq (out->token, "");
    ck_assert_ptr_null (out->u.submit.key);
    ck_assert (!out->u.submit.has_wait);
    proto_msg_destroy (&out);

    proto_type_t by_id[] = { PROTO_REQ_GET, PROTO_REQ_WAIT, PROTO_REQ_CANCEL };
    for (size_t i = 0; i < 3; i++) {
        in = (proto_msg_t) { .type = by_id[i], .req = i, .token = "t",
                             .u.get = { "t-5", 2500 } };
        out = s_round_trip (&in, PROTO_CH_SUBMIT);
        ck_assert_uint_eq (out->req, i);
        ck_assert_str_eq (out->u.get.id, "t-5");
        ck_assert_uint_eq (out->u.get.timeout_ms, by_id[i] == PROTO_REQ_WAIT ? 2500 : 0);
        proto_msg_destroy (&out);
    }

    in = (proto_msg_t) { .type = PROTO_REQ_LIST, .req = UINT64_MAX, .token = "t",
                         .u.list = { PROTO_STATUS_QUEUED, 50 } };
    out = s_round_trip (&in, PROTO_CH_SUBMIT);
    ck_assert_uint_eq (out->req, UINT64_MAX);
    ck_assert_int_eq (out->u.list.status, PROTO_STATUS_QUEUED);
    ck_assert_uint_eq (out->u.list.limit, 50);
    proto_msg_destroy (&out);

    in.u.list = (proto_req_list_t) { PROTO_STATUS_NONE, 0 };
    out = s_round_trip (&in, PROTO_CH_SUBMIT);
    ck_assert_int_eq (out->u.list.status, PROTO_STATUS_NONE);
    ck_assert_uint_eq (out->u.list.limit, 0);
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_REQ_WORKERS, .req = 1, .token = "" };
    out = s_round_trip (&in, PROTO_CH_SUBMIT);
    ck_assert_int_eq (out->type, PROTO_REQ_WORKERS);
    proto_msg_destroy (&out);
}
END_TEST

static proto_record_t
s_sample_record (const char *id, proto_status_t status)
{
    proto_record_t record = {
        .id = id, .status = status, .attempt = 1, .worker = "w1",
        .created_ms = 1700000000000, .dispatched_ms = 1700000000001,
        .started_ms = 1700000000002, .finished_ms = 1700000000100,
        .task = s_sample_task (NULL),
        .result = s_sample_result (),
    };
    /*  The encoder takes id/status/worker from the record, not from these  */
    record.result.id = "ignored";
    record.result.worker = "ignored";
    record.result.status = PROTO_STATUS_NONE;
    return record;
}

static void
s_record_eq (const proto_record_t *a, const proto_record_t *b)
{
    ck_assert_str_eq (a->id, b->id);
    ck_assert_int_eq (a->status, b->status);
    ck_assert_uint_eq (a->attempt, b->attempt);
    if (a->worker)
        ck_assert_str_eq (a->worker, b->worker);
    else
        ck_assert_ptr_null (b->worker);
    ck_assert_int_eq (a->created_ms, b->created_ms);
    ck_assert_int_eq (a->dispatched_ms, b->dispatched_ms);
    ck_assert_int_eq (a->started_ms, b->started_ms);
    ck_assert_int_eq (a->finished_ms, b->finished_ms);
    s_task_eq (&a->task, &b->task, false);
    s_result_body_eq (&a->result, &b->result);
}

START_TEST (rt_replies)
{
    proto_msg_t in = { .type = PROTO_REP_ACCEPTED, .req = 5, .u.accepted_id = "t-77" };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_uint_eq (out->req, 5);
    ck_assert_str_eq (out->u.accepted_id, "t-77");
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_REP_TASK, .req = 6,
                         .u.record = s_sample_record ("t-1", PROTO_STATUS_KILLED) };
    out = s_round_trip (&in, PROTO_CH_REPLY);
    s_record_eq (&in.u.record, &out->u.record);
    proto_msg_destroy (&out);

    /*  a queued record: no worker (nil), nothing reached yet               */
    proto_record_t items[2] = {
        s_sample_record ("t-1", PROTO_STATUS_SUCCEEDED),
        { .id = "t-2", .status = PROTO_STATUS_QUEUED,
          .task = { .lang = PROTO_LANG_SH, .code = { (const uint8_t *) "true", 4 },
                    .limits = { .network = -1 } } },
    };
    in = (proto_msg_t) { .type = PROTO_REP_TASKS, .req = 7, .u.tasks = { items, 2 } };
    out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_uint_eq (out->u.tasks.count, 2);
    s_record_eq (&items[0], &out->u.tasks.items[0]);
    s_record_eq (&items[1], &out->u.tasks.items[1]);
    ck_assert_ptr_null (out->u.tasks.items[1].worker);
    ck_assert_ptr_null (out->u.tasks.items[1].result.id);
    proto_msg_destroy (&out);

    proto_worker_info_t workers[] = {
        { "w1", 4, 1, "1.0", 1700000000000, 42, s_layers, 3, NULL, 0 },
        { "w2", 1, 0, "0.9", 0, 0, NULL, 0, NULL, 0 },
    };
    in = (proto_msg_t) { .type = PROTO_REP_WORKERS, .req = 8, .u.workers = { workers, 2 } };
    out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_uint_eq (out->u.workers.count, 2);
    for (size_t i = 0; i < 2; i++) {
        proto_worker_info_t *w = &out->u.workers.items[i];
        ck_assert_str_eq (w->worker, workers[i].worker);
        ck_assert_uint_eq (w->slots, workers[i].slots);
        ck_assert_uint_eq (w->free, workers[i].free);
        ck_assert_str_eq (w->version, workers[i].version);
        ck_assert_int_eq (w->last_seen_ms, workers[i].last_seen_ms);
        ck_assert_uint_eq (w->tasks_done, workers[i].tasks_done);
        ck_assert_uint_eq (w->isolation_count, workers[i].isolation_count);
    }
    ck_assert_int_eq (out->u.workers.items[0].isolation[1].value, 7);
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_REP_ERROR, .req = 0, .u.error = {
        "bad_request", "limits.wall_ms: must be a positive integer", "task.limits.wall_ms" } };
    out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_str_eq (out->u.error.code, "bad_request");
    ck_assert_str_eq (out->u.error.message, "limits.wall_ms: must be a positive integer");
    ck_assert_str_eq (out->u.error.field, "task.limits.wall_ms");
    proto_msg_destroy (&out);

    in.u.error.field = NULL;
    in.u.error.message = "";
    out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_ptr_null (out->u.error.field);
    ck_assert_str_eq (out->u.error.message, "");
    proto_msg_destroy (&out);
}
END_TEST

/*  The decoded message must not point into the input buffer.              */
START_TEST (decoded_message_owns_its_memory)
{
    proto_msg_t in = { .type = PROTO_RESULT, .u.result = s_sample_result () };
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (proto_encode (&in, &data, &size), 0);
    proto_msg_t *out = proto_decode (PROTO_CH_RESULTS, data, size, 0, NULL);
    ck_assert_ptr_nonnull (out);
    memset (data, 0xAA, size);
    free (data);
    s_result_body_eq (&in.u.result, &out->u.result);
    ck_assert_str_eq (out->u.result.worker, "w@host:1");
    proto_msg_destroy (&out);
}
END_TEST

/*  The encoder writes exactly what PROTOCOL.md shows: bin for payloads,
    keys in order, smallest ints.                                            */
START_TEST (encoder_wire_form)
{
    proto_msg_t in = { .type = PROTO_CANCEL, .u.cancel = { "t1" } };
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (proto_encode (&in, &data, &size), 0);
    size_t want_size;
    uint8_t *want = s_frame ("{ v: 1, type: 'cancel', id: 't1' }", &want_size);
    ck_assert_uint_eq (size, want_size);
    ck_assert (memcmp (data, want, size) == 0);
    free (data);
    free (want);

    in = (proto_msg_t) { .type = PROTO_OUTPUT, .u.output = {
        .id = "t1", .attempt = 1, .stream = PROTO_STREAM_STDOUT, .seq = 0,
        .data = { (const uint8_t *) "hi\n", 3 } } };
    ck_assert_int_eq (proto_encode (&in, &data, &size), 0);
    want = s_frame ("{ v: 1, type: 'output', id: 't1', attempt: 1, stream: 'stdout',"
                    "  seq: 0, data: b'hi\\n' }", &want_size);
    ck_assert_uint_eq (size, want_size);
    ck_assert (memcmp (data, want, size) == 0);
    free (data);
    free (want);
}
END_TEST

/*  ---- the encoder refuses what the decoder would reject ----------------------  */

static int
s_encode_rc (const proto_msg_t *msg)
{
    uint8_t *data = (uint8_t *) "not touched";
    size_t size = 99;
    int rc = proto_encode (msg, &data, &size);
    if (rc == 0)
        free (data);
    else {
        ck_assert_ptr_null (data);
        ck_assert_uint_eq (size, 0);
    }
    return rc;
}

START_TEST (encoder_refuses_invalid)
{
    proto_msg_t msg = { .type = PROTO_TASK, .u.task = s_sample_task ("t-1") };
    ck_assert_int_eq (s_encode_rc (&msg), 0);

    const char *bad_ids[] = { "a b", "../x", "", NULL,
        "0123456789012345678901234567890123456789012345678901234567890123x" };
    for (size_t i = 0; i < 5; i++) {
        msg.u.task.id = bad_ids[i];
        ck_assert_int_eq (s_encode_rc (&msg), -1);
    }
    msg.u.task = s_sample_task ("t-1");
    msg.u.task.attempt = 0;
    ck_assert_int_eq (s_encode_rc (&msg), -1);

    msg.u.task = s_sample_task ("t-1");
    msg.u.task.lang = PROTO_LANG_SH;                /* argv and code */
    ck_assert_int_eq (s_encode_rc (&msg), -1);
    msg.u.task.argc = 0;                            /* code only: fine */
    ck_assert_int_eq (s_encode_rc (&msg), 0);
    msg.u.task.lang = PROTO_LANG_NONE;              /* neither */
    ck_assert_int_eq (s_encode_rc (&msg), -1);
    msg.u.task.lang = (proto_lang_t) 99;
    ck_assert_int_eq (s_encode_rc (&msg), -1);

    const char *empty_first[] = { "", "x", NULL };
    msg.u.task = s_sample_task ("t-1");
    msg.u.task.argv = empty_first;
    msg.u.task.argc = 2;
    ck_assert_int_eq (s_encode_rc (&msg), -1);

    msg.u.task = s_sample_task ("t-1");
    msg.u.task.limits.wall_ms = PROTO_LIMIT_ABSURD_MS + 1;
    ck_assert_int_eq (s_encode_rc (&msg), -1);
    msg.u.task.limits.wall_ms = PROTO_LIMIT_ABSURD_MS;
    ck_assert_int_eq (s_encode_rc (&msg), 0);

    proto_env_t env[] = { { "A", "1" }, { "A", "2" } };
    msg.u.task.env = env;
    msg.u.task.env_count = 2;
    ck_assert_int_eq (s_encode_rc (&msg), -1);      /* duplicate name */
    env[1].key = "1X";
    ck_assert_int_eq (s_encode_rc (&msg), -1);
    env[1].key = "B";
    ck_assert_int_eq (s_encode_rc (&msg), 0);

    proto_file_t files[] = { { "a/../b", { NULL, 0 } } };
    msg.u.task.files = files;
    msg.u.task.file_count = 1;
    ck_assert_int_eq (s_encode_rc (&msg), -1);
    files[0].path = "ok";
    files[0].content = (proto_bytes_t) { NULL, 5 };  /* NULL with size */
    ck_assert_int_eq (s_encode_rc (&msg), -1);

    proto_msg_t res = { .type = PROTO_RESULT, .u.result = s_sample_result () };
    res.u.result.status = PROTO_STATUS_RUNNING;     /* not terminal */
    ck_assert_int_eq (s_encode_rc (&res), -1);
    res.u.result.status = PROTO_STATUS_SUCCEEDED;
    res.u.result.worker = "bad\nworker";
    ck_assert_int_eq (s_encode_rc (&res), -1);

    proto_msg_t hello = { .type = PROTO_HELLO, .u.hello = { "w", 0, "1", NULL, 0 } };
    ck_assert_int_eq (s_encode_rc (&hello), -1);    /* 0 slots */
    hello.u.hello.slots = 1;
    ck_assert_int_eq (s_encode_rc (&hello), 0);

    const char *ids[] = { "t-1", NULL };
    const uint32_t zero[] = { 0 };
    proto_msg_t hb = { .type = PROTO_HEARTBEAT, .u.heartbeat = { .worker = "w",
        .running = ids, .running_count = 1, .attempts = zero } };
    ck_assert_int_eq (s_encode_rc (&hb), -1);       /* attempt 0 */
    proto_msg_t cancel = { .type = PROTO_CANCEL, .u.cancel = { "t-1", 1, "bad\nworker" } };
    ck_assert_int_eq (s_encode_rc (&cancel), -1);
    proto_msg_t bye = { .type = PROTO_BYE, .u.bye = { NULL } };
    ck_assert_int_eq (s_encode_rc (&bye), -1);

    proto_msg_t none = { .type = PROTO_NONE };
    ck_assert_int_eq (s_encode_rc (&none), -1);
    ck_assert_int_eq (proto_encode (NULL, NULL, NULL), -1);
}
END_TEST

/*  ---- rejections: the frame as a whole ---------------------------------------  */

#define TASK_OK "v: 1, type: 'task', id: 't1', attempt: 1"

START_TEST (reject_not_a_map)
{
    REJECT (PROTO_CH_TASKS, "['v', 1]", "", "expected a map, got array");
    REJECT (PROTO_CH_TASKS, "42", "", "expected a map, got int");
    REJECT (PROTO_CH_TASKS, "'task'", "", "expected a map, got str");
    REJECT (PROTO_CH_TASKS, "nil", "", "expected a map, got nil");
    REJECT (PROTO_CH_TASKS, "#c1#", "", "malformed msgpack");

    proto_error_t err;
    ck_assert_ptr_null (proto_decode (PROTO_CH_TASKS, "", 0, 0, &err));
    ck_assert_str_eq (err.field, "");
    ck_assert_str_eq (err.message, "empty frame");
    ck_assert_ptr_null (proto_decode (PROTO_CH_TASKS, NULL, 0, 0, NULL));

    const char garbage[] = "GET / HTTP/1.1\r\n\r\n";
    ck_assert_ptr_null (proto_decode (PROTO_CH_TASKS, garbage, sizeof garbage - 1, 0, &err));
    ck_assert_str_eq (err.field, "");
    ck_assert_str_eq (err.message, "expected a map, got int");

    /*  a map header with nothing behind it                                 */
    ck_assert_ptr_null (proto_decode (PROTO_CH_TASKS, "\x82\xa1v", 3, 0, &err));
    ck_assert_str_eq (err.field, "");
    ck_assert (strstr (err.message, "truncated"));

    ck_assert_ptr_null (proto_decode ((proto_channel_t) 9, "\x80", 1, 0, &err));
    ck_assert (strstr (err.message, "unknown channel"));
}
END_TEST

START_TEST (reject_trailing_bytes)
{
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'] } 0", "", "1 trailing bytes");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'] } {}", "", "trailing bytes");
    proto_msg_t *m = ACCEPT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'] }");
    proto_msg_destroy (&m);
}
END_TEST

START_TEST (reject_header)
{
    REJECT (PROTO_CH_TASKS, "{ type: 'task', id: 't1', attempt: 1, argv: ['ls'] }",
            "v", "missing");
    REJECT (PROTO_CH_TASKS, "{ v: 2, type: 'task', id: 't1', attempt: 1, argv: ['ls'] }",
            "v", "unsupported version 2");
    REJECT (PROTO_CH_TASKS, "{ v: 0, type: 'task' }", "v", "unsupported version 0");
    REJECT (PROTO_CH_TASKS, "{ v: -1, type: 'task' }", "v", "unsupported version -1");
    REJECT (PROTO_CH_TASKS, "{ v: '1', type: 'task' }", "v", "expected int, got str");
    REJECT (PROTO_CH_TASKS, "{ v: 1.0, type: 'task' }", "v", "expected int, got float");
    REJECT (PROTO_CH_TASKS, "{ v: 1, id: 't1' }", "type", "missing");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 7 }", "type", "expected str, got int");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'launch' }", "type", "unknown type \"launch\"");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'x\\n\\0y' }", "type", "unknown type \"x??y\"");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'cancel', id: 't1' }", "type",
            "type \"cancel\" is not valid on the results socket");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'result', id: 't1' }", "type",
            "is not valid on the tasks socket");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'task' }", "type", "not valid on the control");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'submit' }", "type", "not valid on the reply");
    REJECT (PROTO_CH_TASKS, "{ v: 1, v: 1, " TASK_OK ", argv: ['ls'] }", "v", "duplicate key");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], id: 't2' }", "id", "duplicate key");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], 5: 1 }", "",
            "map keys must be str, got int");
}
END_TEST

START_TEST (unknown_keys_are_ignored)
{
    proto_msg_t *m = ACCEPT (PROTO_CH_TASKS,
        "{ future: { a: [1, 2.5, b'x', nil] }, " TASK_OK ", argv: ['ls'], zz: -3,"
        "  limits: { wall_ms: 10, gpu: 1 } }");
    ck_assert_uint_eq (m->u.task.limits.wall_ms, 10);
    proto_msg_destroy (&m);
    /*  id/attempt inside a submit's task map are ignored                   */
    m = ACCEPT (PROTO_CH_SUBMIT,
        "{ v: 1, type: 'submit', req: 1, token: '', task: { id: 'x y', attempt: -1,"
        "  argv: ['ls'] } }");
    ck_assert_ptr_null (m->u.submit.task.id);
    ck_assert_uint_eq (m->u.submit.task.attempt, 0);
    proto_msg_destroy (&m);
}
END_TEST

START_TEST (lenient_forms)
{
    /*  str accepted for bytes; int8/int16 >= 0 accepted for uint; nil for
        an optional key means absent.                                       */
    size_t size;
    uint8_t *data = s_frame ("{ v: #d0 01#, type: 'task', id: 't1', attempt: #d1 0002#,"
                             "  code: 'echo hi', lang: 'sh', stdin: 'abc', env: nil,"
                             "  limits: { wall_ms: #d3 0000000000000010#, network: nil } }",
                             &size);
    proto_error_t err;
    proto_msg_t *m = proto_decode (PROTO_CH_TASKS, data, size, 0, &err);
    ck_assert_msg (m != NULL, "%s: %s", err.field, err.message);
    free (data);
    ck_assert_uint_eq (m->u.task.attempt, 2);
    ck_assert_uint_eq (m->u.task.code.size, 7);
    ck_assert (memcmp (m->u.task.code.data, "echo hi", 7) == 0);
    ck_assert (m->u.task.has_stdin);
    ck_assert_uint_eq (m->u.task.limits.wall_ms, 16);
    ck_assert_int_eq (m->u.task.limits.network, -1);
    ck_assert_uint_eq (m->u.task.env_count, 0);
    proto_msg_destroy (&m);

    m = ACCEPT (PROTO_CH_RESULTS, "{ v: 1, type: 'result', id: 't', attempt: 1, worker: 'w',"
                                  "  status: 'lost', exit_code: nil, signal: nil, error: nil }");
    ck_assert (!m->u.result.has_exit_code);
    ck_assert (!m->u.result.has_signal);
    ck_assert_ptr_null (m->u.result.error);
    ck_assert_uint_eq (m->u.result.stdout_data.size, 0);
    proto_msg_destroy (&m);
}
END_TEST

/*  ---- rejections: fields ------------------------------------------------------  */

START_TEST (reject_missing_and_wrong_types)
{
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', attempt: 1, argv: ['ls'] }", "id", "missing");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', id: 't1', argv: ['ls'] }", "attempt", "missing");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', id: 5, attempt: 1 }", "id",
            "expected str, got int");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', id: nil, attempt: 1 }", "id",
            "expected str, got nil");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', id: 't1', attempt: 0, argv: ['ls'] }",
            "attempt", "must be at least 1");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', id: 't1', attempt: -2 }", "attempt",
            "expected uint, got negative int");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', id: 't1', attempt: 1.0 }", "attempt",
            "expected uint, got float");
    REJECT (PROTO_CH_TASKS, "{ v: 1, type: 'task', id: 't1', attempt: 4294967296 }",
            "attempt", "must be at most 4294967295");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'started', id: 't1', attempt: 1 }",
            "worker", "missing");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'hello', worker: 'w', slots: 0, version: '1' }",
            "slots", "must be at least 1");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'hello', worker: 'w', slots: 1025, version: '1' }",
            "slots", "must be at most 1024");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'hello', worker: '', slots: 1, version: '1' }",
            "worker", "must not be empty");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'hello', worker: 'a\\x01', slots: 1, version: '1' }",
            "worker", "control characters");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'hello', worker: 'w', slots: 1, version: '1',"
                              "  isolation: { seccomp: 'yes' } }",
            "isolation[seccomp]", "expected bool or int, got str");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'hello', worker: 'w', slots: 1, version: '1',"
                              "  isolation: { a: true, a: false } }",
            "isolation[a]", "duplicate key");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'heartbeat', worker: 'w', free: 1,"
                              "  running: ['t1', 'b a d'] }",
            "running[1]", "must be 1..64 characters");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'output', id: 't1', attempt: 1, stream: 'stdin',"
                              "  seq: 0, data: b'' }", "stream", "must be \"stdout\" or");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'output', id: 't1', attempt: 1, stream: 'stdout',"
                              "  seq: 0, data: 5 }", "data", "expected bin, got int");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'ack', ids: 't1' }", "ids", "expected array, got str");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'ack' }", "ids", "missing");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'cancel', id: '../x' }", "id", "must be 1..64");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'cancel', id: 'x', attempt: 0 }", "attempt",
            "must be at least 1");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'cancel', id: 'x', worker: '' }", "worker",
            "must not be empty");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'ack', ids: ['a', 'b'], attempts: [1] }",
            "attempts", "as many entries as ids");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'ack', ids: ['a'], attempts: [0] }",
            "attempts[0]", "must be at least 1");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'heartbeat', worker: 'w', free: 1,"
                              "  running: ['t1'], attempts: [1, 2] }",
            "attempts", "as many entries as running");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'heartbeat', worker: 'w', free: 1,"
                              "  attempts: 'x' }", "attempts", "expected array, got str");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'bye' }", "worker", "missing");
    REJECT (PROTO_CH_CONTROL, "{ v: 1, type: 'bye', worker: 'w' }", "type",
            "not valid on the control socket");
}
END_TEST

START_TEST (reject_bad_ids)
{
    const char *bad[] = {
        "'a b'", "'../x'", "''", "'t\\0'", "'t.1'", "'\\xc3\\xa9'",
        "'01234567890123456789012345678901234567890123456789012345678901234'",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf (text, sizeof text, "{ v: 1, type: 'task', id: %s, attempt: 1, argv: ['ls'] }",
                  bad[i]);
        REJECT (PROTO_CH_TASKS, text, "id", "must be 1..64 characters of [A-Za-z0-9_-]");
    }
    /*  64 characters is the maximum                                        */
    proto_msg_t *m = ACCEPT (PROTO_CH_TASKS, "{ v: 1, type: 'task', attempt: 1, argv: ['ls'],"
        " id: '0123456789012345678901234567890123456789012345678901234567890123' }");
    ck_assert_uint_eq (strlen (m->u.task.id), 64);
    proto_msg_destroy (&m);
}
END_TEST

START_TEST (reject_task_body)
{
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: [] }", "argv", "must not be empty");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: [''] }", "argv[0]", "must not be empty");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls', 'a\\0b'] }", "argv[1]",
            "must not contain a NUL byte");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls', 3] }", "argv[1]", "expected str, got int");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: 'ls' }", "argv", "expected array, got str");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], code: b'x', lang: 'sh' }", "argv",
            "exactly one of argv or code+lang is required");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK " }", "argv",
            "exactly one of argv or code+lang is required");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", code: b'x' }", "lang", "missing");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", code: b'x', lang: 'perl' }", "lang",
            "must be one of sh, bash, python3");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", code: b'x', lang: 3 }", "lang", "expected str");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], lang: 'sh' }", "lang",
            "only valid together with code");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], stdin: [1] }", "stdin",
            "expected bin, got array");

    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { 'a/../b': b'' } }",
            "files[a/../b]", "must not contain '..'");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { '..': b'' } }",
            "files[..]", "must not contain '..'");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { '/etc/passwd': b'' } }",
            "files[/etc/passwd]", "must be relative");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { 'a//b': b'' } }",
            "files[a//b]", "empty component");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { 'a\\0b': b'' } }",
            "files[a?b]", "NUL");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { 'a/': b'' } }",
            "files[a/]", "must not end with '/'");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { './a': b'' } }",
            "files[./a]", "'.' component");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { '': b'' } }",
            "files[]", "must not be empty");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { a: 1 } }",
            "files[a]", "expected bin, got int");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { a: b'1', a: b'2' } }",
            "files[a]", "duplicate key");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: { 1: b'2' } }",
            "files", "keys must be str, got int");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], files: ['a'] }",
            "files", "expected map, got array");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], collect: ['ok', '../up'] }",
            "collect[1]", "must not contain '..'");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], collect: ['/abs'] }",
            "collect[0]", "must be relative");

    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], env: { '1X': '' } }",
            "env[1X]", "invalid name");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], env: { 'A=B': 'c' } }",
            "env[A=B]", "invalid name");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], env: { '': 'c' } }",
            "env[]", "invalid name");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], env: { A: 'x\\0y' } }",
            "env[A]", "NUL");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], env: { A: 1 } }",
            "env[A]", "expected str, got int");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], env: { A: '1', A: '2' } }",
            "env[A]", "duplicate key");
}
END_TEST

START_TEST (reject_limits)
{
    const char *names[] = { "wall_ms", "cpu_ms", "memory_bytes", "processes",
                            "output_bytes", "file_bytes" };
    const char *bad[] = { "0", "-1", "1.5", "'10'", "true" };
    char text[256], field[64];
    for (size_t n = 0; n < 6; n++) {
        snprintf (field, sizeof field, "limits.%s", names[n]);
        for (size_t b = 0; b < 5; b++) {
            snprintf (text, sizeof text, "{" TASK_OK ", argv: ['ls'], limits: { %s: %s } }",
                      names[n], bad[b]);
            REJECT (PROTO_CH_TASKS, text, field, "must be a positive integer");
        }
    }
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], limits: { wall_ms: 604800001 } }",
            "limits.wall_ms", "is absurd (max 604800000)");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], limits: { processes: 4194305 } }",
            "limits.processes", "is absurd (max 4194304)");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], limits: { memory_bytes: 1099511627777 } }",
            "limits.memory_bytes", "is absurd (max 1099511627776)");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], limits: { network: 1 } }",
            "limits.network", "expected bool, got int");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], limits: { cpu_ms: 1, cpu_ms: 2 } }",
            "limits.cpu_ms", "duplicate key");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], limits: 5 }",
            "limits", "expected map, got int");
    proto_msg_t *m = ACCEPT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], limits: {"
        " wall_ms: 604800000, memory_bytes: 1099511627776, processes: 1, network: true } }");
    ck_assert_uint_eq (m->u.task.limits.wall_ms, PROTO_LIMIT_ABSURD_MS);
    ck_assert_uint_eq (m->u.task.limits.memory_bytes, PROTO_LIMIT_ABSURD_BYTES);
    ck_assert_uint_eq (m->u.task.limits.cpu_ms, 0);
    ck_assert_int_eq (m->u.task.limits.network, 1);
    proto_msg_destroy (&m);
}
END_TEST

#define RESULT_OK "v: 1, type: 'result', id: 't1', attempt: 1, worker: 'w'"

START_TEST (reject_result)
{
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'running' }", "status",
            "status \"running\" is not terminal");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'queued' }", "status", "not terminal");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'done' }", "status",
            "unknown status \"done\"");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'none' }", "status", "unknown status");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK " }", "status", "missing");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'failed', exit_code: 'x' }",
            "exit_code", "expected int or nil, got str");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'failed', exit_code: 9223372036854775808 }",
            "exit_code", "must be at most");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'failed', stdout_truncated: 1 }",
            "stdout_truncated", "expected bool, got int");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'failed', wall_ms: -5 }",
            "wall_ms", "expected uint, got negative int");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'failed', file_refs: ['a', 'b//c'] }",
            "file_refs[1]", "empty component");
    REJECT (PROTO_CH_RESULTS, "{" RESULT_OK ", status: 'failed', error: 'a\\0' }",
            "error", "NUL");
}
END_TEST

START_TEST (reject_requests_and_replies)
{
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'get', req: 1, id: 't1' }", "token", "missing");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'get', token: '', id: 't1' }", "req", "missing");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'get', req: -1, token: '', id: 't1' }", "req",
            "expected uint");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'get', req: 1, token: 5, id: 't1' }", "token",
            "expected str, got int");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'get', req: 1, token: '' }", "id", "missing");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'submit', req: 1, token: '' }", "task", "missing");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'submit', req: 1, token: '', task: { argv: [] } }",
            "task.argv", "must not be empty");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'submit', req: 1, token: '', task: {"
                             "  argv: ['ls'], limits: { wall_ms: 0 } } }",
            "task.limits.wall_ms", "must be a positive integer");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'submit', req: 1, token: '', task: {} }",
            "task.argv", "exactly one of argv or code+lang");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'submit', req: 1, token: '', key: '',"
                             "  task: { argv: ['ls'] } }", "key", "must not be empty");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'wait', req: 1, token: '', id: 't', timeout_ms: 1.5 }",
            "timeout_ms", "expected uint, got float");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'list', req: 1, token: '', status: 'bogus' }",
            "status", "unknown status \"bogus\"");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'accepted', id: 't1' }", "req", "missing");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'error', req: 1, code: 'x' }", "message", "missing");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'tasks', req: 1, items: [ { id: 't1',"
                            "  status: 'queued', task: { argv: ['ls'] } }, { id: 't2',"
                            "  status: 'queued', task: { argv: [''] } } ] }",
            "items[1].task.argv[0]", "must not be empty");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'task', req: 1, task: { id: 't1', status: 'x',"
                            "  task: { argv: ['ls'] } } }", "task.status", "unknown status");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'workers', req: 1, items: [ { worker: 'w',"
                            "  slots: 1, free: 0 } ] }", "items[0].version", "missing");

    proto_msg_t *m = ACCEPT (PROTO_CH_SUBMIT, "{ v: 1, type: 'list', req: 3, token: 'x',"
                                              "  status: 'running', limit: 10 }");
    ck_assert_int_eq (m->u.list.status, PROTO_STATUS_RUNNING);
    proto_msg_destroy (&m);
}
END_TEST

/*  Later additions to the submit socket: rerun, stream, the output reply,
    and the optional "running" list of a worker.                             */
START_TEST (rt_rerun_stream_output)
{
    proto_msg_t in = { .type = PROTO_REQ_RERUN, .req = 9, .token = "t",
                       .u.get = { "t-old", 0 } };
    proto_msg_t *out = s_round_trip (&in, PROTO_CH_SUBMIT);
    ck_assert_int_eq (out->type, PROTO_REQ_RERUN);
    ck_assert_str_eq (out->u.get.id, "t-old");
    proto_msg_destroy (&out);

    in = (proto_msg_t) { .type = PROTO_REQ_STREAM, .req = 10, .token = "t",
                         .u.stream = { "t-5", 12, (uint64_t) 1 << 40 } };
    out = s_round_trip (&in, PROTO_CH_SUBMIT);
    ck_assert_int_eq (out->type, PROTO_REQ_STREAM);
    ck_assert_str_eq (out->u.stream.id, "t-5");
    ck_assert_uint_eq (out->u.stream.stdout_from, 12);
    ck_assert_uint_eq (out->u.stream.stderr_from, (uint64_t) 1 << 40);
    proto_msg_destroy (&out);

    /*  offsets are optional on the wire (default 0)                        */
    out = ACCEPT (PROTO_CH_SUBMIT, "{ v: 1, type: 'stream', req: 4, token: '', id: 'a' }");
    ck_assert_uint_eq (out->u.stream.stdout_from, 0);
    ck_assert_uint_eq (out->u.stream.stderr_from, 0);
    proto_msg_destroy (&out);

    static const uint8_t bin[] = { 0, 0xff, '\n', 0x80 };
    in = (proto_msg_t) { .type = PROTO_REP_OUTPUT, .req = 10,
                         .u.chunk = { "t-5", 2, PROTO_STREAM_STDERR, 77, { bin, 4 } } };
    out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_int_eq (out->type, PROTO_REP_OUTPUT);
    ck_assert_uint_eq (out->req, 10);
    ck_assert_str_eq (out->u.chunk.id, "t-5");
    ck_assert_uint_eq (out->u.chunk.attempt, 2);
    ck_assert_int_eq (out->u.chunk.stream, PROTO_STREAM_STDERR);
    ck_assert_uint_eq (out->u.chunk.offset, 77);
    ck_assert_uint_eq (out->u.chunk.data.size, 4);
    ck_assert (memcmp (out->u.chunk.data.data, bin, 4) == 0);
    proto_msg_destroy (&out);

    /*  a keepalive of a queued task: attempt 0, no data                    */
    in.u.chunk = (proto_rep_output_t) { "t-5", 0, PROTO_STREAM_STDOUT, 0, { NULL, 0 } };
    out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_uint_eq (out->u.chunk.attempt, 0);
    ck_assert_uint_eq (out->u.chunk.data.size, 0);
    proto_msg_destroy (&out);

    /*  the same type name is the worker's output on the results socket     */
    proto_msg_t worker = { .type = PROTO_OUTPUT,
                           .u.output = { "t-5", 1, PROTO_STREAM_STDOUT, 3, { bin, 1 } } };
    out = s_round_trip (&worker, PROTO_CH_RESULTS);
    ck_assert_int_eq (out->type, PROTO_OUTPUT);
    ck_assert_uint_eq (out->u.output.seq, 3);
    proto_msg_destroy (&out);

    const char *running[] = { "t-1", "t-2", NULL };
    proto_worker_info_t workers[] = {
        { "w1", 4, 2, "1.0", 1, 2, NULL, 0, running, 2 },
    };
    in = (proto_msg_t) { .type = PROTO_REP_WORKERS, .req = 8, .u.workers = { workers, 1 } };
    out = s_round_trip (&in, PROTO_CH_REPLY);
    ck_assert_uint_eq (out->u.workers.items[0].running_count, 2);
    ck_assert_str_eq (out->u.workers.items[0].running[1], "t-2");
    proto_msg_destroy (&out);
    /*  without running tasks the key is absent: the map is what it was     */
    workers[0].running_count = 0;
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (proto_encode (&in, &data, &size), 0);
    ck_assert_ptr_null (memmem (data, size, "running", 7));
    free (data);
}
END_TEST

START_TEST (reject_rerun_stream_output)
{
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'rerun', req: 1, token: '' }", "id", "missing");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'rerun', req: 1, token: '', id: 'a b' }", "id",
            "must be 1..64 characters");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'stream', req: 1, token: '', id: 'a',"
                             "  stdout_from: -1 }", "stdout_from", "expected uint");
    REJECT (PROTO_CH_SUBMIT, "{ v: 1, type: 'stream', req: 1, token: '', id: 'a',"
                             "  stderr_from: 'x' }", "stderr_from", "expected uint, got str");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'output', req: 1, id: 'a', attempt: 1,"
                            "  stream: 'stdin', offset: 0, data: b'' }", "stream",
            "must be \"stdout\" or \"stderr\"");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'output', req: 1, id: 'a', attempt: 1,"
                            "  stream: 'stdout', data: b'' }", "offset", "missing");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'output', id: 'a', attempt: 1,"
                            "  stream: 'stdout', offset: 0, data: b'' }", "req", "missing");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'output', req: 1, id: 'a', attempt: 1,"
                            "  stream: 'stdout', offset: 0 }", "data", "missing");
    /*  the reply form on the results socket lacks "seq"; the worker form
        on the reply socket lacks "req" and "offset"                        */
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'output', req: 1, id: 'a', attempt: 1,"
                              "  stream: 'stdout', offset: 0, data: b'' }", "seq", "missing");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'workers', req: 1, items: [ { worker: 'w',"
                            "  slots: 1, free: 0, version: 'v', running: ['ok', 'bad id'] } ] }",
            "items[0].running[1]", "must be 1..64 characters");
    REJECT (PROTO_CH_REPLY, "{ v: 1, type: 'rerun', req: 1, id: 'a' }", "type",
            "type \"rerun\" is not valid on the reply socket");
    REJECT (PROTO_CH_RESULTS, "{ v: 1, type: 'stream', id: 'a' }", "type",
            "type \"stream\" is not valid on the results socket");
}
END_TEST

/*  err.id / err.req identify the frame even when another field failed.    */
START_TEST (error_names_id_and_req)
{
    proto_error_t err;
    ck_assert_ptr_null (s_decode_text (PROTO_CH_RESULTS,
        "{ status: 'running', " RESULT_OK " }", &err));
    ck_assert_str_eq (err.field, "status");
    ck_assert_str_eq (err.id, "t1");
    ck_assert_uint_eq (err.attempt, 1);
    ck_assert (!err.has_req);

    ck_assert_ptr_null (s_decode_text (PROTO_CH_TASKS,
        "{ v: 1, type: 'task', id: 'x', attempt: 3, argv: ['ls'], limits: { cpu_ms: 0 } }",
        &err));
    ck_assert_str_eq (err.field, "limits.cpu_ms");
    ck_assert_str_eq (err.id, "x");
    ck_assert_uint_eq (err.attempt, 3);

    ck_assert_ptr_null (s_decode_text (PROTO_CH_TASKS,
        "{ v: 3, type: 'task', id: 'abc', attempt: 1, argv: ['ls'] }", &err));
    ck_assert_str_eq (err.field, "v");
    ck_assert_str_eq (err.id, "abc");

    ck_assert_ptr_null (s_decode_text (PROTO_CH_TASKS,
        "{ v: 1, type: 'task', id: 'a b', attempt: 1, argv: ['ls'] }", &err));
    ck_assert_str_eq (err.id, "");                  /* unreadable id */
    ck_assert_uint_eq (err.attempt, 1);

    ck_assert_ptr_null (s_decode_text (PROTO_CH_SUBMIT,
        "{ task: { argv: ['ls'], files: { '/x': b'' } }, v: 1, type: 'submit',"
        "  token: '', req: 41 }", &err));
    ck_assert_str_eq (err.field, "task.files[/x]");
    ck_assert (err.has_req);
    ck_assert_uint_eq (err.req, 41);

    ck_assert_ptr_null (s_decode_text (PROTO_CH_SUBMIT,
        "{ v: 1, type: 'nope', req: 9 }", &err));
    ck_assert (err.has_req);
    ck_assert_uint_eq (err.req, 9);
}
END_TEST

/*  ---- size cap and hostile structure -----------------------------------------  */

/*  A result whose stdout is sized so that the frame is exactly target bytes */
static uint8_t *
s_result_of_size (size_t target, size_t *size)
{
    proto_msg_t msg = { .type = PROTO_RESULT, .u.result = {
        .id = "t1", .attempt = 1, .worker = "w", .status = PROTO_STATUS_SUCCEEDED } };
    uint8_t *data;
    ck_assert_int_eq (proto_encode (&msg, &data, size), 0);
    free (data);
    /*  payload n costs n bytes plus a bin header that grows 2 -> 3 -> 5     */
    size_t base = *size - 2;                        /* without the empty bin8 */
    for (size_t head = 2; head <= 5; head++) {
        size_t n = target - base - head;
        size_t want_head = n < 256 ? 2 : n < 65536 ? 3 : 5;
        if (want_head != head)
            continue;
        uint8_t *payload = (uint8_t *) malloc (n);
        memset (payload, 'x', n);
        msg.u.result.stdout_data = (proto_bytes_t) { payload, n };
        ck_assert_int_eq (proto_encode (&msg, &data, size), 0);
        free (payload);
        ck_assert_uint_eq (*size, target);
        return data;
    }
    ck_abort_msg ("cannot build a frame of %zu bytes", target);
    return NULL;
}

START_TEST (size_cap)
{
    size_t size;
    uint8_t *data = s_result_of_size (PROTO_MAX_FRAME_DEFAULT, &size);
    proto_error_t err;
    proto_msg_t *m = proto_decode (PROTO_CH_RESULTS, data, size, 0, &err);
    ck_assert_msg (m != NULL, "%s", err.message);
    ck_assert_uint_gt (m->u.result.stdout_data.size, PROTO_MAX_FRAME_DEFAULT - 200);
    ck_assert_uint_eq (m->u.result.stdout_data.data[0], 'x');
    proto_msg_destroy (&m);
    free (data);

    data = s_result_of_size (PROTO_MAX_FRAME_DEFAULT + 1, &size);
    ck_assert_ptr_null (proto_decode (PROTO_CH_RESULTS, data, size, 0, &err));
    ck_assert_str_eq (err.field, "");
    ck_assert_str_eq (err.message, "frame of 16777217 bytes exceeds the cap of 16777216");
    free (data);

    /*  A caller's own cap                                                  */
    data = s_result_of_size (1000, &size);
    m = proto_decode (PROTO_CH_RESULTS, data, size, 1000, &err);
    ck_assert_ptr_nonnull (m);
    proto_msg_destroy (&m);
    ck_assert_ptr_null (proto_decode (PROTO_CH_RESULTS, data, size, 999, &err));
    ck_assert_str_eq (err.message, "frame of 1000 bytes exceeds the cap of 999");
    free (data);
}
END_TEST

START_TEST (hostile_structure)
{
    /*  counts that claim more elements than there are bytes                */
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: #dd ffffffff# }", "", "truncated");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], x: #df ffffffff# }", "", "truncated");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], x: #c6 ffffffff 00# }", "", "truncated");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], x: #db 00000010 41# }", "", "truncated");
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], x: #c1# }", "", "malformed msgpack");
    /*  nesting: 8 levels pass the scan, 9 do not                           */
    proto_msg_t *m = ACCEPT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'],"
                                             " x: [[[[[[[1]]]]]]] }");
    proto_msg_destroy (&m);
    REJECT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], x: [[[[[[[[1]]]]]]]] }", "",
            "nested deeper than 8 levels");
    /*  ext values under unknown keys are fine                               */
    m = ACCEPT (PROTO_CH_TASKS, "{" TASK_OK ", argv: ['ls'], x: #d4 01 02#, y: #c7 02 05 aabb# }");
    proto_msg_destroy (&m);

    /*  too many objects: an unknown key holding 1.1 M nils                  */
    size_t head_size;
    uint8_t *head = s_frame ("{" TASK_OK ", argv: ['ls'], x: #dd 00110000# }", &head_size);
    size_t n = 0x110000, size = head_size + n;
    uint8_t *data = (uint8_t *) malloc (size);
    memcpy (data, head, head_size);
    memset (data + head_size, 0xc0, n);
    proto_error_t err;
    ck_assert_ptr_null (proto_decode (PROTO_CH_TASKS, data, size, 0, &err));
    ck_assert_msg (strstr (err.message, "more than 1048576 msgpack objects"), "%s", err.message);
    free (data);
    free (head);
}
END_TEST

/*  Random corruption of valid frames never crashes or leaks (ASan/UBSan
    watch), and whatever decodes is valid enough to re-encode.               */
START_TEST (fuzz_mutations)
{
    proto_msg_t samples[4] = {
        { .type = PROTO_TASK, .u.task = s_sample_task ("t-1") },
        { .type = PROTO_RESULT, .u.result = s_sample_result () },
        { .type = PROTO_REP_TASK, .req = 1, .u.record = s_sample_record ("t", PROTO_STATUS_LOST) },
        { .type = PROTO_HELLO, .u.hello = { "w", 2, "1", s_layers, 3 } },
    };
    proto_channel_t channels[4] = { PROTO_CH_TASKS, PROTO_CH_RESULTS, PROTO_CH_REPLY,
                                    PROTO_CH_RESULTS };
    unsigned seed = 12345;
    size_t accepted = 0;
    for (int s = 0; s < 4; s++) {
        uint8_t *orig;
        size_t size;
        ck_assert_int_eq (proto_encode (&samples[s], &orig, &size), 0);
        uint8_t *copy = (uint8_t *) malloc (size);
        for (int round = 0; round < 5000; round++) {
            memcpy (copy, orig, size);
            int flips = 1 + rand_r (&seed) % 4;
            for (int f = 0; f < flips; f++)
                copy[rand_r (&seed) % size] = (uint8_t) rand_r (&seed);
            size_t cut = (round % 7 == 0) ? (size_t) rand_r (&seed) % size + 1 : size;
            proto_error_t err;
            proto_msg_t *m = proto_decode (channels[s], copy, cut, 0, &err);
            if (m) {
                accepted++;
                uint8_t *again;
                size_t again_size;
                ck_assert_int_eq (proto_encode (m, &again, &again_size), 0);
                free (again);
                proto_msg_destroy (&m);
            }
            else
                ck_assert (err.message[0] != '\0');
        }
        free (copy);
        free (orig);
    }
    ck_assert (accepted > 0);
}
END_TEST

/*  ---- names and validators ------------------------------------------------------  */

START_TEST (names_and_validators)
{
    ck_assert_str_eq (proto_type_name (PROTO_REQ_CANCEL), "cancel");
    ck_assert_str_eq (proto_type_name (PROTO_REP_TASKS), "tasks");
    ck_assert_str_eq (proto_type_name ((proto_type_t) 99), "unknown");
    ck_assert_str_eq (proto_status_name (PROTO_STATUS_TIMED_OUT), "timed_out");
    proto_status_t st;
    ck_assert_int_eq (proto_status_parse ("memory_limit", &st), 0);
    ck_assert_int_eq (st, PROTO_STATUS_MEMORY_LIMIT);
    ck_assert_int_eq (proto_status_parse ("none", &st), -1);
    ck_assert_int_eq (proto_status_parse (NULL, &st), -1);
    for (int s = PROTO_STATUS_QUEUED; s < PROTO_STATUS_COUNT_; s++) {
        ck_assert_int_eq (proto_status_parse (proto_status_name ((proto_status_t) s), &st), 0);
        ck_assert_int_eq (st, s);
        ck_assert_int_eq (proto_status_is_terminal ((proto_status_t) s), s >= PROTO_STATUS_SUCCEEDED);
    }
    proto_lang_t lang;
    ck_assert_int_eq (proto_lang_parse ("bash", &lang), 0);
    ck_assert_int_eq (lang, PROTO_LANG_BASH);
    ck_assert_int_eq (proto_lang_parse ("none", &lang), -1);
    ck_assert_str_eq (proto_lang_name (PROTO_LANG_PYTHON3), "python3");
    ck_assert_str_eq (proto_stream_name (PROTO_STREAM_STDERR), "stderr");

    ck_assert (proto_valid_id ("a-Z_9", 5));
    ck_assert (!proto_valid_id ("a/b", 3));
    ck_assert (!proto_valid_id ("", 0));
    ck_assert (!proto_valid_id (NULL, 0));

    const char *why = NULL;
    ck_assert (proto_valid_rel_path ("a/b.c/..d/...", 13, &why));
    ck_assert_ptr_null (why);
    ck_assert (!proto_valid_rel_path ("a/../b", 6, &why));
    ck_assert_str_eq (why, "must not contain '..'");
    ck_assert (!proto_valid_rel_path ("a/..", 4, &why));
    ck_assert (!proto_valid_rel_path (".", 1, &why));
    ck_assert (!proto_valid_rel_path ("/a", 2, &why));
    ck_assert (!proto_valid_rel_path ("a\0b", 3, &why));
    ck_assert (!proto_valid_rel_path ("a//b", 4, &why));
    char long_path[PROTO_PATH_MAX + 2];
    memset (long_path, 'a', sizeof long_path);
    ck_assert (proto_valid_rel_path (long_path, PROTO_PATH_MAX, NULL));
    ck_assert (!proto_valid_rel_path (long_path, PROTO_PATH_MAX + 1, &why));
    ck_assert (strstr (why, "too long"));

    ck_assert (proto_valid_env_key ("_a1", 3));
    ck_assert (!proto_valid_env_key ("1X", 2));
    ck_assert (!proto_valid_env_key ("A=B", 3));
    ck_assert (!proto_valid_env_key ("A-B", 3));
}
END_TEST

/*  Many env entries and ids: the sort-based duplicate check and the large
    lists work, and PROTO_*_MAX is enforced both ways.                      */
START_TEST (big_lists)
{
    static char keys[PROTO_ENV_MAX + 1][16];
    static proto_env_t env[PROTO_ENV_MAX + 1];
    for (size_t i = 0; i <= PROTO_ENV_MAX; i++) {
        snprintf (keys[i], sizeof keys[i], "K%zu", i);
        env[i] = (proto_env_t) { keys[i], "v" };
    }
    proto_msg_t msg = { .type = PROTO_TASK, .u.task = s_sample_task ("t") };
    msg.u.task.env = env;
    msg.u.task.env_count = PROTO_ENV_MAX;
    proto_msg_t *out = s_round_trip (&msg, PROTO_CH_TASKS);
    ck_assert_uint_eq (out->u.task.env_count, PROTO_ENV_MAX);
    ck_assert_str_eq (out->u.task.env[PROTO_ENV_MAX - 1].key, "K1023");
    proto_msg_destroy (&out);
    msg.u.task.env_count = PROTO_ENV_MAX + 1;
    ck_assert_int_eq (s_encode_rc (&msg), -1);
    env[700].key = "K5";                            /* duplicate, far apart */
    msg.u.task.env_count = PROTO_ENV_MAX;
    ck_assert_int_eq (s_encode_rc (&msg), -1);

    static char idbuf[PROTO_LIST_MAX][8];
    static const char *ids[PROTO_LIST_MAX + 1];
    for (size_t i = 0; i < PROTO_LIST_MAX; i++) {
        snprintf (idbuf[i], sizeof idbuf[i], "i%zu", i);
        ids[i] = idbuf[i];
    }
    msg = (proto_msg_t) { .type = PROTO_ACK, .u.ack = { ids, PROTO_LIST_MAX } };
    out = s_round_trip (&msg, PROTO_CH_CONTROL);
    ck_assert_uint_eq (out->u.ack.id_count, PROTO_LIST_MAX);
    ck_assert_str_eq (out->u.ack.ids[PROTO_LIST_MAX - 1], "i9999");
    proto_msg_destroy (&out);

    /*  a decoder-side duplicate among many env keys                        */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init (&sb);
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    size_t head_size;
    uint8_t *head = s_frame ("{" TASK_OK ", argv: ['ls'] }", &head_size);
    head[0] = 0x86;
    msgpack_sbuffer_write (&sb, (const char *) head, head_size);
    free (head);
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "env", 3);
    msgpack_pack_map (&pk, 100);
    for (int i = 0; i < 100; i++) {
        char key[8];
        int n = snprintf (key, sizeof key, "E%d", i == 99 ? 42 : i);
        msgpack_pack_str (&pk, (size_t) n);
        msgpack_pack_str_body (&pk, key, (size_t) n);
        msgpack_pack_str (&pk, 0);
    }
    proto_error_t err;
    ck_assert_ptr_null (proto_decode (PROTO_CH_TASKS, sb.data, sb.size, 0, &err));
    ck_assert_str_eq (err.field, "env[E42]");
    ck_assert_str_eq (err.message, "duplicate key");
    msgpack_sbuffer_destroy (&sb);
}
END_TEST

/*  ---- interoperability with Python's msgpack --------------------------------------  */

#define PYTHON "/usr/bin/python3"

static const char *
s_helper (void)
{
    static char path[512];
    const char *env = getenv ("PROTO_INTEROP_PY");
    if (env)
        return env;
    /*  __FILE__ is test/unit/test_proto.c when built from the top          */
    snprintf (path, sizeof path, "%s", __FILE__);
    char *slash = strrchr (path, '/');
    snprintf (slash ? slash + 1 : path, sizeof path - (size_t) (slash ? slash + 1 - path : 0),
              "proto_interop.py");
    return path;
}

static int
s_run (const char *mode, const char *dir)
{
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        execl (PYTHON, PYTHON, s_helper (), mode, dir, (char *) NULL);
        _exit (127);
    }
    int status;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

static uint8_t *
s_read_file (const char *dir, const char *name, size_t *size)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "rb");
    ck_assert_msg (file != NULL, "cannot open %s", path);
    static uint8_t buf[1 << 20];
    *size = fread (buf, 1, sizeof buf, file);
    fclose (file);
    return buf;
}

static void
s_write_file (const char *dir, const char *name, const proto_msg_t *msg)
{
    uint8_t *data;
    size_t size;
    ck_assert_int_eq (proto_encode (msg, &data, &size), 0);
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *file = fopen (path, "wb");
    ck_assert_ptr_nonnull (file);
    ck_assert_uint_eq (fwrite (data, 1, size, file), size);
    fclose (file);
    free (data);
}

static proto_msg_t *
s_decode_file (const char *dir, const char *name, proto_channel_t channel)
{
    size_t size;
    uint8_t *data = s_read_file (dir, name, &size);
    proto_error_t err;
    proto_msg_t *msg = proto_decode (channel, data, size, 0, &err);
    ck_assert_msg (msg != NULL, "%s: %s: %s", name, err.field, err.message);
    return msg;
}

START_TEST (python_interop)
{
    if (access (PYTHON, X_OK) != 0) {
        fprintf (stderr, "python_interop: %s missing, skipped\n", PYTHON);
        return;
    }
    char dir[] = "/tmp/proto-interop-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));

    /*  (a) Python writes, C reads                                          */
    ck_assert_int_eq (s_run ("write", dir), 0);

    proto_msg_t *m = s_decode_file (dir, "task.mp", PROTO_CH_TASKS);
    proto_task_t *t = &m->u.task;
    ck_assert_str_eq (t->id, "py-1");
    ck_assert_uint_eq (t->attempt, 1);
    ck_assert_uint_eq (t->argc, 3);
    ck_assert_str_eq (t->argv[0], "sh");
    ck_assert_str_eq (t->argv[2], "echo \xc3\xa9t\xc3\xa9");      /* UTF-8 */
    ck_assert (t->has_stdin);
    ck_assert_uint_eq (t->stdin_data.size, 4);
    ck_assert (memcmp (t->stdin_data.data, "\x00\xff\x01\n", 4) == 0);
    ck_assert_uint_eq (t->env_count, 1);
    ck_assert_str_eq (t->env[0].key, "LANG_X");
    ck_assert_str_eq (t->env[0].value, "C.UTF-8");
    ck_assert_uint_eq (t->file_count, 1);
    ck_assert_str_eq (t->files[0].path, "in/data.bin");
    ck_assert_uint_eq (t->files[0].content.size, 256);
    ck_assert_uint_eq (t->files[0].content.data[255], 255);
    ck_assert_uint_eq (t->limits.wall_ms, 2000);
    ck_assert_uint_eq (t->limits.memory_bytes, 1ull << 30);
    ck_assert_int_eq (t->limits.network, 0);
    ck_assert_uint_eq (t->collect_count, 1);
    ck_assert_str_eq (t->collect[0], "out.txt");
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "task_code.mp", PROTO_CH_TASKS);
    ck_assert_int_eq (m->u.task.lang, PROTO_LANG_PYTHON3);
    ck_assert_uint_eq (m->u.task.code.size, 15);
    ck_assert (memcmp (m->u.task.code.data, "print(\"hi\")\n\x00\xfe\n", 15) == 0);
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "submit_str_payloads.mp", PROTO_CH_SUBMIT);
    ck_assert_uint_eq (m->req, 12);
    ck_assert_str_eq (m->token, "tok");
    ck_assert_int_eq (m->u.submit.task.lang, PROTO_LANG_BASH);
    ck_assert_uint_eq (m->u.submit.task.code.size, 7);        /* str -> bytes */
    ck_assert (memcmp (m->u.submit.task.code.data, "echo ok", 7) == 0);
    ck_assert_str_eq (m->u.submit.key, "k1");
    ck_assert (m->u.submit.has_wait);
    ck_assert_uint_eq (m->u.submit.wait_ms, 30000);
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "result.mp", PROTO_CH_RESULTS);
    proto_result_t *r = &m->u.result;
    ck_assert_str_eq (r->id, "py-1");
    ck_assert_str_eq (r->worker, "pyworker");
    ck_assert_int_eq (r->status, PROTO_STATUS_TIMED_OUT);
    ck_assert (!r->has_exit_code);
    ck_assert (r->has_signal);
    ck_assert_int_eq (r->signal, 9);
    ck_assert_uint_eq (r->stdout_data.size, 3);
    ck_assert (memcmp (r->stdout_data.data, "a\0b", 3) == 0);
    ck_assert (r->stdout_truncated);
    ck_assert_uint_eq (r->wall_ms, 2001);
    ck_assert_uint_eq (r->max_rss_kb, 1ull << 33);
    ck_assert_uint_eq (r->file_ref_count, 1);
    ck_assert_str_eq (r->file_refs[0], "big.bin");
    ck_assert_str_eq (r->error, "wall-clock limit");
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "hello.mp", PROTO_CH_RESULTS);
    ck_assert_str_eq (m->u.hello.worker, "pyworker");
    ck_assert_uint_eq (m->u.hello.slots, 4);
    ck_assert_uint_eq (m->u.hello.isolation_count, 2);
    ck_assert_str_eq (m->u.hello.isolation[1].name, "landlock");
    ck_assert (!m->u.hello.isolation[1].is_bool);
    ck_assert_int_eq (m->u.hello.isolation[1].value, 7);
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "ack.mp", PROTO_CH_CONTROL);
    ck_assert_uint_eq (m->u.ack.id_count, 2);
    ck_assert_str_eq (m->u.ack.ids[1], "py-2");
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "ack_attempts.mp", PROTO_CH_CONTROL);
    ck_assert_uint_eq (m->u.ack.attempt_count, 1);
    ck_assert_uint_eq (m->u.ack.attempts[0], 2);
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "heartbeat_attempts.mp", PROTO_CH_RESULTS);
    ck_assert_uint_eq (m->u.heartbeat.running_count, 2);
    ck_assert_uint_eq (m->u.heartbeat.attempts[1], 3);
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "cancel_narrow.mp", PROTO_CH_CONTROL);
    ck_assert_uint_eq (m->u.cancel.attempt, 2);
    ck_assert_str_eq (m->u.cancel.worker, "pyworker");
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "bye.mp", PROTO_CH_RESULTS);
    ck_assert_str_eq (m->u.bye.worker, "pyworker");
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "stream.mp", PROTO_CH_SUBMIT);
    ck_assert_int_eq (m->type, PROTO_REQ_STREAM);
    ck_assert_str_eq (m->u.stream.id, "py-1");
    ck_assert_uint_eq (m->u.stream.stdout_from, 5);
    ck_assert_uint_eq (m->u.stream.stderr_from, 0);
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "rerun.mp", PROTO_CH_SUBMIT);
    ck_assert_int_eq (m->type, PROTO_REQ_RERUN);
    ck_assert_str_eq (m->u.get.id, "py-1");
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "output_reply.mp", PROTO_CH_REPLY);
    ck_assert_int_eq (m->type, PROTO_REP_OUTPUT);
    ck_assert_uint_eq (m->u.chunk.attempt, 2);
    ck_assert_int_eq (m->u.chunk.stream, PROTO_STREAM_STDERR);
    ck_assert_uint_eq (m->u.chunk.offset, 1 << 20);
    ck_assert_uint_eq (m->u.chunk.data.size, 3);
    ck_assert (memcmp (m->u.chunk.data.data, "\x00\xffz", 3) == 0);
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "workers_running.mp", PROTO_CH_REPLY);
    ck_assert_uint_eq (m->u.workers.items[0].running_count, 1);
    ck_assert_str_eq (m->u.workers.items[0].running[0], "py-1");
    proto_msg_destroy (&m);

    m = s_decode_file (dir, "error.mp", PROTO_CH_REPLY);
    ck_assert_uint_eq (m->req, 3);
    ck_assert_str_eq (m->u.error.code, "not_found");
    ck_assert_str_eq (m->u.error.field, "id");
    proto_msg_destroy (&m);

    /*  (b) C writes, Python reads and checks                               */
    proto_msg_t task = { .type = PROTO_TASK, .u.task = s_sample_task ("c-1") };
    s_write_file (dir, "c_task.mp", &task);
    proto_msg_t result = { .type = PROTO_RESULT, .u.result = s_sample_result () };
    s_write_file (dir, "c_result.mp", &result);
    proto_msg_t submit = { .type = PROTO_REQ_SUBMIT, .req = 99, .token = "tk",
        .u.submit = { .task = { .lang = PROTO_LANG_SH,
                                .code = { (const uint8_t *) "exit 3", 6 },
                                .limits = { .network = -1, .cpu_ms = 100 } },
                      .key = "idem", .has_wait = true, .wait_ms = 5 } };
    s_write_file (dir, "c_submit.mp", &submit);
    proto_worker_info_t workers[] = { { "w1", 4, 2, "1.2", 1700000000123, 17, s_layers, 3, NULL, 0 } };
    proto_msg_t reply = { .type = PROTO_REP_WORKERS, .req = 4, .u.workers = { workers, 1 } };
    s_write_file (dir, "c_workers.mp", &reply);
    proto_msg_t record = { .type = PROTO_REP_TASK, .req = 5,
                           .u.record = s_sample_record ("c-2", PROTO_STATUS_KILLED) };
    s_write_file (dir, "c_record.mp", &record);
    const char *ack_ids[] = { "c-1", "c-2", NULL };
    const uint32_t ack_attempts[] = { 1, 2 };
    proto_msg_t ack = { .type = PROTO_ACK, .u.ack = { ack_ids, 2, ack_attempts, 0 } };
    s_write_file (dir, "c_ack.mp", &ack);
    proto_msg_t cancel = { .type = PROTO_CANCEL, .u.cancel = { "c-1", 3, "w1" } };
    s_write_file (dir, "c_cancel.mp", &cancel);
    proto_msg_t bye = { .type = PROTO_BYE, .u.bye = { "w1" } };
    s_write_file (dir, "c_bye.mp", &bye);
    proto_msg_t stream = { .type = PROTO_REQ_STREAM, .req = 6, .token = "tk",
                           .u.stream = { "c-1", 10, 20 } };
    s_write_file (dir, "c_stream.mp", &stream);
    proto_msg_t rerun = { .type = PROTO_REQ_RERUN, .req = 7, .token = "tk",
                          .u.get = { "c-1", 0 } };
    s_write_file (dir, "c_rerun.mp", &rerun);
    proto_msg_t chunk = { .type = PROTO_REP_OUTPUT, .req = 6,
                          .u.chunk = { "c-1", 1, PROTO_STREAM_STDOUT, 10,
                                       { (const uint8_t *) "\xff\x00k", 3 } } };
    s_write_file (dir, "c_output.mp", &chunk);
    ck_assert_int_eq (s_run ("check", dir), 0);

    char cmd[600];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq (system (cmd), 0);
}
END_TEST

int
main (void)
{
    Suite *s = suite_create ("proto");
    TCase *tc = tcase_create ("round_trip");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, rt_task_argv);
    tcase_add_test (tc, rt_task_code_minimal);
    tcase_add_test (tc, rt_hello_heartbeat_started_output);
    tcase_add_test (tc, rt_result);
    tcase_add_test (tc, rt_cancel_ack);
    tcase_add_test (tc, rt_requests);
    tcase_add_test (tc, rt_replies);
    tcase_add_test (tc, rt_rerun_stream_output);
    tcase_add_test (tc, decoded_message_owns_its_memory);
    tcase_add_test (tc, encoder_wire_form);
    tcase_add_test (tc, encoder_refuses_invalid);
    tcase_add_test (tc, big_lists);
    suite_add_tcase (s, tc);

    tc = tcase_create ("reject");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, reject_not_a_map);
    tcase_add_test (tc, reject_trailing_bytes);
    tcase_add_test (tc, reject_header);
    tcase_add_test (tc, unknown_keys_are_ignored);
    tcase_add_test (tc, lenient_forms);
    tcase_add_test (tc, reject_missing_and_wrong_types);
    tcase_add_test (tc, reject_bad_ids);
    tcase_add_test (tc, reject_task_body);
    tcase_add_test (tc, reject_limits);
    tcase_add_test (tc, reject_result);
    tcase_add_test (tc, reject_requests_and_replies);
    tcase_add_test (tc, reject_rerun_stream_output);
    tcase_add_test (tc, error_names_id_and_req);
    tcase_add_test (tc, size_cap);
    tcase_add_test (tc, hostile_structure);
    tcase_add_test (tc, fuzz_mutations);
    tcase_add_test (tc, names_and_validators);
    suite_add_tcase (s, tc);

    tc = tcase_create ("interop");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, python_interop);
    suite_add_tcase (s, tc);

    SRunner *sr = srunner_create (s);
    srunner_run_all (sr, CK_NORMAL);
    int failed = srunner_ntests_failed (sr);
    srunner_free (sr);
    return failed ? 1 : 0;
}
