#if canImport(Glibc)
import Glibc
#endif
import ZoneEngine

/// The organization and host a query is answered for: taken from its 6PN
/// source address, which the network (BPF and WireGuard allowed IPs)
/// guarantees an instance cannot forge.
public struct ClientOrigin: Hashable, Sendable {
    /// The organization's network ID (address bits 16-47).
    public let network: UInt32
    /// The host ID (address bits 48-79).
    public let host: UInt32
    /// The instance ID (address bits 80-111): with the two above, the instance's /112.
    public let instance: UInt32

    @inlinable
    public init(network: UInt32, host: UInt32, instance: UInt32 = 0) {
        self.network = network
        self.host = host
        self.instance = instance
    }
}

/// Decides from a source address whether a query is answered, and for whom.
///
/// Only sources in fdaa::/16 are trusted. `developmentNetwork` (`--dev-org`)
/// also maps loopback sources (::1, 127.0.0.0/8 and ::ffff:127.0.0.0/104) to
/// that organization, host 0, for running on a laptop.
public struct ClientTrust: Sendable {
    public let developmentNetwork: UInt32?

    public init(developmentNetwork: UInt32? = nil) {
        self.developmentNetwork = developmentNetwork
    }

    /// The origin of a source `sockaddr` (an `sockaddr_in6` or `sockaddr_in`),
    /// or nil when the source is not trusted. Reads the bytes in place.
    @inlinable
    public func origin(of address: UnsafeRawPointer) -> ClientOrigin? {
        let family = Int32(address.loadUnaligned(as: sa_family_t.self))
        if family == AF_INET6 {
            // sockaddr_in6: family (2), port (2), flowinfo (4), then the 16 address bytes.
            let high = UInt64(bigEndian: address.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let low = UInt64(bigEndian: address.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            if SixPNAddress.isSixPN(high: high) {
                return ClientOrigin(network: SixPNAddress.network(high: high), host: SixPNAddress.host(high: high, low: low),
                                    instance: UInt32(truncatingIfNeeded: low >> 16))
            }
            // ::1, or ::ffff:127.0.0.0/104.
            guard let dev = developmentNetwork, high == 0, low == 1 || low >> 24 == 0xffff_7f else { return nil }
            return ClientOrigin(network: dev, host: 0)
        }
        if family == AF_INET, let dev = developmentNetwork {
            // sockaddr_in: family (2), port (2), then the 4 address bytes.
            if address.load(fromByteOffset: 4, as: UInt8.self) == 127 { return ClientOrigin(network: dev, host: 0) }
        }
        return nil
    }

    /// The origin of an address held in a `sockaddr_storage` (accepted TCP peers, tests).
    public func origin(of storage: sockaddr_storage) -> ClientOrigin? {
        var s = storage
        return withUnsafeBytes(of: &s) { origin(of: $0.baseAddress!) }
    }
}
