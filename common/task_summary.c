/*  task_summary.c - a task in one line (see task_summary.h).              */
#include "task_summary.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

char *
task_summary (const proto_task_t *task)
{
    enum { MAX = 200 };
    char buf[MAX + 8];
    size_t len = 0;
    if (task->argc) {
        for (size_t i = 0; i < task->argc && len < MAX; i++) {
            if (i)
                buf[len++] = ' ';
            size_t n = strlen (task->argv[i]);
            if (n > MAX - len)
                n = MAX - len;
            memcpy (buf + len, task->argv[i], n);
            len += n;
        }
    }
    else {
        const char *lang = proto_lang_name (task->lang);
        len = (size_t) snprintf (buf, sizeof buf, "%s: ", lang ? lang : "?");
        const char *code = (const char *) task->code.data;
        size_t n = task->code.size;
        /*  Skip leading blank lines; keep the first line with content.     */
        while (n && (*code == '\n' || *code == '\r' || *code == ' ' || *code == '\t')) {
            code++;
            n--;
        }
        const char *nl = n ? memchr (code, '\n', n) : NULL;
        if (nl)
            n = (size_t) (nl - code);
        if (n > MAX - len)
            n = MAX - len;
        if (n)
            memcpy (buf + len, code, n);
        len += n;
    }
    len = utf8_cut (buf, len);
    /*  Control characters (tabs, NULs, CR) become spaces: one line.        */
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f)
            buf[i] = ' ';
    return utf8_lossy (buf, len, NULL);
}
