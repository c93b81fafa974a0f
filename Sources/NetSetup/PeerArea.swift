import DNSWire
import ZoneEngine

/// Where customers' WireGuard peers live inside an organization's /48.
///
/// Host ID 0xffffffff is reserved for peers (no real host gets it), so peer
/// prefixes never meet instance addresses. Below it, the 48 bits of instance
/// ID and free bits hold 2^40 /120s; slot k is
///
///     fdaa:NNNN:NNNN:ffff:ffff:KKKK:KKKK:KK00/120
///
/// and the peer itself takes the /120's first host address, ...:KK01 (the
/// all-zero one is the subnet-router anycast address, RFC 4291 §2.6.1).
public enum PeerArea {
    public static let host: UInt32 = 0xffff_ffff
    /// How many /120s the area holds.
    public static let slotCount: UInt64 = 1 << 40

    /// The /120 of slot `slot` in `network`'s /48.
    public static func prefix(network: UInt32, slot: UInt64) -> IPv6Prefix {
        precondition(slot < slotCount, "peer slot \(slot) is outside the /48")
        let instance = UInt32(truncatingIfNeeded: slot >> 8)
        let low = UInt16(truncatingIfNeeded: slot & 0xff) << 8
        return IPv6Prefix(SixPNAddress(network: network, host: host, instance: instance, low: low).address, length: 120)
    }

    /// The address a peer in slot `slot` gets: its /120's first host address.
    public static func peerAddress(network: UInt32, slot: UInt64) -> SixPNAddress {
        let p = prefix(network: network, slot: slot).address
        return SixPNAddress(IPv6Address(high: p.high, low: p.low | 1))!
    }

    /// The slot an address falls in, or nil when it is outside the peer area.
    public static func slot(of a: SixPNAddress) -> UInt64? {
        guard a.host == host else { return nil }
        return UInt64(a.instance) << 8 | UInt64(a.low >> 8)
    }

    /// The lowest slot of `network` that no address in `used` falls in; nil when
    /// the first `capacity` slots are all taken.
    public static func firstFreeSlot(network: UInt32, used: some Sequence<SixPNAddress>,
                                     capacity: UInt64 = slotCount) -> UInt64? {
        var taken = Set<UInt64>()
        for a in used where a.network == network {
            if let s = slot(of: a) { taken.insert(s) }
        }
        var s: UInt64 = 0
        while s < min(capacity, slotCount) {
            if !taken.contains(s) { return s }
            s += 1
        }
        return nil
    }
}
