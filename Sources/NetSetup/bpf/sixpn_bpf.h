/* Shared by the sixpn tc programs: packet access and the counter map.
 *
 * Every program is attached twice on a device, as `<name>_ingress` and `<name>_egress`
 * (both SEC("tc"), so the loader finds them by name), and counts what it did
 * in one per-CPU array, read by `sixpn net stats` through the attached
 * program's map ids. */
#pragma once

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Where the IPv6 header starts: 0 on layer-3 devices (tun, WireGuard),
 * 14 on Ethernet ones (veth). Set by the loader from the device's link type;
 * frozen in .rodata, so the verifier sees a constant. */
const volatile __u32 l3_offset = 0;

/* Counter slots; the loader reads them in this order. */
enum sixpn_counter {
	SIXPN_PASSED = 0,	/* left as it was */
	SIXPN_DROPPED = 1,	/* dropped (isolate) */
	SIXPN_REWRITTEN = 2,	/* addresses swapped (swap) */
	SIXPN_COUNTERS = 3,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SIXPN_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *value = bpf_map_lookup_elem(&stats, &slot);

	if (value)
		*value += 1;	/* per-CPU slot: no atomics needed */
}

/* The source and destination addresses, as they sit in the IPv6 header
 * (offset 8 from its start, 32 octets). */
struct addr_pair {
	__u8 saddr[16];
	__u8 daddr[16];
};

#define IPV6_ADDRS_OFFSET 8

/* Reads the address pair of an IPv6 packet; -1 for anything else. */
static __always_inline int load_addrs(struct __sk_buff *skb, struct addr_pair *p)
{
	__u8 version;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return -1;
	if (bpf_skb_load_bytes(skb, l3_offset, &version, 1) < 0 || (version >> 4) != 6)
		return -1;
	if (bpf_skb_load_bytes(skb, l3_offset + IPV6_ADDRS_OFFSET, p, sizeof(*p)) < 0)
		return -1;
	return 0;
}

/* fdaa::/16 */
static __always_inline int is_sixpn(const __u8 *a)
{
	return a[0] == 0xfd && a[1] == 0xaa;
}
