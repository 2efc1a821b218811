#include "base/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct lc_err *e, int code, const char *fmt, ...)
{
	if (code >= 0)
		code = -EINVAL;
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	e->code = code;
	return code;
}

int err_prefix(struct lc_err *e, const char *fmt, ...)
{
	if (!e)
		return -EINVAL;
	char head[LC_ERR_MAX], old[LC_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s%s", head, old);
	if (e->code >= 0)
		e->code = -EINVAL;
	return e->code;
}

void err_clear(struct lc_err *e)
{
	if (!e)
		return;
	e->code = 0;
	e->msg[0] = '\0';
}
