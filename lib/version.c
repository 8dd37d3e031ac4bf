// SPDX-License-Identifier: MIT
/*
 * version.c - the library's version and its error strings.
 *
 * tmem_strerror() describes the errnos this library returns in the words
 * of this library (what the condition means for a tmem caller), falling
 * back to the C library's text for anything else.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

#define STR_(x) #x
#define STR(x) STR_(x)

TM_EXPORT unsigned tmem_version(void)
{
	return TMEM_VERSION_NUMBER;
}

TM_EXPORT const char *tmem_version_string(void)
{
	return STR(TMEM_VERSION_MAJOR) "." STR(TMEM_VERSION_MINOR) "." STR(
		TMEM_VERSION_PATCH);
}

TM_EXPORT const char *tmem_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EINVAL:
		return "invalid argument (NULL pointer, bad size or bad parameter)";
	case -ENOSPC:
		return "pool is at its limit (pool_max); page not stored";
	case -ENOMEM:
		return "out of memory";
	case -ENOENT:
		return "no page stored under that key";
	case -EIO:
		return "stored data is corrupt (decompression failed)";
	case -EOPNOTSUPP:
		return "not supported by this version of tmem";
	case -ERANGE:
		return "value out of range";
	default:
		{
		const char *s = err < 0 ? strerrordesc_np(-err) : NULL;

		return s ? s : "unknown error";
	}
	}
}
