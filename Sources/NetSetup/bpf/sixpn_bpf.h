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

#define SIXPN_MAX_PREFIXES 16

/* One prefix of the link, as 64-bit halves in the packet's byte order, with
 * the bits past its length cleared in both the prefix and the mask. */
struct sixpn_prefix {
	__u64 high, low;
	__u64 mask_high, mask_low;
};

/* What the loader tells a program about the device it is attached to. It is
 * the object's only .rodata (the loader writes it whole, in this layout, before
 * load); frozen there, the verifier sees every field as a constant, and each
 * attached device has its own copy, since each attach loads its own object.
 *  - l3_offset: where the IPv6 header starts: 0 on layer-3 devices (tun,
 *    WireGuard), 14 on Ethernet ones (veth).
 *  - prefixes: the addresses the instance behind this link owns (isolate
 *    only; swap gets none). */
const volatile struct sixpn_link {
	__u32 l3_offset;
	__u32 prefix_count;
	struct sixpn_prefix prefixes[SIXPN_MAX_PREFIXES];
} sixpn_link = {};

/* Counter slots; the loader reads them in this order. */
enum sixpn_counter {
	SIXPN_PASSED = 0,	/* left as it was */
	SIXPN_DROPPED = 1,	/* dropped between organizations (isolate) */
	SIXPN_REWRITTEN = 2,	/* addresses swapped (swap) */
	SIXPN_FORGED = 3,	/* dropped: a source the link does not own (isolate) */
	SIXPN_COUNTERS = 4,
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
#define IPV6_HEADER_LEN 40

/* The address pair of an IPv6 packet, in place in the packet (direct packet
 * access: no copy), or NULL for anything else. A header that is not yet in
 * the linear part of the skb is pulled in first. Pointers into the packet are
 * valid until the next helper that may move the data. */
static __always_inline struct addr_pair *packet_addrs(struct __sk_buff *skb)
{
	__u32 l3_offset = sixpn_link.l3_offset;
	void *data, *end;
	__u8 *ip6;

	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return 0;
	data = (void *)(long)skb->data;
	end = (void *)(long)skb->data_end;
	if (data + l3_offset + IPV6_HEADER_LEN > end) {
		if (bpf_skb_pull_data(skb, l3_offset + IPV6_HEADER_LEN) < 0)
			return 0;
		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		if (data + l3_offset + IPV6_HEADER_LEN > end)
			return 0;
	}
	ip6 = data + l3_offset;
	if ((ip6[0] >> 4) != 6)
		return 0;
	return (struct addr_pair *)(ip6 + IPV6_ADDRS_OFFSET);
}

/* fdaa::/16 */
static __always_inline int is_sixpn(const __u8 *a)
{
	return a[0] == 0xfd && a[1] == 0xaa;
}
