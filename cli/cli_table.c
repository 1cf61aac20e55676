/*  cli_table.c - aligned columns.                                          */
#include "cli_table.h"
#include "cli_output.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *cells[CLI_TABLE_COLS];        /* owned, cleaned */
    proto_status_t status;              /* colours color_col */
} s_row_t;

struct cli_table_t {
    size_t ncols;                       /* columns in use */
    int color_col;                      /* coloured column or -1 */
    s_row_t header;                     /* titles */
    s_row_t *rows;                      /* the rows */
    size_t count;                       /* rows in use */
    size_t alloc;                       /* rows allocated */
};

/*  Characters of UTF-8 text: bytes that do not continue a sequence.       */
static size_t
s_width (const char *text)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        n += (*p & 0xc0) != 0x80;
    return n;
}

static int
s_fill (s_row_t *row, const char *const *cells, size_t ncols, proto_status_t status)
{
    memset (row, 0, sizeof *row);
    row->status = status;
    for (size_t i = 0; i < ncols; i++) {
        row->cells[i] = strdup (cells[i] ? cells[i] : "");
        if (!row->cells[i])
            return -1;
        cli_clean (row->cells[i]);
    }
    return 0;
}

static void
s_free_row (s_row_t *row)
{
    for (size_t i = 0; i < CLI_TABLE_COLS; i++)
        free (row->cells[i]);
}

cli_table_t *
cli_table_new (const char *const *headers, size_t ncols, int color_col)
{
    if (ncols > CLI_TABLE_COLS)
        return NULL;
    cli_table_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ncols = ncols;
    self->color_col = color_col;
    if (s_fill (&self->header, headers, ncols, PROTO_STATUS_NONE))
        cli_table_destroy (&self);
    return self;
}

void
cli_table_destroy (cli_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cli_table_t *self = *self_p;
    *self_p = NULL;
    s_free_row (&self->header);
    for (size_t i = 0; i < self->count; i++)
        s_free_row (&self->rows[i]);
    free (self->rows);
    free (self);
}

int
cli_table_add (cli_table_t *self, const char *const *cells, proto_status_t status)
{
    if (self->count == self->alloc) {
        size_t n = self->alloc ? self->alloc * 2 : 16;
        s_row_t *rows = realloc (self->rows, n * sizeof *rows);
        if (!rows)
            return -1;
        self->rows = rows;
        self->alloc = n;
    }
    s_row_t *row = &self->rows[self->count];
    if (s_fill (row, cells, self->ncols, status)) {
        s_free_row (row);
        return -1;
    }
    self->count++;
    return 0;
}

static void
s_print_row (const cli_table_t *self, const s_row_t *row, const size_t *widths, FILE *out,
             bool color)
{
    for (size_t c = 0; c < self->ncols; c++) {
        const char *text = row->cells[c];
        const char *on = color && (int) c == self->color_col ? cli_status_color (row->status)
                                                             : "";
        bool last = c + 1 == self->ncols;
        fprintf (out, "%s%s%s", on, text, *on ? CLI_COLOR_OFF : "");
        if (!last)
            fprintf (out, "%*s", (int) (widths[c] - s_width (text) + 2), "");
    }
    fputc ('\n', out);
}

void
cli_table_print (const cli_table_t *self, FILE *out, bool color)
{
    size_t widths[CLI_TABLE_COLS] = { 0 };
    for (size_t c = 0; c < self->ncols; c++) {
        widths[c] = s_width (self->header.cells[c]);
        for (size_t r = 0; r < self->count; r++) {
            size_t w = s_width (self->rows[r].cells[c]);
            if (w > widths[c])
                widths[c] = w;
        }
    }
    s_print_row (self, &self->header, widths, out, false);
    for (size_t r = 0; r < self->count; r++)
        s_print_row (self, &self->rows[r], widths, out, color);
    fflush (out);
}
