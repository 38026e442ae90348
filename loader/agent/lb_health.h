/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The load balancer's health checks without sockets or maps: the rise/fall
 * state machine of one backend and the parser of an HTTP status line, kept
 * pure so that tests/unit/test_lb_health.c can drive them.
 */
#ifndef SFC_AGENT_LB_HEALTH_H
#define SFC_AGENT_LB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/sfc_lb.h"

/* One backend's run of results; state is SFC_LB_HEALTH_* (sfc_lb.h). */
struct lb_hc_run {
	uint8_t state;
	uint32_t ok_run;	/* consecutive successes */
	uint32_t fail_run;	/* consecutive failures */
};

/*
 * Start from a state read back from sfc_lb_health: an UP backend stays up
 * until `fall` failures, a DOWN one stays down until `rise` successes, as if
 * the runs that led there had just happened (no flapping on restart).
 */
void lb_hc_run__init(struct lb_hc_run *r, uint8_t state, uint32_t rise, uint32_t fall);

/*
 * Count one probe result. The state becomes UP after `rise` consecutive
 * successes (from UNKNOWN too) and DOWN after `fall` consecutive failures
 * (from UNKNOWN too). Returns true when the state changed.
 */
bool lb_hc_run__step(struct lb_hc_run *r, bool ok, uint32_t rise, uint32_t fall);

/* UNKNOWN counts as up: what a Maglev table sees. */
static inline bool lb_hc_state_up(uint8_t state)
{
	return state != SFC_LB_HEALTH_DOWN;
}

/*
 * The start of an HTTP response in buf[0..len): 1 when its status line is
 * complete and says 2xx or 3xx, 0 when it is complete and says anything
 * else or is not an HTTP/1.x status line (*status: the code, or 0), -EAGAIN
 * when more bytes are needed to tell.
 */
int lb_http_status(const char *buf, size_t len, int *status);

#endif
