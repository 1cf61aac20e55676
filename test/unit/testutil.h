/*  testutil.h - helpers shared by the unit test runners (test/unit/).
    Each runner links testutil.o; failures inside assert through Check.     */
#ifndef TESTUTIL_H_INCLUDED
#define TESTUTIL_H_INCLUDED

#include <stdint.h>
#include <sys/types.h>

/*  Remove a tree without following links; "" is ignored.                   */
void tu_rm_rf (const char *path);
/*  Copy a file, creating the target with mode (asserts on failure).        */
void tu_copy_file (const char *from, const char *to, mode_t mode);
/*  Monotonic clock in microseconds.                                        */
double tu_now_us (void);
/*  Median of n values (sorts v).                                           */
double tu_median (double *v, int n);
/*  A non-blocking TCP listener on 127.0.0.1, any port (stored in *port).   */
int tu_tcp_listener (uint16_t *port);
/*  Host processes whose command line contains marker.                      */
int tu_count_marker (const char *marker);

#endif
