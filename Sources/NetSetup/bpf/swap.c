/* swap: on the host-to-host WireGuard device, exchange the network and host
 * chunks of 6PN addresses,
 *
 *     fdaa:NNNN:NNNN:HHHH:HHHH:IIII:IIII:xxxx  <->  fdaa:HHHH:HHHH:NNNN:NNNN:IIII:IIII:xxxx
 *
 * so that WireGuard, which routes by non-overlapping allowed IPs, can give each
 * host peer the single prefix fdaa:HHHH:HHHH::/48 although every organization's
 * /48 spans many hosts. Attached on egress (before WireGuard picks a peer) and
 * on ingress (after it checked the source against the peer's allowed IPs); the
 * swap is its own inverse, so both directions run the same code.
 *
 * No checksum changes: TCP, UDP and ICMPv6 checksums cover the addresses only
 * through the pseudo-header, as a one's-complement sum of 16-bit words. The
 * swap moves whole, 16-bit-aligned words (octets 2-5 and 6-9) within each
 * address, and a sum does not depend on the order of its terms, so every
 * checksum (and any CHECKSUM_PARTIAL seed the stack left) stays valid. */
#include "sixpn_bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void swap_chunks(__u8 *a)
{
	__u32 network, host;

	__builtin_memcpy(&network, a + 2, 4);
	__builtin_memcpy(&host, a + 6, 4);
	__builtin_memcpy(a + 2, &host, 4);
	__builtin_memcpy(a + 6, &network, 4);
}

static __always_inline int swap(struct __sk_buff *skb)
{
	struct addr_pair *p = packet_addrs(skb);
	int changed = 0;

	if (!p) {
		count(SIXPN_PASSED);
		return TC_ACT_OK;
	}
	/* Rewritten in place (tc lets a program write the packet directly; the
	 * verifier unclones a shared skb first). No checksum fix-up: see above. */
	if (is_sixpn(p->saddr)) {
		swap_chunks(p->saddr);
		changed = 1;
	}
	if (is_sixpn(p->daddr)) {
		swap_chunks(p->daddr);
		changed = 1;
	}
	count(changed ? SIXPN_REWRITTEN : SIXPN_PASSED);
	return TC_ACT_OK;
}

SEC("tc")
int swap_ingress(struct __sk_buff *skb)
{
	return swap(skb);
}

SEC("tc")
int swap_egress(struct __sk_buff *skb)
{
	return swap(skb);
}
