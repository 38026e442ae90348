// SPDX-License-Identifier: GPL-2.0
/* sfcctl agent: the long-running agent (loader/agent/, docs/agent.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "agent.h"

#define INTERVAL_MIN_NS	100000000ull		/* 100 ms */
#define INTERVAL_MAX_NS	3600000000000ull	/* 1 h */

/* "1s", "500ms", "2m", "1h" or seconds; 0 on a bad value. */
static uint64_t parse_duration(const char *s)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = { { "ms", 1e6 }, { "s", 1e9 }, { "m", 60e9 }, { "h", 3600e9 }, { "", 1e9 } };
	unsigned int i;
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0 || strchr(s, 'x') || strchr(s, 'X'))
		return 0;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit))
			return v * units[i].ns > 1e18 ? 0 : (uint64_t)(v * units[i].ns);
	return 0;
}

int cmd_agent(const struct sfcctl *ctl, int argc, char **argv)
{
	struct agent_opts o = {
		.pin_root = ctl->pin_root,
		.interval_ns = 1000000000ull,
		.metrics_listen = ctl->metrics,
		.once = ctl->once,
		.json = ctl->json,
	};
	struct sockaddr_storage ss;
	socklen_t len;
	int err;

	if (ctl->netns)
		return out_usage(ctl, "agent", "agent: -n does not apply: the agent reads every "
				 "chain from the pins on the host");
	if (ctl->interval) {
		o.interval_ns = parse_duration(ctl->interval);
		if (o.interval_ns < INTERVAL_MIN_NS || o.interval_ns > INTERVAL_MAX_NS)
			return out_usage(ctl, "agent", "agent: --interval '%s' is not a duration "
					 "from 100ms to 1h (e.g. 1s, 500ms, 2m)", ctl->interval);
	}
	if (ctl->metrics && agent_parse_addr(ctl->metrics, true, SOCK_STREAM, &ss, &len))
		return out_usage(ctl, "agent", "agent: --metrics '%s' is not ADDR:PORT with a "
				 "literal address (127.0.0.1:9469, [::1]:9469, 0.0.0.0:9469)",
				 ctl->metrics);
	if (ctl->once && ctl->metrics)
		return out_usage(ctl, "agent",
				 "agent: --once serves no metrics: leave out --metrics");
	/* a daemon says what it does; one round (--once) only what went wrong */
	sfc_set_log(out_log, NULL, ctl->verbose ? SFC_LOG_DEBUG :
		    ctl->once ? SFC_LOG_WARN : SFC_LOG_INFO);
	err = agent_run(&o);
	switch (err) {
	case 0:
		return EXIT_OK;
	case -EIO:
		return EXIT_FAIL;	/* --once: an export failed, the summary says which */
	case -EBUSY:
		return out_error(ctl, "agent: another agent is running on %s", ctl->pin_root);
	case -ENOTSUP:
		return out_error(ctl, "agent: %s is not on the host's bpffs (never run sfcctl "
				 "under `ip netns exec`)", ctl->pin_root);
	case -EPERM:
	case -EACCES:
		return out_error(ctl, "agent: %s (are you root?)", strerror(-err));
	}
	return out_error(ctl, "agent: %s", strerror(-err));
}
