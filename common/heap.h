/*  heap.h - the malloc settings both services start with.                 */
#ifndef HEAP_H_INCLUDED
#define HEAP_H_INCLUDED

#include <malloc.h>

/*  Keep up to 4 MiB of freed heap instead of giving it back to the kernel
    after every task (brk up and down each time: 2-5% of the CPU per task in
    `make bench`). Setting one threshold pins the other too: large blocks
    (1 MiB and up: big frames) still get their own mapping, returned when
    freed.                                                                  */
static inline void
heap_keep_freed (void)
{
    mallopt (M_MMAP_THRESHOLD, 1 << 20);
    mallopt (M_TRIM_THRESHOLD, 4 << 20);
}

#endif
