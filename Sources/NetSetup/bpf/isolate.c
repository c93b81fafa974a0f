/* isolate: on the host side of an instance's link, keep organizations apart.
 *
 * From the instance (ingress), the source must be one of the link's own
 * prefixes (the instance's /112, handed in by the loader): an instance
 * controls its own kernel and may put any address on its interface, so
 * without this check it could speak as another instance or another
 * organization. Link-local sources (neighbour discovery) and the unspecified
 * source of duplicate address detection, sent to multicast, never leave the
 * link and pass. A packet that claims to be IPv6 but has no readable header
 * is dropped. Anything that is not IPv6 (IPv4, ARP) is outside the 6PN and
 * passes: no IPv4 packet can carry a 6PN address (docs/architecture.md).
 *
 * Both directions: a packet whose source and destination are 6PN addresses in
 * different /48s (different network IDs) is dropped, except DNS traffic with
 * fdaa::3: from the instance it may go to fdaa::3, towards the instance it
 * may come from fdaa::3. Keeping the exception one-way per direction means an
 * instance cannot reach another organization by spoofing fdaa::3 as its
 * source (the prefix check stops that too). */
#include "sixpn_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* fdaa::3, the DNS server every instance may reach. */
static __always_inline int is_dns_server(const __u8 *a)
{
	__u64 high, low;

	__builtin_memcpy(&high, a, 8);
	__builtin_memcpy(&low, a + 8, 8);
	return high == bpf_cpu_to_be64(0xfdaa000000000000ULL) &&
	       low == bpf_cpu_to_be64(3);
}

static __always_inline int same_network(const __u8 *a, const __u8 *b)
{
	__u32 na, nb;

	__builtin_memcpy(&na, a + 2, 4);
	__builtin_memcpy(&nb, b + 2, 4);
	return na == nb;
}

/* fe80::/10 as the source, or :: (duplicate address detection) towards
 * ff00::/8: addresses the kernel never routes off the link. */
static __always_inline int link_scoped(const struct addr_pair *p)
{
	__u64 high, low;

	if (p->saddr[0] == 0xfe && (p->saddr[1] & 0xc0) == 0x80)
		return 1;
	__builtin_memcpy(&high, p->saddr, 8);
	__builtin_memcpy(&low, p->saddr + 8, 8);
	return high == 0 && low == 0 && p->daddr[0] == 0xff;
}

/* Whether `a` lies inside one of the link's prefixes. */
static __always_inline int owned_by_link(const __u8 *a)
{
	__u64 high, low;
	__u32 i;

	__builtin_memcpy(&high, a, 8);
	__builtin_memcpy(&low, a + 8, 8);
	for (i = 0; i < SIXPN_MAX_PREFIXES; i++) {
		if (i >= sixpn_link.prefix_count)
			break;
		if ((high & sixpn_link.prefixes[i].mask_high) == sixpn_link.prefixes[i].high &&
		    (low & sixpn_link.prefixes[i].mask_low) == sixpn_link.prefixes[i].low)
			return 1;
	}
	return 0;
}

/* The rule both directions share: no 6PN packet between organizations,
 * except to (from the instance) or from (towards it) fdaa::3. */
static __always_inline int between_organizations(const struct addr_pair *p, int from_instance)
{
	if (!is_sixpn(p->saddr) || !is_sixpn(p->daddr) || same_network(p->saddr, p->daddr) ||
	    (from_instance ? is_dns_server(p->daddr) : is_dns_server(p->saddr))) {
		count(SIXPN_PASSED);
		return TC_ACT_OK;
	}
	count(SIXPN_DROPPED);
	return TC_ACT_SHOT;
}

/* Packets the instance sends (they enter the host here). */
SEC("tc")
int isolate_ingress(struct __sk_buff *skb)
{
	struct addr_pair *p = packet_addrs(skb);

	if (!p) {
		if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
			count(SIXPN_DROPPED);
			return TC_ACT_SHOT;
		}
		count(SIXPN_PASSED);
		return TC_ACT_OK;
	}
	if (!owned_by_link(p->saddr) && !link_scoped(p)) {
		count(SIXPN_FORGED);
		return TC_ACT_SHOT;
	}
	return between_organizations(p, 1);
}

/* Packets sent to the instance (they leave the host here). */
SEC("tc")
int isolate_egress(struct __sk_buff *skb)
{
	struct addr_pair *p = packet_addrs(skb);

	if (!p) {
		count(SIXPN_PASSED);
		return TC_ACT_OK;
	}
	return between_organizations(p, 0);
}
