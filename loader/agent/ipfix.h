/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An IPFIX exporter (RFC 7011) over UDP or TCP: two templates (IPv4 and
 * IPv6 flows, ids 256 and 257), data records built into one message at a
 * time, sent by ipfix__flush(). A message that could not be sent is
 * reported to the caller, which keeps the flows and offers them again after
 * the backoff; nothing is queued here beyond the message being built.
 */
#ifndef SFC_AGENT_IPFIX_H
#define SFC_AGENT_IPFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPFIX_TEMPLATE_V4	256
#define IPFIX_TEMPLATE_V6	257

/* flowEndReason (IANA IE 136) */
enum ipfix_end_reason {
	IPFIX_END_IDLE = 1,		/* idle timeout */
	IPFIX_END_ACTIVE = 2,		/* active timeout: the flow goes on */
	IPFIX_END_OF_FLOW = 3,		/* FIN or RST seen */
	IPFIX_END_FORCED = 4,		/* the exporter ended it (table full) */
};

/* forwardingStatus (IANA IE 89, RFC 7270 section 4.12): status << 6 | reason */
enum ipfix_fwd_status {
	IPFIX_FWD_UNKNOWN = 0,
	IPFIX_FWD_FORWARDED = 64,	/* Forwarded, unknown reason */
	IPFIX_FWD_DROPPED = 128,	/* Dropped, unknown reason */
	IPFIX_FWD_DROPPED_ACL = 129,	/* Dropped, ACL deny */
};

/* One data record, already in export terms. Addresses in network order. */
struct ipfix_flow {
	uint8_t family;			/* 4 or 6 */
	uint8_t proto;
	uint8_t tcp_flags;
	uint8_t direction;		/* flowDirection: 0 ingress, 1 egress */
	uint8_t end_reason;
	uint8_t fwd_status;		/* enum ipfix_fwd_status */
	uint8_t src[16], dst[16];	/* IPv4 in the first 4 bytes */
	uint16_t sport, dport;		/* host order */
	uint16_t vlan;
	uint64_t octets, packets;
	uint64_t start_ms, end_ms;	/* CLOCK_REALTIME, ms since the epoch */
};

enum ipfix_transport { IPFIX_UDP, IPFIX_TCP };

struct ipfix_stats {
	uint64_t messages;		/* sent */
	uint64_t records;		/* data records sent */
	uint64_t templates;		/* template sets sent */
	uint64_t errors;		/* messages not sent, failed connects */
};

struct ipfix;

/* collector: "HOST:PORT" or "[V6]:PORT". NULL and errno on a bad address. */
struct ipfix *ipfix__new(const char *collector, enum ipfix_transport t, uint32_t domain);
void ipfix__free(struct ipfix *x);

/*
 * May records be offered now? False while backing off after an error, or
 * while a TCP connect is in progress (*retry_ns says when to ask again,
 * CLOCK_MONOTONIC). May send a template-only message to probe the collector.
 */
bool ipfix__ready(struct ipfix *x, uint64_t now_ns, uint64_t *retry_ns);
/*
 * Call when a round is done: an idle UDP exporter sends its templates alone,
 * as a probe that tells by the next round whether the collector listens.
 */
void ipfix__idle(struct ipfix *x, uint64_t now_ns);
/* Add a record to the message; -ENOSPC when full: flush first. */
int ipfix__add(struct ipfix *x, const struct ipfix_flow *f);
/* Records in the message being built. */
unsigned int ipfix__pending(const struct ipfix *x);
/*
 * Send the message (templates first when due). 0: sent, the records are
 * the collector's; -errno: not sent, dropped from the message, counted in
 * errors; the exporter backs off.
 */
int ipfix__flush(struct ipfix *x, uint64_t now_ns);
/* Drop the records of the message being built. */
void ipfix__discard(struct ipfix *x);

const struct ipfix_stats *ipfix__stats(const struct ipfix *x);
const char *ipfix__collector(const struct ipfix *x);
/* The last error, "" when the last attempt succeeded. */
const char *ipfix__last_error(const struct ipfix *x);

/* Bytes of one data record of the family (4 or 6). */
size_t ipfix__record_len(int family);

#endif
