/* str: appending formatted text to a fixed buffer.
 *
 * str_appendf() writes at buf + off and returns the new offset; once the buffer is full it
 * stops writing (the text is cut, never overrun) and returns an offset >= len, so a chain of
 * calls needs one check at the end, if any. */
#ifndef LABCTL_STR_H
#define LABCTL_STR_H

#include <stddef.h>

size_t str_appendf(char *buf, size_t len, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
