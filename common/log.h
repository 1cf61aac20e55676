/*  log.h - one line per event, greppable key=value form, on stderr.

    log_event (CLOG_INFO, "task_accepted", "id=%s attempt=%u", id, attempt)
    prints  ts=2026-11-27T11:00:00.123Z level=info event=task_accepted id=...

    Values that come from outside (error messages from frames, worker ids)
    go through log_quote () so that nobody can forge a log line.
*/
#ifndef LOG_H_INCLUDED
#define LOG_H_INCLUDED

#include <stddef.h>

typedef enum { CLOG_DEBUG = 0, CLOG_INFO, CLOG_WARN, CLOG_ERROR } log_level_t;

/*  Name shown as component=... on every line; set once at start.          */
void log_set_component (const char *name);
void log_set_level (log_level_t level);

void log_event (log_level_t level, const char *event, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  An event loop's lines: after log_hold (), debug and info lines of the
    calling thread are kept (up to 4 KiB, whole lines) until log_flush ()
    or a warning or error, so that a turn of the loop costs one write, not
    one per line. The loop calls log_flush () before it waits; exit
    flushes too. Other threads always write at once.                       */
void log_hold (void);
void log_flush (void);

/*  Quote text for a log value: "..." with \" \\ \n and \xNN escapes, cut at
    max_in input bytes. Writes into buf (size bytes) and returns buf.       */
char *log_quote (char *buf, size_t size, const void *text, size_t len);

#endif
