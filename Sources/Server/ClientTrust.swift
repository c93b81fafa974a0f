#if canImport(Glibc)
import Glibc
#endif

/// The organization and host a query is answered for: taken from its 6PN
/// source address, which the network (BPF and WireGuard allowed IPs)
/// guarantees an instance cannot forge.
public struct ClientOrigin: Hashable, Sendable {
    /// The organization's network ID (address bits 16-47).
    public let network: UInt32
    /// The host ID (address bits 48-79).
    public let host: UInt32

    @inlinable
    public init(network: UInt32, host: UInt32) {
        self.network = network
        self.host = host
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
            let a = address + 8
            @inline(__always) func be32(_ o: Int) -> UInt32 { UInt32(bigEndian: a.loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
            let first = be32(0)
            if first >> 16 == 0xfdaa {
                return ClientOrigin(network: first << 16 | be32(4) >> 16, host: be32(4) << 16 | be32(8) >> 16)
            }
            guard let dev = developmentNetwork, first == 0, be32(4) == 0 else { return nil }
            let third = be32(8), fourth = be32(12)
            if (third == 0 && fourth == 1) || (third == 0xffff && fourth >> 24 == 127) {
                return ClientOrigin(network: dev, host: 0)
            }
            return nil
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
