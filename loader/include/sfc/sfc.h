/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * libsfc: chains of XDP network functions.
 *
 * Conventions (libbpf 1.0): int functions return 0 or -errno; pointer
 * functions return NULL and set errno. The library never prints and never
 * exits; it reports through the log callback and struct sfc_diag.
 */
#ifndef SFC_SFC_H
#define SFC_SFC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SFC_NAME_MAX 32			/* chain and function names */
#define SFC_PIN_ROOT "/sys/fs/bpf/sfc"

/* ---- logging ---------------------------------------------------------- */

enum sfc_log_level {
	SFC_LOG_ERROR,
	SFC_LOG_WARN,
	SFC_LOG_INFO,
	SFC_LOG_DEBUG,
};

typedef void (*sfc_log_fn)(enum sfc_log_level level, const char *msg, void *ctx);

/* Install the log callback; messages above max_level are not formatted. */
void sfc_set_log(sfc_log_fn fn, void *ctx, enum sfc_log_level max_level);

/* ---- diagnostics ------------------------------------------------------ */

/*
 * Where and what went wrong in a chain file (or on the host). line and col
 * are 1-based, 0 when unknown; path is the key path, e.g.
 * "spec.functions[1].name".
 */
struct sfc_diag {
	char file[256];
	int line;
	int col;
	char path[160];
	char msg[640];
};

/* "file:line:col: path: msg" with the parts that are known. */
int sfc_diag__format(const struct sfc_diag *d, char *buf, size_t len);

/* ---- chain specification ---------------------------------------------- */

enum sfc_xdp_mode {
	SFC_XDP_MODE_AUTO = 0,
	SFC_XDP_MODE_NATIVE,
	SFC_XDP_MODE_SKB,
};

enum sfc_egress {
	SFC_EGRESS_ACTION_PASS = 0,
	SFC_EGRESS_ACTION_TX,
	SFC_EGRESS_ACTION_REDIRECT,
};

struct sfc_nf_type;

struct sfc_function {
	char name[SFC_NAME_MAX + 1];
	const struct sfc_nf_type *type;
	void *config;			/* owned; parsed by type->parse */
	int line;			/* where the function is defined */
	int col;
};

struct sfc_chain_spec {
	char file[256];			/* where it was read from */
	char name[SFC_NAME_MAX + 1];
	char interface[IF_NAMESIZE];
	enum sfc_xdp_mode xdp_mode;
	struct {
		enum sfc_egress action;
		char interface[IF_NAMESIZE];	/* redirect only */
		bool has_next_hop;
		uint8_t next_hop_mac[6];
	} egress;
	unsigned int n_functions;
	struct sfc_function *functions;	/* n_functions of them, in order */
};

/*
 * Parse and validate a chain file without touching the host. On error,
 * returns NULL, sets errno (EINVAL for a bad file, else the I/O error) and
 * fills *diag when diag is not NULL.
 */
struct sfc_chain_spec *sfc_chain_spec__parse_file(const char *path, struct sfc_diag *diag);
struct sfc_chain_spec *sfc_chain_spec__parse_string(const char *name, const char *text,
						    size_t len, struct sfc_diag *diag);
void sfc_chain_spec__free(struct sfc_chain_spec *spec);

/* Canonical JSON of the spec (malloc'd, NUL-terminated). */
char *sfc_chain_spec__to_json(const struct sfc_chain_spec *spec, bool with_config);

/* True if name is a valid chain or function name ([a-z0-9-], 1..32). */
bool sfc_name_valid(const char *name);

/* ---- running chains --------------------------------------------------- */

struct sfc_apply_opts {
	size_t sz;			/* sizeof(struct sfc_apply_opts) */
	const char *netns;		/* named netns (/run/netns/NAME) or NULL */
	const char *pin_root;		/* default SFC_PIN_ROOT */
	bool dry_run;			/* host checks only, change nothing */
};

enum sfc_apply_result {
	SFC_APPLY_CREATED,		/* no chain of that name ran before */
	SFC_APPLY_UNCHANGED,		/* same spec: nothing done */
	SFC_APPLY_CONFIG,		/* config updated in place (map writes) */
	SFC_APPLY_SWAPPED,		/* new generation swapped in atomically */
	SFC_APPLY_REATTACHED,		/* interface or mode changed: re-attached */
};

const char *sfc_apply_result__str(enum sfc_apply_result r);

/*
 * Load, configure, pin and attach spec, or update the chain of the same name
 * in place. On any error the running chain is left exactly as it was and
 * *diag says what failed (for a verifier rejection, with the log). The one
 * exception: configs are validated when parsed, but should writing one into
 * the function's maps fail (ENOMEM), the functions configured before it keep
 * their new settings.
 */
int sfc_chain__apply(const struct sfc_chain_spec *spec, const struct sfc_apply_opts *opts,
		     enum sfc_apply_result *result, struct sfc_diag *diag);

/* Detach and unpin everything of the chain. -ENOENT if there is none. */
int sfc_chain__delete(const char *name, const char *pin_root, struct sfc_diag *diag);

/* Names of the chains pinned under pin_root, incomplete ones included;
 * malloc'd array of strings. */
int sfc_chain__list(const char *pin_root, char ***names, size_t *n);
void sfc_chain__list_free(char **names, size_t n);

/* ---- status and statistics ------------------------------------------- */

enum sfc_attach_method {
	SFC_ATTACH_NONE = 0,
	SFC_ATTACH_LINK,		/* bpf_link, pinned */
	SFC_ATTACH_LIBXDP,		/* libxdp dispatcher (shares the interface) */
};

const char *sfc_attach_method__str(enum sfc_attach_method m);
const char *sfc_xdp_mode__str(enum sfc_xdp_mode m);
const char *sfc_egress__str(enum sfc_egress a);

struct sfc_stage_stats {
	uint64_t packets, bytes, handed_on, dropped, passed, forwarded, aborted,
		tail_call_miss, invalid;
};

struct sfc_attachment {
	char ifname[IF_NAMESIZE];
	uint32_t ifindex;
	enum sfc_attach_method method;
	enum sfc_xdp_mode mode;		/* native or skb, as attached */
	uint32_t prog_id;		/* the root program */
	bool attached;			/* the kernel still has it on the interface */
	bool iface_gone;		/* no such interface (or netns) any more */
};

struct sfc_stage_status {
	char name[SFC_NAME_MAX + 1];	/* "entry", "egress" or the function's */
	char type[SFC_NAME_MAX + 1];
	uint32_t id;
	uint32_t prog_id;
	struct sfc_stage_stats stats[2];	/* [enum sfc_dir] */
};

struct sfc_chain_status {
	char name[SFC_NAME_MAX + 1];
	char netns[64];
	uint32_t abi_version;
	uint32_t generation;
	uint64_t applied_at_ns;		/* CLOCK_REALTIME */
	enum sfc_egress egress;
	unsigned int n_attach;
	struct sfc_attachment attach[2];	/* [dir] */
	unsigned int n_stages;
	struct sfc_stage_status *stages;	/* entry, functions in order, egress */
	char *spec_json;		/* canonical spec as applied */
	/*
	 * What the pins say, where it can differ from what the chain records:
	 * after an apply or delete that died half-way (kill -9), or an
	 * interface removed under the chain. The next apply repairs the first
	 * kind (docs/design.md, "Crash safety"); delete removes the chain in
	 * every case.
	 */
	uint32_t live_generation[2];	/* [dir] generation the root runs; 0: none,
					 * UINT32_MAX: a program of no pinned generation */
	unsigned int stray_generations;	/* gen<N>/ folders besides the recorded one */
	unsigned int stray_functions;	/* nf/<name>/ folders of functions not in the chain */
	bool interrupted;		/* an apply died before it recorded its result */
	bool deleting;			/* a delete died half-way */
	bool spec_mismatch;		/* the pinned spec is not the recorded one */
	bool netns_gone;		/* the chain's netns no longer exists */
	bool needs_recovery;		/* one of the first six: apply again to repair */
	/* The sfc release that last changed the chain ("0.2.0"); "0.1.0" for
	 * a chain with no <chain>/layout record, which only 0.1.0 leaves. */
	char applied_by[32];
	/* An apply or a delete held the pin root's lock while status read: the
	 * chain may be between two states, and needs_recovery is not judged. */
	bool busy;
};

/*
 * -ENOENT: no such chain; -EPROTO: pinned by another ABI version;
 * -EINPROGRESS: an apply that was creating it, or a delete, died before it
 * recorded anything (apply again, or delete, to clean it up).
 */
int sfc_chain__status(const char *name, const char *pin_root, struct sfc_chain_status **out);
void sfc_chain_status__free(struct sfc_chain_status *st);

/* ---- firewall functions ---------------------------------------------- */

/* Verdict counters of a firewall, in this order (sfc_fw_verdict__str). */
#define SFC_FW_VERDICTS 9

struct sfc_fw_rule_status {
	uint32_t index;			/* 0-based, in the order of the chain file */
	uint32_t line;			/* where the rule is in the chain file */
	bool allow;
	uint64_t pps, burst;		/* rate limit; pps 0 without one */
	uint64_t packets, bytes;	/* matched (a rate-limited drop counts too) */
	char *text;			/* the rule as applied: "action: allow, protocol: tcp, ..." */
};

struct sfc_fw_status {
	char function[SFC_NAME_MAX + 1];
	uint32_t generation;		/* the rule set's generation */
	bool default_allow;
	bool stateful;
	uint32_t n_tuples;		/* classifier shapes the rules compiled into */
	uint32_t n_keys;		/* classifier entries (IPv4 + IPv6) */
	uint32_t n_set_prefixes;	/* set trie entries (IPv4 + IPv6) */
	uint32_t max_connections;
	uint32_t connections;		/* entries in the connection table */
	uint64_t verdict_packets[SFC_FW_VERDICTS];
	uint64_t verdict_bytes[SFC_FW_VERDICTS];
	unsigned int n_rules;
	struct sfc_fw_rule_status *rules;
};

/* "rule_allow", "rule_drop", ..., or NULL past the last. */
const char *sfc_fw_verdict__str(unsigned int verdict);

/*
 * The rule table of firewall `function` of chain `name` as loaded, with its
 * counters. -ENOENT: no such chain or function; -EINVAL: not a firewall.
 */
int sfc_firewall__status(const char *name, const char *function, const char *pin_root,
			 struct sfc_fw_status **out);
void sfc_fw_status__free(struct sfc_fw_status *st);

/* ---- flow monitors ---------------------------------------------------- */

/* sfc_flow_entry.end */
#define SFC_FLOW_ENDED_FIN	0x01
#define SFC_FLOW_ENDED_RST	0x02

/* sfc_flow_entry.verdicts: what the chain finally did with the flow's packets */
#define SFC_FLOW_VERDICT_FORWARDED	0x01	/* sent out (XDP_TX, XDP_REDIRECT) */
#define SFC_FLOW_VERDICT_PASSED		0x02	/* to the kernel's stack (XDP_PASS) */
#define SFC_FLOW_VERDICT_DROPPED	0x04
#define SFC_FLOW_VERDICT_ABORTED	0x08

/* One flow of a flowmon's table, summed over the CPUs. */
struct sfc_flow_entry {
	uint8_t dir;			/* 0 forward (spec.interface), 1 reverse */
	uint8_t family;			/* 4 or 6 */
	uint8_t proto;			/* IPPROTO_* */
	uint8_t tcp_flags;		/* OR of the TCP flags seen (FIN 0x01 .. CWR 0x80) */
	uint8_t end;			/* SFC_FLOW_ENDED_*: a FIN or RST was seen */
	uint16_t vlan;			/* outer VLAN id, 0 untagged */
	uint8_t src[16], dst[16];	/* network order; IPv4 in the first 4 bytes */
	uint16_t sport, dport;		/* host order; ICMP: echo id, type << 8 | code */
	uint64_t packets, bytes;	/* accounted (sampled: 1 in sampling) */
	uint64_t first_ms, last_ms;	/* seen first and last, CLOCK_REALTIME ms */
	uint64_t first_ns, last_ns;	/* the same as the kernel keeps them, CLOCK_MONOTONIC */
	/*
	 * SFC_FLOW_VERDICT_* of the accounted packets, OR over the CPUs; 0:
	 * unknown (recorded only by the chain's first flowmon). dropped_by:
	 * the function that dropped them, "egress", "?" (a function no longer
	 * in the chain), or "" when none was dropped; when several did, the one
	 * seen on the CPU with the flow's latest packet.
	 */
	uint8_t verdicts;
	char dropped_by[SFC_NAME_MAX + 1];
};

struct sfc_flow_table {
	char function[SFC_NAME_MAX + 1];
	uint32_t max_flows;		/* the table's size (maxFlows) */
	uint32_t sampling;		/* 1 in N packets is accounted */
	uint64_t read_at_ms;		/* when it was read, CLOCK_REALTIME ms */
	/* the data path's counters, summed over the CPUs */
	uint64_t packets;		/* reached the monitor */
	uint64_t sampled;		/* of those, accounted */
	uint64_t new_flows;		/* flow entries created */
	uint64_t ends, ends_lost;	/* FIN/RST notices queued for the agent; lost: ring full */
	uint64_t insert_failed;		/* sampled packets of a new flow the table refused */
	/* the agent's counters; all 0 when has_agent is false */
	bool has_agent;			/* the agent's counter map is there */
	uint64_t removed;		/* flow entries the agent deleted */
	uint64_t exported;		/* IPFIX records it sent */
	uint64_t export_errors;
	/* new_flows - removed - present, or 0: the entries the LRU evicted */
	uint64_t evictions;
	size_t n_flows;			/* entries present */
	struct sfc_flow_entry *flows;	/* in no particular order */
};

/*
 * Every flow in the table of flowmon `function` of chain `chain`, with the
 * table's counters. The table keeps changing while it is read: a flow may be
 * missed or counted a packet short. The counters are read first: a flow
 * created meanwhile makes evictions lower, but one the agent removes
 * meanwhile counts as evicted until the next read. -ENOENT: no such chain or
 * function; -EINVAL: not a flowmon.
 */
int sfc_flowmon__flows(const char *chain, const char *function, const char *pin_root,
		       struct sfc_flow_table **out);
void sfc_flow_table__free(struct sfc_flow_table *t);

/* ---- load balancers --------------------------------------------------- */

/* Health as the agent last saw it (sfc_lb_backend_status.health). */
enum sfc_lb_health_state {
	SFC_LB_HEALTH_STATE_UNKNOWN = 0,	/* never checked: counts as up */
	SFC_LB_HEALTH_STATE_UP = 1,
	SFC_LB_HEALTH_STATE_DOWN = 2,
};

/* Data path counters of a load balancer, in this order (sfc_lb_stat__str). */
#define SFC_LB_STATS 13

struct sfc_lb_counters_status {
	uint64_t packets, bytes;		/* client -> backend */
	uint64_t reply_packets, reply_bytes;	/* backend -> client, rewritten back (nat) */
	uint64_t new_flows;			/* flows given a backend by Maglev */
	uint64_t active_connections;		/* live entries of the connection table */
};

struct sfc_lb_backend_status {
	uint8_t family;			/* 4 or 6 */
	uint8_t addr[16];		/* network order; IPv4 in the first 4 bytes */
	uint16_t port;			/* host order */
	uint32_t id;			/* stable id (counters, health) */
	uint32_t weight;
	bool drain;			/* state: drain in this service */
	enum sfc_lb_health_state health;
	uint32_t health_transitions;
	uint64_t health_checks, health_failures;
	uint64_t health_changed_ms;	/* CLOCK_REALTIME ms; 0: never changed */
	uint32_t table_entries;		/* of the service's Maglev table */
	/* the backend's counters (shared by the services that list it) ... */
	struct sfc_lb_counters_status counters;
	/* ... and its live connections of this service */
	uint64_t service_connections;
};

struct sfc_lb_service_status {
	uint8_t family;
	uint8_t vip[16];
	uint16_t port;			/* host order */
	uint8_t proto;			/* IPPROTO_TCP / IPPROTO_UDP */
	bool dsr;			/* mode: dsr (else nat) */
	uint32_t id;
	char health_check[256];		/* "http GET / every 2s, timeout 1s, rise 2, fall 3", or "" */
	uint32_t table_backends;	/* backends with entries in its Maglev table */
	struct sfc_lb_counters_status counters;
	unsigned int n_backends;
	struct sfc_lb_backend_status *backends;
};

struct sfc_lb_status {
	char function[SFC_NAME_MAX + 1];
	uint32_t generation;
	uint32_t table_size;
	uint32_t max_connections;
	uint64_t connections;		/* entries in the connection table (both kinds) */
	uint64_t evictions;		/* entries created - present, when positive */
	uint64_t stats[SFC_LB_STATS];
	unsigned int n_services;
	struct sfc_lb_service_status *services;
};

/* "vip_packets", "replies", ..., or NULL past the last. */
const char *sfc_lb_stat__str(unsigned int stat);

/*
 * The services of load balancer `function` of chain `chain` as loaded, with
 * their backends' weights, states, health and counters. -ENOENT: no such
 * chain or function; -EINVAL: not a loadbalancer.
 */
int sfc_lb__status(const char *chain, const char *function, const char *pin_root,
		   struct sfc_lb_status **out);
void sfc_lb_status__free(struct sfc_lb_status *st);

/* ---- SR-IOV ------------------------------------------------------------ */
/*
 * SR-IOV on the host: physical functions (PFs), their virtual functions
 * (VFs), the VF settings a PF's driver applies (MAC, VLAN, spoof check,
 * trust, rate, link state), and the driver a VF is bound to. Everything is
 * read from and written to sysfs under sysfs_root (NULL or "": "/sys"), so
 * that tests can run on a fake tree.
 *
 * A PF is named by its network interface ("enp3s0f0") or its PCI address
 * ("0000:03:00.0", or "03:00.0" for domain 0); a VF by its index on the PF
 * ("3") or its PCI address. Interface state (up, XDP attached, native XDP)
 * is looked up by name in the caller's network namespace.
 */

#define SFC_PCI_ADDR_LEN	13	/* "0000:03:00.0" and its NUL */
#define SFC_DRIVER_LEN		64
#define SFC_VF_DRIVER_VFIO	"vfio-pci"

struct sfc_sriov_vf {
	unsigned int index;		/* virtfn<index> of the PF */
	char pci[SFC_PCI_ADDR_LEN];
	char pf[SFC_PCI_ADDR_LEN];	/* the PF's PCI address */
	char driver[SFC_DRIVER_LEN];	/* "" when no driver is bound */
	char driver_override[SFC_DRIVER_LEN];	/* "" when not set */
	char netdev[IF_NAMESIZE];	/* "" without a network interface */
	char mac[18];			/* the interface's address, "" without one */
	int iommu_group;		/* -1 without one */
	bool up;			/* the interface is up (IFF_UP) */
	int xdp_attached;		/* 1, 0, or -1: no such interface in this netns */
	int xdp_native;			/* the driver's native XDP: 1, 0, -1 unknown */
	bool in_use;			/* bound to vfio-pci, up, or running XDP */
	char in_use_by[128];		/* why, in words; "" when not in use */
};

struct sfc_sriov_pf {
	char pci[SFC_PCI_ADDR_LEN];
	char driver[SFC_DRIVER_LEN];
	char netdev[IF_NAMESIZE];	/* "" without one */
	int iommu_group;		/* -1 without one */
	unsigned int total_vfs;		/* sriov_totalvfs */
	unsigned int num_vfs;		/* sriov_numvfs */
	int drivers_autoprobe;		/* sriov_drivers_autoprobe; -1 unreadable */
	unsigned int n_vfs;		/* VFs found (virtfnN links) */
	struct sfc_sriov_vf *vfs;	/* n_vfs, by index */
};

/*
 * Every SR-IOV PF under sysfs_root (pf NULL), or PF pf, sorted by PCI
 * address. -ENODEV: no such interface or PCI device; -EINVAL: not an
 * SR-IOV PF. An empty list is not an error.
 */
int sfc_sriov__list(const char *sysfs_root, const char *pf, struct sfc_sriov_pf **pfs, size_t *n,
		    struct sfc_diag *diag);
void sfc_sriov__list_free(struct sfc_sriov_pf *pfs, size_t n);

/*
 * VF vf of PF pf. -ERANGE: no such index; -EINVAL: vf is the PCI address of
 * a device that is not a VF of pf.
 */
int sfc_sriov__vf(const char *sysfs_root, const char *pf, const char *vf, struct sfc_sriov_vf *out,
		  struct sfc_diag *diag);

/*
 * Set the PF's number of VFs (sriov_numvfs). 0 -> N is written as it is;
 * N -> M (both non-zero) goes through 0, as the kernel requires, and is
 * refused with -EBUSY while any VF is in use, as is N -> 0. -ERANGE: more
 * than sriov_totalvfs. *was (may be NULL) gets the number before.
 */
int sfc_sriov__set_numvfs(const char *sysfs_root, const char *pf, unsigned int num_vfs,
			  unsigned int *was, struct sfc_diag *diag);

enum sfc_vf_bind {
	SFC_VF_BIND_VFIO,		/* vfio-pci, for a guest */
	SFC_VF_BIND_HOST,		/* the VF's own driver (no driver_override) */
};

struct sfc_vf_bind_result {
	char before[SFC_DRIVER_LEN];	/* "" when no driver was bound */
	char after[SFC_DRIVER_LEN];
	bool changed;			/* false: it was bound that way already */
};

/*
 * Bind VF vf of PF pf to vfio-pci (driver_override, unbind, drivers_probe)
 * or back to its host driver (clear driver_override, unbind, drivers_probe),
 * and wait up to 2 s for the kernel to bind it. Refused with -EBUSY when the
 * VF's interface is up or runs XDP (to vfio-pci), or when a process holds
 * its vfio device open (back to the host). -ENOENT: vfio-pci is not loaded;
 * -ENODEV: no driver took the VF (driver_override is then cleared again).
 */
int sfc_sriov__bind(const char *sysfs_root, const char *pf, const char *vf, enum sfc_vf_bind to,
		    struct sfc_vf_bind_result *res, struct sfc_diag *diag);

/* sfc_vf_config.set: the settings to change */
#define SFC_VF_SET_MAC		(1u << 0)
#define SFC_VF_SET_VLAN		(1u << 1)	/* vlan, qos, vlan_proto */
#define SFC_VF_SET_SPOOFCHK	(1u << 2)
#define SFC_VF_SET_TRUST	(1u << 3)
#define SFC_VF_SET_RATE		(1u << 4)	/* min_tx_rate and max_tx_rate */
#define SFC_VF_SET_LINK_STATE	(1u << 5)

struct sfc_vf_config {
	unsigned int vf;		/* index on the PF */
	unsigned int set;		/* SFC_VF_SET_* */
	uint8_t mac[6];			/* unicast; all zero lets the driver decide */
	uint16_t vlan;			/* 0..4095; 0: no VLAN */
	uint8_t qos;			/* 0..7 */
	uint16_t vlan_proto;		/* 0 or 0x8100 (802.1Q), 0x88a8 (802.1ad) */
	bool spoofchk;
	bool trust;
	uint32_t min_tx_rate;		/* Mbit/s; 0: no minimum */
	uint32_t max_tx_rate;		/* Mbit/s; 0: no limit */
	uint8_t link_state;		/* 0 auto, 1 enable, 2 disable (IFLA_VF_LINK_STATE_*) */
};

/* Check the values alone (-EINVAL, with *diag naming the bad one). */
int sfc_vf_config__check(const struct sfc_vf_config *cfg, struct sfc_diag *diag);

/*
 * The RTM_SETLINK request that applies cfg to the PF with pf_ifindex, into
 * buf: IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_MAC, IFLA_VF_VLAN (802.1Q)
 * or IFLA_VF_VLAN_LIST { IFLA_VF_VLAN_INFO } (802.1ad), IFLA_VF_SPOOFCHK,
 * IFLA_VF_TRUST, IFLA_VF_RATE, IFLA_VF_LINK_STATE } }, each only when set.
 * Returns the message's length, -ENOSPC or -EINVAL (cfg fails the check).
 */
int sfc_vf_msg__build(void *buf, size_t len, int pf_ifindex, uint32_t seq,
		      const struct sfc_vf_config *cfg);

/*
 * Send one rtnetlink request and read its ACK: 0 or the kernel's -errno,
 * with the kernel's extended ACK message, if any, in diag->msg.
 */
int sfc_vf_msg__send(const void *msg, size_t len, struct sfc_diag *diag);

/*
 * Check cfg against PF pf (an SR-IOV PF with an interface in this netns,
 * cfg->vf below sriov_numvfs), then build and send the request.
 */
int sfc_sriov__set_vf(const char *sysfs_root, const char *pf, const struct sfc_vf_config *cfg,
		      struct sfc_diag *diag);

/* ---- native XDP support of an interface -------------------------------- */

/* sfc_xdp_support.features: NETDEV_XDP_ACT_* of linux/netdev.h */
#define SFC_XDP_ACT_BASIC		(1ull << 0)	/* XDP_PASS/DROP/TX/ABORTED in the driver */
#define SFC_XDP_ACT_REDIRECT		(1ull << 1)
#define SFC_XDP_ACT_NDO_XMIT		(1ull << 2)	/* can be a redirect target */
#define SFC_XDP_ACT_XSK_ZEROCOPY	(1ull << 3)
#define SFC_XDP_ACT_HW_OFFLOAD		(1ull << 4)
#define SFC_XDP_ACT_RX_SG		(1ull << 5)
#define SFC_XDP_ACT_NDO_XMIT_SG		(1ull << 6)

/* The name of feature bit `bit` ("basic", "redirect", ...), NULL past the last. */
const char *sfc_xdp_feature__str(unsigned int bit);

enum sfc_xdp_probe {
	SFC_XDP_PROBE_AUTO = 0,		/* the netdev family, else a trial attach */
	SFC_XDP_PROBE_NETLINK,		/* the netdev family's xdp-features only */
	SFC_XDP_PROBE_ATTACH,		/* a trial attach only */
};

struct sfc_xdp_probe_opts {
	size_t sz;			/* sizeof(struct sfc_xdp_probe_opts) */
	const char *netns;		/* named netns (/run/netns/NAME) or NULL */
	enum sfc_xdp_probe method;
};

struct sfc_xdp_support {
	uint32_t ifindex;
	bool native;			/* the driver runs XDP programs itself */
	enum sfc_xdp_probe method;	/* how it was found: NETLINK or ATTACH */
	bool has_features;		/* features was read (NETLINK) */
	uint64_t features;		/* SFC_XDP_ACT_* */
	int attach_err;			/* ATTACH: the trial's -errno, 0 when it worked */
	char attach_msg[256];		/* ATTACH: the kernel's word on attach_err, or "" */
};

/*
 * Does the driver of ifname support native (driver mode) XDP? NETLINK asks
 * the "netdev" generic netlink family (NETDEV_CMD_DEV_GET, xdp-features;
 * Linux 6.3 and later), needs no privileges and touches nothing. ATTACH
 * loads a program that passes every packet, attaches it in driver mode and
 * detaches it again; it needs CAP_NET_ADMIN and CAP_BPF, and some drivers
 * reset their queues on attach, so the link may drop for a moment. AUTO
 * uses ATTACH only when the family is missing. -ENODEV: no such interface;
 * -EBUSY: ATTACH found an XDP program in skb mode there.
 */
int sfc_xdp__native_support(const char *ifname, const struct sfc_xdp_probe_opts *opts,
			    struct sfc_xdp_support *out, struct sfc_diag *diag);

#ifdef __cplusplus
}
#endif
#endif /* SFC_SFC_H */
