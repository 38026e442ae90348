// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus text exposition format (version 0.0.4) and the HTTP/1.1
 * server that hands it out.
 *
 * The server is non-blocking and runs in the agent's loop: a request is read
 * whole (at most REQ_MAX bytes), the page is built at once from fresh map
 * reads and written out as the socket allows, then the connection is closed
 * (Connection: close; Prometheus reconnects for each scrape). At most
 * MAX_CONNS connections are open; one that is still open after CONN_TIMEOUT_NS
 * (a slow or stuck client) is closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "agent.h"
#include "metrics.h"

#define REQ_MAX		8192
#define MAX_CONNS	32
#define CONN_TIMEOUT_NS	(10 * 1000000000ull)

/* ---- the page ---------------------------------------------------------- */

struct family {
	char *name;
	char *help;
	enum metric_type type;
	char *buf;		/* sample lines */
	size_t len, cap;
};

struct metrics {
	struct family *fam;
	unsigned int n_fam;
	bool oom;
};

struct metrics *metrics__new(void)
{
	return calloc(1, sizeof(struct metrics));
}

void metrics__free(struct metrics *m)
{
	unsigned int i;

	if (!m)
		return;
	for (i = 0; i < m->n_fam; i++) {
		free(m->fam[i].name);
		free(m->fam[i].help);
		free(m->fam[i].buf);
	}
	free(m->fam);
	free(m);
}

static struct family *family(struct metrics *m, const char *name, enum metric_type type,
			     const char *help)
{
	struct family *f;
	unsigned int i;

	for (i = 0; i < m->n_fam; i++)
		if (!strcmp(m->fam[i].name, name))
			return &m->fam[i];
	f = realloc(m->fam, (m->n_fam + 1) * sizeof(*f));
	if (!f)
		return NULL;
	m->fam = f;
	f = &m->fam[m->n_fam];
	memset(f, 0, sizeof(*f));
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->type = type;
	if (!f->name || !f->help) {
		free(f->name);
		free(f->help);
		return NULL;
	}
	m->n_fam++;
	return f;
}

static void put(struct metrics *m, struct family *f, const char *s, size_t n)
{
	size_t cap = f->cap ? f->cap : 256;
	char *nb;

	if (m->oom)
		return;
	while (f->len + n + 1 > cap)
		cap *= 2;
	if (cap != f->cap) {
		nb = realloc(f->buf, cap);
		if (!nb) {
			m->oom = true;
			return;
		}
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, s, n);
	f->len += n;
	f->buf[f->len] = '\0';
}

static void puts_(struct metrics *m, struct family *f, const char *s)
{
	put(m, f, s, strlen(s));
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label_value(struct metrics *m, struct family *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			puts_(m, f, "\\\\");
		else if (*v == '"')
			puts_(m, f, "\\\"");
		else if (*v == '\n')
			puts_(m, f, "\\n");
		else
			put(m, f, v, 1);
	}
}

static struct family *sample_begin(struct metrics *m, const char *name, enum metric_type type,
				   const char *help, const char *const *labels)
{
	struct family *f;
	unsigned int i;

	if (m->oom)
		return NULL;
	f = family(m, name, type, help);
	if (!f) {
		m->oom = true;
		return NULL;
	}
	puts_(m, f, name);
	if (labels && labels[0]) {
		puts_(m, f, "{");
		for (i = 0; labels[i] && labels[i + 1]; i += 2) {
			if (i)
				puts_(m, f, ",");
			puts_(m, f, labels[i]);
			puts_(m, f, "=\"");
			put_label_value(m, f, labels[i + 1]);
			puts_(m, f, "\"");
		}
		puts_(m, f, "}");
	}
	return f;
}

void metrics__u64(struct metrics *m, const char *name, enum metric_type type, const char *help,
		  const char *const *labels, uint64_t v)
{
	struct family *f = sample_begin(m, name, type, help, labels);
	char num[32];

	if (!f)
		return;
	snprintf(num, sizeof(num), " %llu\n", (unsigned long long)v);
	puts_(m, f, num);
}

void metrics__f64(struct metrics *m, const char *name, enum metric_type type, const char *help,
		  const char *const *labels, double v)
{
	struct family *f = sample_begin(m, name, type, help, labels);
	char num[48];

	if (!f)
		return;
	snprintf(num, sizeof(num), " %.17g\n", v);
	puts_(m, f, num);
}

/* HELP text: backslash and newline escaped. */
static void help_text(struct metrics *m, struct family *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			puts_(m, out, "\\\\");
		else if (*s == '\n')
			puts_(m, out, "\\n");
		else
			put(m, out, s, 1);
	}
}

char *metrics__render(struct metrics *m, size_t *len)
{
	struct family page = {};
	unsigned int i;
	char *s;

	for (i = 0; i < m->n_fam && !m->oom; i++) {
		struct family *f = &m->fam[i];

		puts_(m, &page, "# HELP ");
		puts_(m, &page, f->name);
		puts_(m, &page, " ");
		help_text(m, &page, f->help);
		puts_(m, &page, "\n# TYPE ");
		puts_(m, &page, f->name);
		puts_(m, &page, f->type == METRIC_COUNTER ? " counter\n" : " gauge\n");
		if (f->len)
			put(m, &page, f->buf, f->len);
	}
	if (m->oom) {
		free(page.buf);
		return NULL;
	}
	if (!page.buf)
		page.buf = strdup("");
	s = page.buf;
	*len = page.len;
	return s;
}

/* ---- the server -------------------------------------------------------- */

struct conn {
	int fd;
	uint64_t opened_ns;
	char req[REQ_MAX];
	size_t req_len;
	char *out;
	size_t out_len, out_off;
	struct metrics_server *srv;
	struct conn *next;
};

struct metrics_server {
	struct agent *a;
	char listen[128];
	int fd;
	metrics_page_fn page;
	void *ctx;
	struct conn *conns;
	unsigned int n_conns;
	uint64_t requests;
};

const char *metrics_server__listen(const struct metrics_server *s)
{
	return s->listen;
}

uint64_t metrics_server__requests(const struct metrics_server *s)
{
	return s->requests;
}

static void conn_close(struct conn *c)
{
	struct metrics_server *s = c->srv;
	struct conn **pp = &s->conns;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	agent_unwatch(s->a, c->fd);
	close(c->fd);
	free(c->out);
	free(c);
	s->n_conns--;
}

static void respond(struct conn *c, int code, const char *reason, const char *type,
		    const char *body, size_t body_len, bool head)
{
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "Connection: close\r\n\r\n", code, reason, type, body_len);
	c->out = malloc(n + (head ? 0 : body_len));
	if (!c->out) {
		c->out_len = 0;
		return;
	}
	memcpy(c->out, hdr, n);
	if (!head && body_len)
		memcpy(c->out + n, body, body_len);
	c->out_len = n + (head ? 0 : body_len);
	c->out_off = 0;
}

static void respond_text(struct conn *c, int code, const char *reason, const char *msg)
{
	respond(c, code, reason, "text/plain; charset=utf-8", msg, strlen(msg), false);
}

/* The request line of a complete request: the response into c->out. */
static void handle(struct conn *c)
{
	struct metrics_server *s = c->srv;
	char method[16], target[256], version[16];
	struct metrics *m;
	bool head;
	size_t len;
	char *body;

	c->req[c->req_len] = '\0';
	if (sscanf(c->req, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		respond_text(c, 400, "Bad Request", "bad request\n");
		return;
	}
	head = !strcmp(method, "HEAD");
	if (strcmp(method, "GET") && !head) {
		respond_text(c, 405, "Method Not Allowed", "only GET and HEAD\n");
		return;
	}
	/* the path, without a query (Prometheus may add ?name[]=...) */
	target[strcspn(target, "?")] = '\0';
	if (!strcmp(target, "/")) {
		respond_text(c, 200, "OK", "sfc agent: the metrics are at /metrics\n");
		return;
	}
	if (strcmp(target, "/metrics")) {
		respond_text(c, 404, "Not Found", "not found: the metrics are at /metrics\n");
		return;
	}
	s->requests++;
	m = metrics__new();
	if (!m || s->page(s->ctx, m) || !(body = metrics__render(m, &len))) {
		metrics__free(m);
		respond_text(c, 500, "Internal Server Error", "cannot build the page\n");
		return;
	}
	metrics__free(m);
	respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body, len, head);
	free(body);
}

static void on_conn(struct agent *a, void *ctx, uint32_t events)
{
	struct conn *c = ctx;
	ssize_t n;

	if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN)) {
		conn_close(c);
		return;
	}
	if (!c->out) {
		n = read(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->req_len += n;
		c->req[c->req_len] = '\0';
		if (!strstr(c->req, "\r\n\r\n") && !strstr(c->req, "\n\n")) {
			if (c->req_len < sizeof(c->req) - 1)
				return;
			respond_text(c, 431, "Request Header Fields Too Large", "too large\n");
		} else {
			handle(c);
		}
		if (!c->out) {
			conn_close(c);
			return;
		}
		agent_watch_mod(a, c->fd, EPOLLOUT);
	}
	while (c->out_off < c->out_len) {
		n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		c->out_off += n;
	}
	shutdown(c->fd, SHUT_WR);
	conn_close(c);
}

static void on_accept(struct agent *a, void *ctx, uint32_t events)
{
	struct metrics_server *s = ctx;
	struct conn *c;
	int fd;

	while ((fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (s->n_conns >= MAX_CONNS) {
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->srv = s;
		c->opened_ns = agent_now_ns();
		if (agent_watch(a, fd, EPOLLIN, on_conn, c)) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		s->conns = c;
		s->n_conns++;
	}
}

struct metrics_server *metrics_server__new(struct agent *a, const char *listen_addr,
					   metrics_page_fn fn, void *ctx)
{
	struct metrics_server *s;
	struct sockaddr_storage ss;
	socklen_t len;
	int err, one = 1;

	err = agent_parse_addr(listen_addr, true, SOCK_STREAM, &ss, &len);
	if (err) {
		errno = -err;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->a = a;
	snprintf(s->listen, sizeof(s->listen), "%s", listen_addr);
	s->page = fn;
	s->ctx = ctx;
	s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		goto fail;
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::]:PORT means IPv6 only: bound exactly where configured */
	if (ss.ss_family == AF_INET6)
		setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&ss, len) || listen(s->fd, 16))
		goto fail;
	err = agent_watch(a, s->fd, EPOLLIN, on_accept, s);
	if (err) {
		errno = -err;
		goto fail;
	}
	return s;
fail:
	err = errno;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	errno = err;
	return NULL;
}

void metrics_server__tick(struct metrics_server *s, uint64_t now_ns)
{
	struct conn *c, *next;

	for (c = s->conns; c; c = next) {
		next = c->next;
		if (now_ns - c->opened_ns > CONN_TIMEOUT_NS)
			conn_close(c);
	}
}

void metrics_server__free(struct metrics_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	agent_unwatch(s->a, s->fd);
	close(s->fd);
	free(s);
}
