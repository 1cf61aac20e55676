/*  cli_cmd_files.c - "cleudo files ID [PATH] [-o DIR]": save the files a
    task collected (they come inside its record) under DIR.

    The names come from the wire, so they are treated as hostile even
    though the decoder has checked them already: each must be a valid
    relative path (proto_valid_rel_path: no "..", not absolute), and it is
    created relative to DIR one component at a time with mkdirat / openat
    and O_NOFOLLOW, so that nothing in DIR (a planted symlink, a file where
    a directory should be) can send a write elsewhere. Files are created
    with O_EXCL: an existing name is never written through; --force
    removes it first (unlinkat, which does not follow a symlink either).  */
#include "cli.h"
#include "cli_args.h"
#include "cli_cmd.h"
#include "cli_json.h"
#include "cli_output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { O_OUTPUT = CLI_OPT_COMMAND_ + 30, O_FORCE };

static const cli_opt_t s_files_opts[] = {
    CLI_GLOBAL_OPTS,
    { "json", 0, false, CLI_O_JSON },
    { "output", 'o', true, O_OUTPUT },
    { "force", 0, false, O_FORCE },
};

typedef struct {
    const char *id;                     /* the task */
    const char *path;                   /* only this file, or NULL: all */
    const char *dir;                    /* -o DIR ("-": stdout) */
    bool json;                          /* --json */
    bool force;                         /* --force: replace existing files */
} s_args_t;

static int
s_parse (cli_global_t *global, int argc, char **argv, s_args_t *args)
{
    memset (args, 0, sizeof *args);
    args->dir = ".";
    char err[CLI_ERR_MAX];
    cli_parser_t p;
    cli_parser_init (&p, "files", s_files_opts, sizeof s_files_opts / sizeof s_files_opts[0],
                     true, argc, argv);
    int id;
    while ((id = cli_parser_next (&p)) != CLI_DONE) {
        switch (id) {
            case CLI_BAD:
                cli_error ("%s", p.err);
                return CLI_EXIT_USAGE;
            case CLI_OPT_HELP:
                cli_help_print ("files");
                return CLI_EXIT_OK;
            case CLI_ARG:
                if (!args->id)
                    args->id = p.value;
                else
                if (!args->path)
                    args->path = p.value;
                else {
                    cli_error ("unexpected argument '%s': files takes an ID and at most one "
                               "PATH (see cleudo help files)", p.value);
                    return CLI_EXIT_USAGE;
                }
                break;
            case CLI_O_JSON:
                args->json = true;
                break;
            case O_OUTPUT:
                if (!*p.value) {
                    cli_error ("invalid %s: the directory is empty", p.name);
                    return CLI_EXIT_USAGE;
                }
                args->dir = p.value;
                break;
            case O_FORCE:
                args->force = true;
                break;
            default:
                if (cli_global_option (global, id, p.name, p.value, err, sizeof err)) {
                    cli_error ("%s", err);
                    return CLI_EXIT_USAGE;
                }
        }
    }
    if (!args->id) {
        cli_error ("files needs a task ID (see cleudo help files)");
        return CLI_EXIT_USAGE;
    }
    if (!proto_valid_id (args->id, strlen (args->id))) {
        cli_error ("'%s' is not a task id (1 to 64 of A-Z a-z 0-9 _ -)", args->id);
        return CLI_EXIT_USAGE;
    }
    const char *why = NULL;
    if (args->path && !proto_valid_rel_path (args->path, strlen (args->path), &why)) {
        cli_error ("invalid PATH '%s': it %s (collected files have relative paths inside the "
                   "task's workspace)", args->path, why);
        return CLI_EXIT_USAGE;
    }
    if (strcmp (args->dir, "-") == 0 && !args->path) {
        cli_error ("-o - writes one file to stdout: give its PATH (see cleudo help files)");
        return CLI_EXIT_USAGE;
    }
    if (strcmp (args->dir, "-") == 0 && args->json) {
        cli_error ("-o - and --json do not go together: both would use stdout");
        return CLI_EXIT_USAGE;
    }
    return -1;
}

/*  Open DIR (following a symlink there: the user named it), creating it
    (one level) when it does not exist. -1 with the message printed.       */
static int
s_open_dir (const char *dir)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && mkdir (dir, 0777) == 0)
        fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        cli_error ("cannot use -o '%s': %s", dir, strerror (errno));
    return fd;
}

/*  Write one file under dir_fd; 0, or -1 with why set (the caller names
    the file).                                                              */
static int
s_save (int dir_fd, const char *path, const proto_bytes_t *content, bool force,
        char *why, size_t why_size)
{
    const char *reason = NULL;
    if (!proto_valid_rel_path (path, strlen (path), &reason)) {
        snprintf (why, why_size, "unsafe name: it %s", reason);
        return -1;
    }
    char *copy = strdup (path);
    if (!copy) {
        snprintf (why, why_size, "out of memory");
        return -1;
    }
    int fd = dup (dir_fd);
    int rc = -1;
    char *component = copy;
    char *slash;
    /*  Every directory on the way: created if missing, then opened without
        following a symlink (ELOOP / ENOTDIR: something else is there).     */
    while (fd >= 0 && (slash = strchr (component, '/'))) {
        *slash = '\0';
        if (mkdirat (fd, component, 0777) && errno != EEXIST) {
            snprintf (why, why_size, "cannot create directory '%s': %s", component,
                      strerror (errno));
            goto done;
        }
        int next = openat (fd, component, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0) {
            snprintf (why, why_size, "'%s' %s", component,
                      errno == ELOOP || errno == ENOTDIR
                      ? "is a symbolic link or not a directory: refusing to write through it"
                      : strerror (errno));
            goto done;
        }
        close (fd);
        fd = next;
        component = slash + 1;
    }
    if (fd < 0) {
        snprintf (why, why_size, "%s", strerror (errno));
        goto done;
    }
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int out = openat (fd, component, flags, 0666);
    if (out < 0 && errno == EEXIST && force) {
        /*  unlinkat removes a symlink itself, never its target.            */
        struct stat st;
        if (fstatat (fd, component, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
            errno = EISDIR;
        else
        if (unlinkat (fd, component, 0) == 0)
            out = openat (fd, component, flags, 0666);
    }
    if (out < 0) {
        if (errno == EEXIST)
            snprintf (why, why_size, "it exists already (a file or a symbolic link): remove it, "
                      "use --force, or choose another -o DIR");
        else
            snprintf (why, why_size, "%s", strerror (errno));
        goto done;
    }
    if (cli_write_all (out, content->data, content->size)) {
        snprintf (why, why_size, "cannot write: %s", strerror (errno));
        close (out);
        goto done;
    }
    if (close (out)) {
        snprintf (why, why_size, "cannot write: %s", strerror (errno));
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0)
        close (fd);
    free (copy);
    return rc;
}

/*  Save the selected files; prints one line (or JSON item) per file.      */
static int
s_save_all (const s_args_t *args, const proto_result_t *r)
{
    int dir_fd = s_open_dir (args->dir);
    if (dir_fd < 0)
        return CLI_EXIT_LOCAL;
    json_t *items = args->json ? json_array () : NULL;
    int rc = 0;
    for (size_t i = 0; i < r->file_count; i++) {
        const proto_file_t *f = &r->files[i];
        if (args->path && strcmp (args->path, f->path) != 0)
            continue;
        char why[512];
        bool ok = s_save (dir_fd, f->path, &f->content, args->force, why, sizeof why) == 0;
        if (!ok) {
            char name[PROTO_PATH_MAX + 1];
            snprintf (name, sizeof name, "%s", f->path);
            cli_error ("not saving '%s' in %s: %s", name, args->dir, why);
            rc = CLI_EXIT_LOCAL;
        }
        if (items) {
            json_t *item = json_pack ("{s:s, s:I, s:b}", "path", f->path,
                                      "bytes", (json_int_t) f->content.size, "saved", ok);
            if (!item || json_array_append_new (items, item))
                rc = CLI_EXIT_INTERNAL;
        }
        else
        if (ok) {
            char size[32];
            cli_format_bytes (size, sizeof size, f->content.size);
            printf ("%s/%s (%s)\n", args->dir, f->path, size);
        }
    }
    close (dir_fd);
    if (items) {
        json_t *root = json_pack ("{s:s, s:O}", "dir", args->dir, "items", items);
        if (!root || cli_json_print (stdout, root))
            rc = CLI_EXIT_INTERNAL;
        json_decref (root);
        json_decref (items);
    }
    fflush (stdout);
    return rc;
}

int
cli_cmd_files (cli_global_t *global, int argc, char **argv)
{
    s_args_t args;
    cli_client_t *client = NULL;
    proto_msg_t *reply = NULL;
    int rc = s_parse (global, argc, argv, &args);
    if (rc < 0)
        rc = cli_command_connect (global, &client);
    if (rc >= 0)
        return rc;
    rc = cli_client_get (client, args.id, &reply);
    if (rc)
        goto done;
    const proto_record_t *record = &reply->u.record;
    const proto_result_t *r = &record->result;
    if (!proto_status_is_terminal (record->status)) {
        cli_error ("task %s is %s: its files come with its result (cleudo wait %s first)",
                   args.id, proto_status_name (record->status), args.id);
        rc = CLI_EXIT_REFUSED;
        goto done;
    }
    const proto_file_t *one = NULL;
    for (size_t i = 0; args.path && i < r->file_count; i++)
        if (strcmp (r->files[i].path, args.path) == 0)
            one = &r->files[i];
    if (args.path && !one) {
        bool ref = false;
        for (size_t i = 0; i < r->file_ref_count; i++)
            ref = ref || strcmp (r->file_refs[i], args.path) == 0;
        if (ref)
            cli_error ("task %s left '%s' in the shared volume (too large to send back): "
                       "fetch it over HTTP, GET /api/tasks/%s/files/%s", args.id, args.path,
                       args.id, args.path);
        else
            cli_error ("task %s has no collected file '%s' (cleudo get %s lists them)",
                       args.id, args.path, args.id);
        rc = CLI_EXIT_REFUSED;
        goto done;
    }
    if (one && strcmp (args.dir, "-") == 0) {
        if (cli_write_all (STDOUT_FILENO, one->content.data, one->content.size)) {
            cli_error ("cannot write '%s' to stdout: %s", args.path, strerror (errno));
            rc = CLI_EXIT_LOCAL;
        }
        goto done;
    }
    if (r->file_count == 0 && !args.json) {
        if (record->task.collect_count && !r->file_ref_count)
            cli_error ("task %s brought no files back (none of its --collect paths existed, "
                       "or the record was too large to carry them: try the HTTP API)", args.id);
        else
        if (!r->file_ref_count)
            cli_error ("task %s collected no files (run it with --collect PATH)", args.id);
    }
    rc = s_save_all (&args, r);
    for (size_t i = 0; !args.path && !args.json && i < r->file_ref_count; i++)
        cli_error ("'%s' was too large to send back; it is in the shared volume (GET "
                   "/api/tasks/%s/files/%s)", r->file_refs[i], args.id, r->file_refs[i]);
done:
    proto_msg_destroy (&reply);
    cli_client_destroy (&client);
    return rc;
}
