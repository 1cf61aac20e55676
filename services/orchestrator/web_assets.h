/*  web_assets.h - the dashboard's files, compiled in (tools/embed.c makes
    build/gen/web_assets.c from the files in services/orchestrator/web/).             */
#ifndef ORCH_WEB_ASSETS_H_INCLUDED
#define ORCH_WEB_ASSETS_H_INCLUDED

#include <stddef.h>

typedef struct {
    const char *name;                   /* base name, e.g. "app.js" */
    const char *type;                   /* Content-Type */
    const unsigned char *data;
    size_t size;
    const char *etag;                   /* quoted, from the content */
} web_asset_t;

extern const web_asset_t web_assets[];  /* ends with a NULL name */
extern const size_t web_asset_count;

#endif
