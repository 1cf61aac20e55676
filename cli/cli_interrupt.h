/*  cli_interrupt.h - Ctrl-C while cleudo waits for a task.

    run (and logs -f) catch SIGINT so that they can cancel the task before
    leaving: the handler only sets a flag, and every wait in cli_client
    looks at it between short poll slices (so a signal that lands just
    before zmq_poll () is seen within CLI_SLICE_MS). A second Ctrl-C, once
    released, ends cleudo at once the default way.
*/
#ifndef CLI_INTERRUPT_H_INCLUDED
#define CLI_INTERRUPT_H_INCLUDED

#include <stdbool.h>

/*  Catch SIGINT from now on (no SA_RESTART: blocking calls return EINTR). */
void cli_interrupt_catch (void);
/*  Back to the default action for SIGINT, and the flag cleared (so that
    the cancel that follows a Ctrl-C can wait for its answer).             */
void cli_interrupt_release (void);
/*  SIGINT came since cli_interrupt_catch ().                               */
bool cli_interrupted (void);

#endif
