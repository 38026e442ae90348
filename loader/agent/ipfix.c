// SPDX-License-Identifier: GPL-2.0
/*
 * IPFIX exporter (RFC 7011). A message is
 *
 *	header (section 3.1): version 10, length, export time (s), sequence
 *	    number (data records sent before this message in this transport
 *	    session, mod 2^32), observation domain id
 *	template set (set id 2, section 3.4.1), when due: templates 256 (IPv4)
 *	    and 257 (IPv6)
 *	data set 256 and/or 257 (section 3.3.2): the records, no padding
 *
 * all in network byte order. Templates go out in the first message of a
 * transport session (a TCP connection, the UDP socket's first message) and,
 * over UDP, again every TEMPLATE_REFRESH_S seconds or TEMPLATE_REFRESH_MSGS
 * messages (section 8.4: a UDP collector that restarts has lost them), and
 * after an error.
 *
 * Errors: a connected UDP socket learns from the ICMP port unreachable of a
 * datagram that the collector is not listening, and the next send() fails
 * with ECONNREFUSED (that datagram is not sent). So after an error, when the
 * backoff has passed, a template-only message goes first as a probe, and the
 * records only PROBE_WAIT_NS later, once no error came back for it: a
 * collector that is still down costs no data record, only the message that
 * was in flight when it went down. To shorten that window, an idle UDP
 * exporter sends the templates alone about once a second (ipfix__idle()),
 * as a probe whose answer is checked before the next records go out: only a
 * collector that dies in the last second before an export costs records.
 * TCP connects without blocking; a connect
 * that fails or takes longer than CONNECT_TIMEOUT_NS is an error. Each error
 * is counted; the backoff doubles from 1 s to 30 s.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "agent.h"
#include "internal.h"
#include "ipfix.h"

#define IPFIX_VERSION		10
#define IPFIX_SET_TEMPLATE	2
#define HDR_LEN			16
#define SET_HDR_LEN		4

/* UDP: stay below a 1500-byte MTU (section 10.3.3); TCP: a big message. */
#define UDP_MSG_MAX		1400
#define TCP_MSG_MAX		(64 * 1024 - 1)

#define TEMPLATE_REFRESH_S	60
#define TEMPLATE_REFRESH_MSGS	100
#define BACKOFF_MIN_NS		1000000000ull
#define BACKOFF_MAX_NS		30000000000ull
#define PROBE_WAIT_NS		100000000ull
#define CONNECT_TIMEOUT_NS	5000000000ull
#define IDLE_PROBE_NS		900000000ull
#define TCP_SEND_TIMEOUT_MS	2000

struct ie {
	uint16_t id;
	uint16_t len;
};

/*
 * The record layout, one table per template. tcpControlBits is unsigned16
 * since RFC 7125; it is sent in one byte (reduced-size encoding, RFC 7011
 * section 6.2): the chain keeps the eight classic flags. forwardingStatus is
 * unsigned8 since RFC 7270 (it was unsigned32 in NetFlow v9).
 */
static const struct ie ies_v4[] = {
	{ 8, 4 },	/* sourceIPv4Address */
	{ 12, 4 },	/* destinationIPv4Address */
	{ 7, 2 },	/* sourceTransportPort */
	{ 11, 2 },	/* destinationTransportPort */
	{ 4, 1 },	/* protocolIdentifier */
	{ 6, 1 },	/* tcpControlBits */
	{ 1, 8 },	/* octetDeltaCount */
	{ 2, 8 },	/* packetDeltaCount */
	{ 152, 8 },	/* flowStartMilliseconds */
	{ 153, 8 },	/* flowEndMilliseconds */
	{ 58, 2 },	/* vlanId */
	{ 61, 1 },	/* flowDirection */
	{ 136, 1 },	/* flowEndReason */
	{ 89, 1 },	/* forwardingStatus */
};

static const struct ie ies_v6[] = {
	{ 27, 16 },	/* sourceIPv6Address */
	{ 28, 16 },	/* destinationIPv6Address */
	{ 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 1 }, { 1, 8 }, { 2, 8 },
	{ 152, 8 }, { 153, 8 }, { 58, 2 }, { 61, 1 }, { 136, 1 }, { 89, 1 },
};

#define N_IES(a) (sizeof(a) / sizeof((a)[0]))
#define REC_V4 (4 + 4 + 2 + 2 + 1 + 1 + 8 + 8 + 8 + 8 + 2 + 1 + 1 + 1)
#define REC_V6 (REC_V4 + 2 * 12)
#define TEMPLATE_SET_LEN (SET_HDR_LEN + 2 * 4 + 4 * (N_IES(ies_v4) + N_IES(ies_v6)))

_Static_assert(N_IES(ies_v4) == N_IES(ies_v6), "templates differ in more than the addresses");

struct ipfix {
	char collector[300];
	enum ipfix_transport transport;
	uint32_t domain;
	size_t msg_max;

	int fd;
	bool connected;			/* TCP: connect done; UDP: socket ready */
	uint64_t connect_start_ns;
	uint32_t seq;			/* data records sent in this session */
	bool templates_due;
	uint64_t template_ns;		/* when they last went out */
	uint64_t sent_ns;		/* the last message went out */
	unsigned int msgs_since_template;

	bool probe;			/* after an error: probe before data */
	uint64_t probe_ns;		/* the probe went out (0: not yet) */
	uint64_t backoff_ns;
	uint64_t retry_at_ns;

	/* the message being built: records per template */
	unsigned char *v4, *v6;
	size_t v4_len, v6_len;
	unsigned int n_records;
	unsigned char *buf;		/* assembled at flush */

	struct ipfix_stats stats;
	char last_error[400];
};

size_t ipfix__record_len(int family)
{
	return family == 6 ? REC_V6 : REC_V4;
}

static unsigned char *put16(unsigned char *p, uint16_t v)
{
	v = htons(v);
	memcpy(p, &v, 2);
	return p + 2;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
	return p + 4;
}

static unsigned char *put64(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
	return p + 8;
}

static unsigned char *put_template(unsigned char *p, uint16_t id, const struct ie *ies, size_t n)
{
	size_t i;

	p = put16(p, id);
	p = put16(p, n);
	for (i = 0; i < n; i++) {
		p = put16(p, ies[i].id);
		p = put16(p, ies[i].len);
	}
	return p;
}

static unsigned char *put_record(unsigned char *p, const struct ipfix_flow *f)
{
	size_t alen = f->family == 6 ? 16 : 4;

	memcpy(p, f->src, alen);
	p += alen;
	memcpy(p, f->dst, alen);
	p += alen;
	p = put16(p, f->sport);
	p = put16(p, f->dport);
	*p++ = f->proto;
	*p++ = f->tcp_flags;
	p = put64(p, f->octets);
	p = put64(p, f->packets);
	p = put64(p, f->start_ms);
	p = put64(p, f->end_ms);
	p = put16(p, f->vlan);
	*p++ = f->direction;
	*p++ = f->end_reason;
	*p++ = f->fwd_status;
	return p;
}

struct ipfix *ipfix__new(const char *collector, enum ipfix_transport t, uint32_t domain)
{
	struct ipfix *x;

	/* Syntax only; a name is resolved at each (re)connect. */
	if (!agent_addr_valid(collector)) {
		errno = EINVAL;
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	snprintf(x->collector, sizeof(x->collector), "%s", collector);
	x->transport = t;
	x->domain = domain;
	x->msg_max = t == IPFIX_TCP ? TCP_MSG_MAX : UDP_MSG_MAX;
	x->fd = -1;
	x->templates_due = true;
	x->probe = true;	/* templates first, alone: see the top of the file */
	x->v4 = malloc(x->msg_max);
	x->v6 = malloc(x->msg_max);
	x->buf = malloc(x->msg_max);
	if (!x->v4 || !x->v6 || !x->buf) {
		ipfix__free(x);
		errno = ENOMEM;
		return NULL;
	}
	return x;
}

static void close_fd(struct ipfix *x)
{
	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	x->connected = false;
}

void ipfix__free(struct ipfix *x)
{
	if (!x)
		return;
	close_fd(x);
	free(x->v4);
	free(x->v6);
	free(x->buf);
	free(x);
}

const struct ipfix_stats *ipfix__stats(const struct ipfix *x)
{
	return &x->stats;
}

const char *ipfix__collector(const struct ipfix *x)
{
	return x->collector;
}

const char *ipfix__last_error(const struct ipfix *x)
{
	return x->last_error;
}

unsigned int ipfix__pending(const struct ipfix *x)
{
	return x->n_records;
}

void ipfix__discard(struct ipfix *x)
{
	x->v4_len = x->v6_len = 0;
	x->n_records = 0;
}

/* Count an error and back off. */
static int fail(struct ipfix *x, uint64_t now_ns, int err, const char *what)
{
	bool first = !x->last_error[0];

	snprintf(x->last_error, sizeof(x->last_error), "%s %s: %s", what, x->collector,
		 strerror(-err));
	x->stats.errors++;
	x->backoff_ns = x->backoff_ns ? x->backoff_ns * 2 : BACKOFF_MIN_NS;
	if (x->backoff_ns > BACKOFF_MAX_NS)
		x->backoff_ns = BACKOFF_MAX_NS;
	x->retry_at_ns = now_ns + x->backoff_ns;
	x->probe = true;
	x->probe_ns = 0;
	x->templates_due = true;
	if (first)
		sfc_log(SFC_LOG_WARN, "ipfix: %s; retrying with backoff", x->last_error);
	else
		sfc_log(SFC_LOG_DEBUG, "ipfix: %s", x->last_error);
	if (x->transport == IPFIX_TCP)
		close_fd(x);
	return err;
}

static void recovered(struct ipfix *x)
{
	if (x->last_error[0])
		sfc_log(SFC_LOG_INFO, "ipfix: collector %s reachable again", x->collector);
	x->last_error[0] = '\0';
	x->backoff_ns = 0;
	x->probe = false;
	x->probe_ns = 0;
}

/* A socket connected (or connecting, TCP) to the collector. */
static int open_socket(struct ipfix *x, uint64_t now_ns)
{
	int type = x->transport == IPFIX_TCP ? SOCK_STREAM : SOCK_DGRAM;
	struct sockaddr_storage ss;
	socklen_t len;
	int err, fd;

	err = agent_parse_addr(x->collector, false, type, &ss, &len);
	if (err)
		return fail(x, now_ns, err, "resolve");
	fd = socket(ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(x, now_ns, -errno, "socket for");
	x->fd = fd;
	x->connect_start_ns = now_ns;
	err = connect(fd, (struct sockaddr *)&ss, len) ? -errno : 0;
	if (err && err != -EINPROGRESS)
		return fail(x, now_ns, err, "connect to");
	x->connected = !err;
	if (x->transport == IPFIX_TCP) {
		/* a new transport session: templates and sequence start over */
		x->seq = 0;
		x->templates_due = true;
	}
	return 0;
}

/* TCP: has the non-blocking connect finished? 1 yes, 0 not yet, -errno. */
static int connect_done(struct ipfix *x, uint64_t now_ns)
{
	struct pollfd p = { .fd = x->fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (poll(&p, 1, 0) < 0)
		return -errno;
	if (!p.revents) {
		if (now_ns - x->connect_start_ns > CONNECT_TIMEOUT_NS)
			return -ETIMEDOUT;
		return 0;
	}
	if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
		return -errno;
	return soerr ? -soerr : 1;
}

static int send_all(struct ipfix *x, const unsigned char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int waited = 0;

	while (off < len) {
		n = send(x->fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && x->transport == IPFIX_TCP &&
		    waited < TCP_SEND_TIMEOUT_MS) {
			/* a message is never left half-written: the stream would be lost */
			struct pollfd p = { .fd = x->fd, .events = POLLOUT };

			poll(&p, 1, 100);
			waited += 100;
			continue;
		}
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

/* Header + templates (when due) + data sets, into x->buf. */
static size_t assemble(struct ipfix *x, bool templates, bool with_data)
{
	unsigned char *p = x->buf + HDR_LEN;
	struct timespec ts;

	if (templates) {
		p = put16(p, IPFIX_SET_TEMPLATE);
		p = put16(p, TEMPLATE_SET_LEN);
		p = put_template(p, IPFIX_TEMPLATE_V4, ies_v4, N_IES(ies_v4));
		p = put_template(p, IPFIX_TEMPLATE_V6, ies_v6, N_IES(ies_v6));
	}
	if (with_data && x->v4_len) {
		p = put16(p, IPFIX_TEMPLATE_V4);
		p = put16(p, SET_HDR_LEN + x->v4_len);
		memcpy(p, x->v4, x->v4_len);
		p += x->v4_len;
	}
	if (with_data && x->v6_len) {
		p = put16(p, IPFIX_TEMPLATE_V6);
		p = put16(p, SET_HDR_LEN + x->v6_len);
		memcpy(p, x->v6, x->v6_len);
		p += x->v6_len;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	put16(x->buf, IPFIX_VERSION);
	put16(x->buf + 2, p - x->buf);
	put32(x->buf + 4, (uint32_t)ts.tv_sec);
	put32(x->buf + 8, x->seq);
	put32(x->buf + 12, x->domain);
	return p - x->buf;
}

static bool templates_due(struct ipfix *x, uint64_t now_ns)
{
	if (x->templates_due)
		return true;
	return x->transport == IPFIX_UDP &&
	       (now_ns - x->template_ns >= TEMPLATE_REFRESH_S * 1000000000ull ||
		x->msgs_since_template >= TEMPLATE_REFRESH_MSGS);
}

/* Send what is built (records too when with_data). */
static int send_message(struct ipfix *x, uint64_t now_ns, bool with_data)
{
	bool templates = templates_due(x, now_ns);
	size_t len;
	int err;

	len = assemble(x, templates, with_data);
	err = send_all(x, x->buf, len);
	if (err)
		return err;
	x->stats.messages++;
	x->sent_ns = now_ns;
	if (templates) {
		x->stats.templates++;
		x->templates_due = false;
		x->template_ns = now_ns;
		x->msgs_since_template = 0;
	} else {
		x->msgs_since_template++;
	}
	if (with_data) {
		x->seq += x->n_records;
		x->stats.records += x->n_records;
	}
	return 0;
}

/* UDP: an ICMP error for an earlier datagram, pending on the socket. */
static int pending_error(struct ipfix *x)
{
	socklen_t len = sizeof(int);
	int soerr = 0;

	if (getsockopt(x->fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
		return -errno;
	return -soerr;
}

static bool peer_closed(struct ipfix *x)
{
	struct pollfd p = { .fd = x->fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) > 0 && p.revents;
}

bool ipfix__ready(struct ipfix *x, uint64_t now_ns, uint64_t *retry_ns)
{
	int err;

	*retry_ns = 0;
	if (x->retry_at_ns && now_ns < x->retry_at_ns) {
		*retry_ns = x->retry_at_ns;
		return false;
	}
	x->retry_at_ns = 0;
	if (x->fd < 0 && open_socket(x, now_ns)) {
		*retry_ns = x->retry_at_ns;
		return false;
	}
	if (!x->connected) {
		err = connect_done(x, now_ns);
		if (err < 0) {
			fail(x, now_ns, err, "connect to");
			*retry_ns = x->retry_at_ns;
			return false;
		}
		if (!err) {
			*retry_ns = now_ns + PROBE_WAIT_NS;
			return false;
		}
		x->connected = true;
	}
	if (x->transport == IPFIX_TCP && x->templates_due) {
		/* a new connection: the templates go out at once (section 8.1) */
		err = send_message(x, now_ns, false);
		if (err) {
			fail(x, now_ns, err, "send to");
			*retry_ns = x->retry_at_ns;
			return false;
		}
		/* a TCP connect that succeeds is proof enough */
		recovered(x);
	}
	if (x->transport == IPFIX_TCP && peer_closed(x)) {
		/* a collector never sends: readable means closed (or reset) */
		fail(x, now_ns, -ECONNRESET, "connection to");
		*retry_ns = x->retry_at_ns;
		return false;
	}
	if (!x->probe)
		return true;
	if (x->transport == IPFIX_TCP) {
		recovered(x);
		return true;
	}
	if (!x->probe_ns) {
		pending_error(x);	/* forget what came before the probe */
		x->templates_due = true;
		err = send_message(x, now_ns, false);
		if (err) {
			fail(x, now_ns, err, "send to");
			*retry_ns = x->retry_at_ns;
			return false;
		}
		x->probe_ns = now_ns;
		*retry_ns = now_ns + PROBE_WAIT_NS;
		return false;
	}
	if (now_ns - x->probe_ns < PROBE_WAIT_NS) {
		*retry_ns = x->probe_ns + PROBE_WAIT_NS;
		return false;
	}
	err = pending_error(x);
	if (err) {
		fail(x, now_ns, err, "send to");
		*retry_ns = x->retry_at_ns;
		return false;
	}
	recovered(x);
	return true;
}

void ipfix__idle(struct ipfix *x, uint64_t now_ns)
{
	int err;

	if (x->transport != IPFIX_UDP || x->fd < 0 || x->probe || x->retry_at_ns ||
	    now_ns - x->sent_ns < IDLE_PROBE_NS)
		return;
	x->templates_due = true;
	err = send_message(x, now_ns, false);
	if (err) {
		fail(x, now_ns, err, "send to");
		return;
	}
	x->probe = true;
	x->probe_ns = now_ns;
}

int ipfix__add(struct ipfix *x, const struct ipfix_flow *f)
{
	size_t rlen = ipfix__record_len(f->family);
	size_t total = HDR_LEN + TEMPLATE_SET_LEN + 2 * SET_HDR_LEN + x->v4_len + x->v6_len + rlen;
	unsigned char **set = f->family == 6 ? &x->v6 : &x->v4;
	size_t *len = f->family == 6 ? &x->v6_len : &x->v4_len;

	if (f->family != 4 && f->family != 6)
		return -EAFNOSUPPORT;
	if (total > x->msg_max)
		return -ENOSPC;
	put_record(*set + *len, f);
	*len += rlen;
	x->n_records++;
	return 0;
}

int ipfix__flush(struct ipfix *x, uint64_t now_ns)
{
	int err;

	if (!x->n_records)
		return 0;
	if (x->fd < 0 || !x->connected) {
		err = fail(x, now_ns, -ENOTCONN, "send to");
		goto out;
	}
	err = send_message(x, now_ns, true);
	if (err)
		fail(x, now_ns, err, "send to");
	else
		recovered(x);
out:
	ipfix__discard(x);
	return err;
}
