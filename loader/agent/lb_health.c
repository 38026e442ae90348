// SPDX-License-Identifier: GPL-2.0
/* The health-check state machine and the HTTP status line (lb_health.h). */
#include <errno.h>
#include <string.h>

#include "lb_health.h"

void lb_hc_run__init(struct lb_hc_run *r, uint8_t state, uint32_t rise, uint32_t fall)
{
	memset(r, 0, sizeof(*r));
	r->state = state;
	if (state == SFC_LB_HEALTH_UP)
		r->ok_run = rise;
	else if (state == SFC_LB_HEALTH_DOWN)
		r->fail_run = fall;
	else
		r->state = SFC_LB_HEALTH_UNKNOWN;
}

bool lb_hc_run__step(struct lb_hc_run *r, bool ok, uint32_t rise, uint32_t fall)
{
	if (ok) {
		r->fail_run = 0;
		if (r->ok_run < UINT32_MAX)
			r->ok_run++;
		if (r->state != SFC_LB_HEALTH_UP && r->ok_run >= rise) {
			r->state = SFC_LB_HEALTH_UP;
			return true;
		}
		return false;
	}
	r->ok_run = 0;
	if (r->fail_run < UINT32_MAX)
		r->fail_run++;
	if (r->state != SFC_LB_HEALTH_DOWN && r->fail_run >= fall) {
		r->state = SFC_LB_HEALTH_DOWN;
		return true;
	}
	return false;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "HTTP/1.1 200 OK\r\n": the version's digits, one space, three digits,
 * then a space or the end of the line (the reason phrase may be empty). */
int lb_http_status(const char *buf, size_t len, int *status)
{
	static const char pfx[] = "HTTP/";
	const char *nl = memchr(buf, '\n', len);
	size_t line = nl ? (size_t)(nl - buf) : len;
	int code;

	*status = 0;
	if (memcmp(buf, pfx, len < 5 ? len : 5))
		return 0;
	if (!nl && line < 13)
		return -EAGAIN;
	if (line > 0 && buf[line - 1] == '\r')
		line--;
	if (line < 12 || !is_digit(buf[5]) || buf[6] != '.' || !is_digit(buf[7]) ||
	    buf[8] != ' ' || !is_digit(buf[9]) || !is_digit(buf[10]) || !is_digit(buf[11]) ||
	    (line > 12 && buf[12] != ' '))
		return 0;
	code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	*status = code;
	return code >= 200 && code < 400;
}
