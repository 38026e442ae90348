// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "internal.h"

static sfc_log_fn log_fn;
static void *log_ctx;
static enum sfc_log_level log_max = SFC_LOG_WARN;

void sfc_set_log(sfc_log_fn fn, void *ctx, enum sfc_log_level max_level)
{
	log_fn = fn;
	log_ctx = ctx;
	log_max = max_level;
}

static void vlog(enum sfc_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	size_t n;

	if (!log_fn || level > log_max)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_fn(level, msg, log_ctx);
}

void sfc_log(enum sfc_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

int sfc_diag_set(struct sfc_diag *d, int err, const char *path, const char *fmt, ...)
{
	va_list ap;

	if (!d)
		return err;
	if (path)
		snprintf(d->path, sizeof(d->path), "%s", path);
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
	return err;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	vlog(SFC_LOG_DEBUG, fmt, ap);
	return 0;
}

void sfc_libbpf_log_init(void)
{
	static int done;

	if (!done) {
		libbpf_set_print(libbpf_print);
		done = 1;
	}
}
