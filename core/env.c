/* env.c — helpers over the environment interface (env.h). */
#include "env.h"

#include <glib.h>

void env_logf(const struct env *e, enum env_log_level level, const char *fmt, ...)
{
    if (!e->ops->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    e->ops->log(e->ctx, level, msg);
    g_free(msg);
}
