/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The benchmark packets of bench/fw: one line of a .pkts file (written by
 * gen_rules.py) into an Ethernet frame, shared by bench_fw (BPF_PROG_TEST_RUN)
 * and fw_blast (AF_PACKET, through iptables).
 *
 * A .pkts line:
 *	TAG VERDICT RULE FAMILY PROTO SRC DST SPORT DPORT [IPTRULE]
 * TAG names the case (v4-last, v4-none, ...); VERDICT is pass or drop; RULE
 * is the 0-based index of the firewall rule the packet matches first, or "-"
 * for none (the default action); FAMILY is 4 or 6; PROTO tcp or udp.
 * IPTRULE, read by ipt_bench.py only, is the same rule's 1-based number in
 * the ip(6)tables FORWARD chain.
 * Lines starting with "# key value" carry facts about the rule set (rules,
 * v4rules, tuples, shapes, set); other "#" lines are comments.
 */
#ifndef SFC_BENCH_FWPKT_H
#define SFC_BENCH_FWPKT_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>

#define FWPKT_TAG_MAX	24
#define FWPKT_MAX_LEN	128
#define FWPKT_NO_RULE	0xffffffffu

struct fwpkt {
	char tag[FWPKT_TAG_MAX];
	int pass;		/* expected verdict: 1 pass, 0 drop */
	unsigned int rule;	/* expected first rule, FWPKT_NO_RULE: none */
	int family;		/* 4 or 6 */
	int proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	unsigned char src[16], dst[16];
	unsigned short sport, dport;
	unsigned char frame[FWPKT_MAX_LEN];
	unsigned int len;
};

static inline unsigned short fwpkt_csum(const void *p, size_t n, unsigned int sum)
{
	const unsigned char *b = p;

	for (; n > 1; n -= 2, b += 2)
		sum += (b[0] << 8) | b[1];
	if (n)
		sum += b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/*
 * The frame: Ethernet (dst, src MAC), IPv4 or IPv6, a TCP header (ACK, no
 * options) or a UDP header, zero payload, padded to the 60-byte Ethernet
 * minimum. The IPv4 header checksum is right (the kernel's ip_rcv checks
 * it); the L4 checksum too, though nothing on the measured paths checks it.
 */
static inline void fwpkt_build(struct fwpkt *p, const unsigned char *dmac, const unsigned char *smac)
{
	unsigned char *f = p->frame, *l4;
	struct ethhdr *eth = (void *)f;
	unsigned int l3len, l4len = p->proto == IPPROTO_TCP ? sizeof(struct tcphdr) :
							   sizeof(struct udphdr);
	unsigned int sum = 0, i;
	unsigned char pseudo[40];

	memset(f, 0, sizeof(p->frame));
	memcpy(eth->h_dest, dmac, ETH_ALEN);
	memcpy(eth->h_source, smac, ETH_ALEN);
	if (p->family == 4) {
		struct iphdr *ip = (void *)(eth + 1);

		eth->h_proto = htons(ETH_P_IP);
		l3len = sizeof(*ip);
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(l3len + l4len);
		ip->ttl = 64;
		ip->protocol = p->proto;
		memcpy(&ip->saddr, p->src, 4);
		memcpy(&ip->daddr, p->dst, 4);
		ip->check = fwpkt_csum(ip, sizeof(*ip), 0);
		memcpy(pseudo, p->src, 4);
		memcpy(pseudo + 4, p->dst, 4);
		for (i = 0; i < 8; i += 2)
			sum += (pseudo[i] << 8) | pseudo[i + 1];
	} else {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		eth->h_proto = htons(ETH_P_IPV6);
		l3len = sizeof(*ip6);
		ip6->version = 6;
		ip6->payload_len = htons(l4len);
		ip6->nexthdr = p->proto;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, p->src, 16);
		memcpy(&ip6->daddr, p->dst, 16);
		memcpy(pseudo, p->src, 16);
		memcpy(pseudo + 16, p->dst, 16);
		for (i = 0; i < 32; i += 2)
			sum += (pseudo[i] << 8) | pseudo[i + 1];
	}
	sum += p->proto + l4len;
	l4 = f + sizeof(*eth) + l3len;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4;

		th->source = htons(p->sport);
		th->dest = htons(p->dport);
		th->seq = htonl(1);
		th->ack_seq = htonl(1);
		th->doff = 5;
		th->ack = 1;
		th->window = htons(65535);
		th->check = fwpkt_csum(th, l4len, sum);
	} else {
		struct udphdr *uh = (void *)l4;

		uh->source = htons(p->sport);
		uh->dest = htons(p->dport);
		uh->len = htons(l4len);
		uh->check = fwpkt_csum(uh, l4len, sum);
	}
	p->len = sizeof(*eth) + l3len + l4len;
	if (p->len < 60)
		p->len = 60;
}

/* Parses one packet line into p (frame not built). 0, or -EINVAL. */
static inline int fwpkt_parse(const char *line, struct fwpkt *p)
{
	char tag[FWPKT_TAG_MAX], verdict[8], rule[16], proto[8], src[64], dst[64];
	unsigned int sport, dport;
	int family;

	memset(p, 0, sizeof(*p));
	if (sscanf(line, "%23s %7s %15s %d %7s %63s %63s %u %u", tag, verdict, rule, &family, proto,
		   src, dst, &sport, &dport) != 9)
		return -EINVAL;
	if ((family != 4 && family != 6) || sport > 65535 || dport > 65535)
		return -EINVAL;
	snprintf(p->tag, sizeof(p->tag), "%s", tag);
	if (!strcmp(verdict, "pass"))
		p->pass = 1;
	else if (strcmp(verdict, "drop"))
		return -EINVAL;
	p->rule = strcmp(rule, "-") ? (unsigned int)strtoul(rule, NULL, 10) : FWPKT_NO_RULE;
	p->family = family;
	if (!strcmp(proto, "tcp"))
		p->proto = IPPROTO_TCP;
	else if (!strcmp(proto, "udp"))
		p->proto = IPPROTO_UDP;
	else
		return -EINVAL;
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, src, p->src) != 1 ||
	    inet_pton(family == 4 ? AF_INET : AF_INET6, dst, p->dst) != 1)
		return -EINVAL;
	p->sport = sport;
	p->dport = dport;
	return 0;
}

struct fwpkt_file {
	unsigned long rules, v4rules, tuples, shapes, set;	/* from "# key value" lines */
	int n;
	struct fwpkt *p;
};

/* Reads a .pkts file. 0, or -errno (with a message on stderr). */
static inline int fwpkt_read(const char *path, struct fwpkt_file *out)
{
	char line[512], key[32];
	unsigned long val;
	struct fwpkt *p;
	int err = 0, lineno = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "r");
	if (!f) {
		err = -errno;
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return err;
	}
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		if (line[0] == '#') {
			if (sscanf(line, "# %31s %lu", key, &val) != 2)
				continue;
			if (!strcmp(key, "rules"))
				out->rules = val;
			else if (!strcmp(key, "v4rules"))
				out->v4rules = val;
			else if (!strcmp(key, "tuples"))
				out->tuples = val;
			else if (!strcmp(key, "shapes"))
				out->shapes = val;
			else if (!strcmp(key, "set"))
				out->set = val;
			continue;
		}
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		p = realloc(out->p, (out->n + 1) * sizeof(*p));
		if (!p) {
			err = -ENOMEM;
			break;
		}
		out->p = p;
		if (fwpkt_parse(line, &out->p[out->n])) {
			fprintf(stderr, "%s:%d: not a packet line: %s", path, lineno, line);
			err = -EINVAL;
			break;
		}
		out->n++;
	}
	fclose(f);
	if (err) {
		free(out->p);
		out->p = NULL;
		out->n = 0;
	}
	return err;
}

#endif
