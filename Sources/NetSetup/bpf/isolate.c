/* isolate: on an instance-facing device, keep organizations apart. An IPv6
 * packet whose source and destination are both 6PN addresses in different
 * /48s (different network IDs) is dropped, except DNS traffic with fdaa::3:
 * from the instance (ingress) it may go to fdaa::3, towards the instance
 * (egress) it may come from fdaa::3. Keeping the exception one-way per
 * direction means an instance cannot reach another organization by spoofing
 * fdaa::3 as its source. */
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

static __always_inline int isolate(struct __sk_buff *skb, int from_instance)
{
	struct addr_pair *p = packet_addrs(skb);

	if (!p || !is_sixpn(p->saddr) || !is_sixpn(p->daddr) ||
	    same_network(p->saddr, p->daddr) ||
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
	return isolate(skb, 1);
}

/* Packets sent to the instance (they leave the host here). */
SEC("tc")
int isolate_egress(struct __sk_buff *skb)
{
	return isolate(skb, 0);
}
