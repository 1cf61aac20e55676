/*  cli_table.h - aligned columns for ls and workers.

    Cells are copied in; print () pads every column but the last to its
    widest cell (widths in characters, not bytes, so UTF-8 text lines up)
    and colours one column by a status per row when asked to. The text of
    every cell is cleaned of control characters first.
*/
#ifndef CLI_TABLE_H_INCLUDED
#define CLI_TABLE_H_INCLUDED

#include "proto.h"

#include <stdbool.h>
#include <stdio.h>

#define CLI_TABLE_COLS 10

typedef struct cli_table_t cli_table_t;

/*  headers: ncols column titles. color_col: the column coloured by each
    row's status, or -1.                                                   */
cli_table_t *cli_table_new (const char *const *headers, size_t ncols, int color_col);
void cli_table_destroy (cli_table_t **self_p);
/*  One row of ncols cells; status colours color_col. 0 or -1 (memory).    */
int cli_table_add (cli_table_t *self, const char *const *cells, proto_status_t status);
/*  Header and rows to out; colour only when color.                        */
void cli_table_print (const cli_table_t *self, FILE *out, bool color);

#endif
