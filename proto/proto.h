/*  proto.h - CleudoCode wire protocol v1: build, encode, decode, validate.

    Every message is one ZeroMQ frame holding one msgpack map with string
    keys, "v": 1 and "type". This library is the only code in the project
    that touches msgpack; PROTOCOL.md is its specification.

    Encoding: fill a proto_msg_t on the stack (strings are NUL-terminated C
    strings, byte fields are proto_bytes_t views) and call proto_encode ().

    Decoding: proto_decode () validates the whole frame against the channel
    it arrived on and returns a heap message whose strings and arrays live in
    the message's own arena (independent of the input buffer). Destroy it
    with proto_msg_destroy (). Nothing in a decoded message is trusted by the
    decoder: every length, type and range has been checked, and every string
    is NUL-free and NUL-terminated.
*/
#ifndef PROTO_H_INCLUDED
#define PROTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION           1
#define PROTO_MAX_FRAME_DEFAULT (16u * 1024u * 1024u)   /* ZMQ_MAXMSGSIZE */
#define PROTO_ID_MAX            64      /* task id: 1..64 of [A-Za-z0-9_-] */
#define PROTO_NAME_MAX          256     /* worker ids, langs, keys, codes */
#define PROTO_PATH_MAX          1024    /* relative workspace path */
#define PROTO_ARGV_MAX          4096    /* argv entries */
#define PROTO_ENV_MAX           1024    /* env entries */
#define PROTO_FILES_MAX         1024    /* files / collect entries */
#define PROTO_LIST_MAX          10000   /* ids in ack/heartbeat, list items */

/*  Byte payload: a view, never owned by the struct that holds it.          */
typedef struct {
    const uint8_t *data;                /* may be NULL when size is 0 */
    size_t size;                        /* number of bytes */
} proto_bytes_t;

typedef struct {
    const char *key;                    /* environment variable name */
    const char *value;                  /* its value */
} proto_env_t;

typedef struct {
    const char *path;                   /* relative path, validated */
    proto_bytes_t content;              /* file contents */
} proto_file_t;

typedef enum {
    PROTO_LANG_NONE = 0,                /* task uses argv */
    PROTO_LANG_SH,
    PROTO_LANG_BASH,
    PROTO_LANG_PYTHON3
} proto_lang_t;

/*  Limits: 0 means "not given, take the worker's default". A limit given on
    the wire as 0, negative, non-integer or above PROTO_LIMIT_ABSURD is a
    decode error naming the limit (e.g. field "limits.wall_ms").            */
typedef struct {
    uint64_t wall_ms;                   /* wall-clock time */
    uint64_t cpu_ms;                    /* CPU time (RLIMIT_CPU) */
    uint64_t memory_bytes;              /* address space / cgroup memory */
    uint64_t processes;                 /* RLIMIT_NPROC / pids.max */
    uint64_t output_bytes;              /* per stream cap */
    uint64_t file_bytes;                /* RLIMIT_FSIZE */
    int network;                        /* -1 not given, 0 off, 1 on */
} proto_limits_t;

/*  Upper bounds beyond which a limit is absurd (rejected, not clamped).    */
#define PROTO_LIMIT_ABSURD_MS     (7ull * 24 * 3600 * 1000)  /* a week */
#define PROTO_LIMIT_ABSURD_BYTES  (1ull << 40)               /* 1 TiB */
#define PROTO_LIMIT_ABSURD_COUNT  (1ull << 22)               /* processes */

/*  task (orchestrator -> sandbox), and the task map of a submit request
    (where id is NULL and attempt 0).                                       */
typedef struct {
    const char *id;                     /* task id, NULL inside submit */
    uint32_t attempt;                   /* 1 on first dispatch */
    const char **argv;                  /* NULL-terminated, argc entries */
    size_t argc;                        /* 0 when code is used */
    proto_lang_t lang;                  /* != NONE when code is used */
    proto_bytes_t code;                 /* program text for lang */
    bool has_stdin;                     /* stdin was given */
    proto_bytes_t stdin_data;           /* bytes fed to the child */
    proto_env_t *env;                   /* extra environment */
    size_t env_count;
    proto_file_t *files;                /* input files */
    size_t file_count;
    proto_limits_t limits;              /* requested limits */
    const char **collect;               /* relative paths to send back */
    size_t collect_count;
} proto_task_t;

typedef enum {
    PROTO_STATUS_NONE = 0,
    PROTO_STATUS_QUEUED,
    PROTO_STATUS_DISPATCHED,
    PROTO_STATUS_RUNNING,
    PROTO_STATUS_SUCCEEDED,             /* first terminal status */
    PROTO_STATUS_FAILED,
    PROTO_STATUS_TIMED_OUT,
    PROTO_STATUS_KILLED,
    PROTO_STATUS_MEMORY_LIMIT,
    PROTO_STATUS_OUTPUT_LIMIT,
    PROTO_STATUS_CANCELLED,
    PROTO_STATUS_REJECTED,
    PROTO_STATUS_LOST,
    PROTO_STATUS_INTERNAL_ERROR,
    PROTO_STATUS_COUNT_
} proto_status_t;

/*  result (sandbox -> orchestrator)                                        */
typedef struct {
    const char *id;
    uint32_t attempt;
    const char *worker;
    proto_status_t status;              /* always terminal */
    bool has_exit_code;                 /* false: nil on the wire */
    int64_t exit_code;
    bool has_signal;                    /* false: nil on the wire */
    int64_t signal;
    proto_bytes_t stdout_data;
    proto_bytes_t stderr_data;
    bool stdout_truncated;
    bool stderr_truncated;
    uint64_t wall_ms;
    uint64_t cpu_ms;
    uint64_t max_rss_kb;
    proto_file_t *files;                /* collected files */
    size_t file_count;
    const char **file_refs;             /* files left in the shared volume */
    size_t file_ref_count;
    const char *error;                  /* NULL when there is none */
} proto_result_t;

/*  One isolation layer a worker can enforce: bool or level (landlock ABI). */
typedef struct {
    const char *name;                   /* "seccomp", "landlock", ... */
    bool is_bool;                       /* encoded as bool, else as int */
    int64_t value;                      /* 0/1 for bools */
} proto_layer_t;

typedef struct {
    const char *worker;                 /* unique per process */
    uint32_t slots;
    const char *version;
    proto_layer_t *isolation;
    size_t isolation_count;
} proto_hello_t;

typedef struct {
    const char *worker;
    uint32_t free;                      /* idle slots */
    const char **running;               /* task ids */
    size_t running_count;
    const uint32_t *attempts;           /* optional: NULL, or the attempt of
                                           each running[i] (running_count
                                           entries) */
    size_t attempt_count;               /* set by the decoder (equal to
                                           running_count or 0); the encoder
                                           ignores it */
} proto_heartbeat_t;

typedef struct {
    const char *id;
    uint32_t attempt;
    const char *worker;
} proto_started_t;

typedef enum { PROTO_STREAM_STDOUT = 0, PROTO_STREAM_STDERR = 1 } proto_stream_t;

typedef struct {
    const char *id;
    uint32_t attempt;
    proto_stream_t stream;
    uint64_t seq;
    proto_bytes_t data;
} proto_output_t;

/*  cancel: attempt and worker narrow it down (0 / NULL: any).              */
typedef struct {
    const char *id;
    uint32_t attempt;                   /* 0: whatever attempt runs */
    const char *worker;                 /* NULL: every worker */
} proto_cancel_t;

typedef struct {
    const char **ids;
    size_t id_count;
    const uint32_t *attempts;           /* optional: NULL, or the attempt of
                                           the result acknowledged for each
                                           ids[i] (id_count entries) */
    size_t attempt_count;               /* set by the decoder; see heartbeat */
} proto_ack_t;

/*  bye (sandbox -> orchestrator): the worker leaves; tasks it still had
    are not running any more.                                               */
typedef struct {
    const char *worker;
} proto_bye_t;

/*  The orchestrator's record of a task, as sent to clients ("task" reply,
    "tasks" items). Timestamps are Unix milliseconds, 0 when not reached.  */
typedef struct {
    const char *id;
    proto_status_t status;
    uint32_t attempt;
    const char *worker;                 /* NULL until dispatched+started */
    int64_t created_ms;
    int64_t dispatched_ms;
    int64_t started_ms;
    int64_t finished_ms;
    proto_task_t task;                  /* what was asked (id NULL) */
    proto_result_t result;              /* meaningful when terminal */
} proto_record_t;

typedef struct {
    const char *worker;
    uint32_t slots;
    uint32_t free;
    const char *version;
    int64_t last_seen_ms;               /* Unix ms of last heartbeat */
    uint64_t tasks_done;
    proto_layer_t *isolation;
    size_t isolation_count;
    const char **running;               /* optional: ids of the tasks it runs
                                           (NULL / 0: not sent) */
    size_t running_count;
} proto_worker_info_t;

/*  Submit-socket requests (CLI -> orchestrator)                            */
typedef struct {
    proto_task_t task;                  /* without id/attempt */
    const char *key;                    /* idempotency key or NULL */
    bool has_wait;
    uint64_t wait_ms;
} proto_req_submit_t;

typedef struct {
    const char *id;
    uint64_t timeout_ms;                /* wait only */
} proto_req_id_t;

typedef struct {
    proto_status_t status;              /* NONE: any */
    uint32_t limit;                     /* 0: server default */
} proto_req_list_t;

/*  stream: live output of one task from these byte offsets (of the
    current attempt) on.                                                    */
typedef struct {
    const char *id;
    uint64_t stdout_from;               /* bytes of stdout the client has */
    uint64_t stderr_from;               /* bytes of stderr the client has */
} proto_req_stream_t;

/*  Submit-socket replies (orchestrator -> CLI)                             */
typedef struct {
    proto_record_t *items;
    size_t count;
} proto_rep_tasks_t;

typedef struct {
    proto_worker_info_t *items;
    size_t count;
} proto_rep_workers_t;

/*  output (reply to stream): bytes [offset, offset + data.size) of one
    stream of one attempt. Empty data: a keepalive (offset is then the
    stream's current length).                                               */
typedef struct {
    const char *id;
    uint32_t attempt;                   /* 0: not dispatched yet */
    proto_stream_t stream;
    uint64_t offset;                    /* byte offset of data in the stream */
    proto_bytes_t data;
} proto_rep_output_t;

typedef struct {
    const char *code;                   /* machine code: "bad_request", ... */
    const char *message;                /* for people */
    const char *field;                  /* offending field or NULL */
} proto_rep_error_t;

typedef enum {
    PROTO_NONE = 0,
    /* worker link: tasks socket (orchestrator -> sandbox) */
    PROTO_TASK,
    /* worker link: results socket (sandbox -> orchestrator) */
    PROTO_HELLO,
    PROTO_HEARTBEAT,
    PROTO_STARTED,
    PROTO_OUTPUT,
    PROTO_RESULT,
    PROTO_BYE,
    /* worker link: control socket (orchestrator -> sandboxes) */
    PROTO_CANCEL,
    PROTO_ACK,
    /* submit socket requests */
    PROTO_REQ_SUBMIT,
    PROTO_REQ_GET,
    PROTO_REQ_WAIT,
    PROTO_REQ_CANCEL,
    PROTO_REQ_LIST,
    PROTO_REQ_WORKERS,
    /* submit socket replies */
    PROTO_REP_ACCEPTED,
    PROTO_REP_TASK,
    PROTO_REP_TASKS,
    PROTO_REP_WORKERS,
    PROTO_REP_ERROR,
    /* later additions to the submit socket (appended: values stay) */
    PROTO_REQ_RERUN,                    /* request: the task again, new id */
    PROTO_REQ_STREAM,                   /* request: live output */
    PROTO_REP_OUTPUT,                   /* reply: a chunk of live output */
    PROTO_TYPE_COUNT_
} proto_type_t;

/*  The socket a frame arrived on decides which "type" names are valid
    there (e.g. "cancel" is a control message on CONTROL and a request on
    SUBMIT; "task" is a work item on TASKS and a reply on REPLY).           */
typedef enum {
    PROTO_CH_TASKS = 1,                 /* task */
    PROTO_CH_RESULTS,                   /* hello heartbeat started output result
                                           bye */
    PROTO_CH_CONTROL,                   /* cancel ack */
    PROTO_CH_SUBMIT,                    /* submit get wait cancel list workers
                                           rerun stream */
    PROTO_CH_REPLY                      /* accepted task tasks workers error
                                           output */
} proto_channel_t;

typedef struct proto_arena_t proto_arena_t;

typedef struct {
    proto_type_t type;
    uint64_t req;                       /* submit requests and replies */
    const char *token;                  /* submit requests */
    union {
        proto_task_t task;              /* PROTO_TASK */
        proto_hello_t hello;
        proto_heartbeat_t heartbeat;
        proto_started_t started;
        proto_output_t output;
        proto_result_t result;
        proto_cancel_t cancel;
        proto_ack_t ack;
        proto_bye_t bye;
        proto_req_submit_t submit;      /* PROTO_REQ_SUBMIT */
        proto_req_id_t get;             /* PROTO_REQ_GET, _WAIT, _CANCEL,
                                           _RERUN */
        proto_req_list_t list;          /* PROTO_REQ_LIST */
        proto_req_stream_t stream;      /* PROTO_REQ_STREAM */
        const char *accepted_id;        /* PROTO_REP_ACCEPTED */
        proto_record_t record;          /* PROTO_REP_TASK */
        proto_rep_tasks_t tasks;        /* PROTO_REP_TASKS */
        proto_rep_workers_t workers;    /* PROTO_REP_WORKERS */
        proto_rep_error_t error;        /* PROTO_REP_ERROR */
        proto_rep_output_t chunk;       /* PROTO_REP_OUTPUT */
    } u;
    proto_arena_t *arena;               /* decoded messages only */
} proto_msg_t;

/*  Why a frame was rejected. field is a dotted path ("limits.wall_ms",
    "argv[2]", "files[a/../b]": keys the sender chose go in brackets, with
    bytes outside printable ASCII shown as '?'), empty when the frame as a
    whole is bad (not a map, truncated, too big). id is the task id when it
    could be read, so the sender can be told.                              */
typedef struct {
    char field[96];
    char message[160];
    char id[PROTO_ID_MAX + 1];
    uint64_t req;                       /* request number when readable */
    bool has_req;
    uint32_t attempt;                   /* top-level "attempt" when readable
                                           (uint >= 1), else 0 */
} proto_error_t;

/*  Encode msg into a freshly malloc'd buffer. Returns 0, or -1 (out of
    memory, or a msg that violates the contract, e.g. a bad id: encoding
    validates too, so no peer ever sees an invalid frame from us).          */
int proto_encode (const proto_msg_t *msg, uint8_t **out, size_t *out_size);

/*  Decode and validate one frame received on the given channel. A frame
    larger than max_size (0: PROTO_MAX_FRAME_DEFAULT) is rejected. Returns a
    new message, or NULL with err filled in.                                */
proto_msg_t *proto_decode (proto_channel_t channel, const void *data, size_t size,
                           size_t max_size, proto_error_t *err);

/*  Destroy a decoded message; safe on NULL, nulls the caller's pointer.    */
void proto_msg_destroy (proto_msg_t **self_p);

/*  Wire names.                                                             */
const char *proto_type_name (proto_type_t type);
const char *proto_status_name (proto_status_t status);
int proto_status_parse (const char *name, proto_status_t *status);
bool proto_status_is_terminal (proto_status_t status);
const char *proto_lang_name (proto_lang_t lang);
int proto_lang_parse (const char *name, proto_lang_t *lang);
const char *proto_stream_name (proto_stream_t stream);

/*  Validators shared by every component (the HTTP API, the CLI and the
    sandbox's workspace use the same rules as the decoder).
    proto_valid_id: 1..64 chars of [A-Za-z0-9_-].
    proto_valid_rel_path: non-empty, at most PROTO_PATH_MAX bytes, relative,
    no NUL, no "." or ".." component, no empty component ("a//b"), no
    trailing slash. On failure *why (if given) says what is wrong.          */
bool proto_valid_id (const char *id, size_t len);
bool proto_valid_rel_path (const char *path, size_t len, const char **why);
bool proto_valid_env_key (const char *key, size_t len);

#endif
