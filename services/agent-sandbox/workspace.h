/*  workspace.h - a task's private directory, handled as hostile territory.

    SANDBOX_WORK_DIR/<id>-<attempt>-<random>/, mode 0700. Input files are
    written and collected files read relative to the workspace's directory
    descriptor with openat2 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
    RESOLVE_NO_MAGICLINKS): nothing a task leaves behind (symlinks, hard
    links, FIFOs, devices, unreadable directories) can make the worker read
    or write outside it, block, or fail to clean up. Removal never follows a
    link and never leaves the workspace's file system.
*/
#ifndef SBX_WORKSPACE_H_INCLUDED
#define SBX_WORKSPACE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct sbx_workspace_t sbx_workspace_t;

/*  Create root (and missing parents) with mode 0700 if it does not exist.
    0, or -1 with a message in err.                                         */
int sbx_workspace_prepare_root (const char *root, char *err, size_t err_size);

/*  Make a fresh workspace for task id / attempt under root. NULL with errno
    set on failure.                                                         */
sbx_workspace_t *sbx_workspace_new (const char *root, const char *id, uint32_t attempt);

/*  Remove the workspace (if still there) and free the object.             */
void sbx_workspace_destroy (sbx_workspace_t **self_p);

/*  Directory descriptor (close-on-exec) and full path.                    */
int sbx_workspace_fd (const sbx_workspace_t *self);
const char *sbx_workspace_path (const sbx_workspace_t *self);

/*  Write a new file at rel (creating parent directories). The file must
    not exist yet. 0, or -1 with errno set and a reason in why ("already
    exists", "refused: symbolic link in path", ...).                       */
int sbx_workspace_write (sbx_workspace_t *self, const char *rel, const void *data,
                         size_t size, int mode, char *why, size_t why_size);

/*  Read the regular, singly-linked file rel of at most max bytes into a
    malloc'd buffer (*data, *size; free it). 0, or -1 with a reason in why
    ("not found", "refused: not a regular file", "refused: 2 hard links",
    "refused: 5000 bytes exceed the remaining collect budget of 10 bytes"). */
int sbx_workspace_read (sbx_workspace_t *self, const char *rel, size_t max,
                        uint8_t **data, size_t *size, char *why, size_t why_size);

/*  Remove the workspace now. 0, or -1 when something could not be removed
    (it is logged by the caller; the object stays valid).                  */
int sbx_workspace_remove (sbx_workspace_t *self);

/*  Remove name (file, link or whole tree) under dirfd without following any
    symbolic link and without crossing into another file system. 0 or -1.  */
int sbx_remove_tree_at (int dirfd, const char *name);

#endif
