#if canImport(Glibc)
import Glibc
#endif
import DNSWire

/// An IPv4 or IPv6 address and a UDP/TCP port: where sixpn listens and where
/// its upstreams are.
///
/// Text forms: `ADDR:PORT` (IPv4), `[ADDR]:PORT` (IPv6, optionally
/// `[fe80::1%2]:PORT` with a numeric or named scope), or a bare `ADDR` that
/// takes the default port. Printed the same way (RFC 5952 for IPv6).
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address part.
    public enum Host: Hashable, Sendable {
        /// An IPv4 address, as a host-order integer (`127.0.0.1` is `0x7f00_0001`).
        case v4(UInt32)
        /// An IPv6 address and its scope (interface index, 0 when none: RFC 4007).
        case v6(IPv6Address, scopeID: UInt32)
    }

    public var host: Host
    public var port: UInt16

    public init(host: Host, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// An IPv4 address from its four octets.
    public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) -> SocketAddress {
        SocketAddress(host: .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)), port: port)
    }

    /// An IPv6 address without a scope.
    public static func ipv6(_ address: IPv6Address, port: UInt16) -> SocketAddress {
        SocketAddress(host: .v6(address, scopeID: 0), port: port)
    }

    /// Parses `ADDR:PORT`, `[ADDR]:PORT` or `ADDR` (then `defaultPort` is the port).
    public init(_ text: String, defaultPort: UInt16 = 53) throws(SocketAddressError) {
        func bad(_ reason: String) -> SocketAddressError { SocketAddressError(text: text, reason: reason) }
        let hostText: Substring
        var portText: Substring? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad("missing ']'") }
            hostText = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":" else { throw bad("expected ':PORT' after ']'") }
                portText = rest.dropFirst()
            }
        } else if text.filter({ $0 == ":" }).count == 1 {
            let colon = text.firstIndex(of: ":")!
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            hostText = Substring(text)
        }

        let port: UInt16
        if let p = portText {
            guard !p.isEmpty, p.allSatisfy(\.isASCII), let value = UInt16(p), value != 0 else {
                throw bad("port must be 1-65535")
            }
            port = value
        } else {
            port = defaultPort
        }

        if let v4 = IPv4Address(hostText) {
            guard !text.hasPrefix("[") else { throw bad("an IPv4 address goes without brackets") }
            self.init(host: .v4(v4.rawValue), port: port)
            return
        }
        let (addressText, scopeText) = hostText.firstIndex(of: "%").map {
            (hostText[..<$0], Optional(hostText[hostText.index(after: $0)...]))
        } ?? (hostText, nil)
        guard let v6 = IPv6Address(addressText) else { throw bad("not an IPv4 or IPv6 address") }
        guard text.hasPrefix("[") || portText == nil else { throw bad("write an IPv6 address with a port as [ADDR]:PORT") }
        var scope: UInt32 = 0
        if let s = scopeText {
            if let n = UInt32(s) {
                scope = n
            } else {
                scope = if_nametoindex(String(s))
                guard scope != 0 else { throw bad("no interface named '\(s)'") }
            }
        }
        self.init(host: .v6(v6, scopeID: scope), port: port)
    }

    /// `1.2.3.4:53` or `[2001:db8::1]:53` (`[fe80::1%2]:53` with a scope).
    public var description: String {
        switch host {
        case .v4: "\(hostDescription):\(port)"
        case .v6: "[\(hostDescription)]:\(port)"
        }
    }

    /// The address alone: `1.2.3.4`, `2001:db8::1` or `fe80::1%2`.
    public var hostDescription: String {
        switch host {
        case .v4(let a):
            "\(a >> 24).\(a >> 16 & 0xff).\(a >> 8 & 0xff).\(a & 0xff)"
        case .v6(let a, let scope):
            scope == 0 ? a.description : "\(a)%\(scope)"
        }
    }

    /// AF_INET or AF_INET6.
    public var family: Int32 {
        switch host {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    /// True for 0.0.0.0 and `::`: "every local address".
    public var isUnspecified: Bool {
        switch host {
        case .v4(let a): a == 0
        case .v6(let a, _): a.high == 0 && a.low == 0
        }
    }

    /// True for 127.0.0.0/8 and `::1`.
    public var isLoopback: Bool {
        switch host {
        case .v4(let a): a >> 24 == 127
        case .v6(let a, _): a.high == 0 && a.low == 1
        }
    }
}

// MARK: - sockaddr conversions

extension SocketAddress {
    /// Reads an AF_INET or AF_INET6 socket address; nil for any other family.
    public init?(storage: sockaddr_storage) {
        var s = storage
        switch Int32(s.ss_family) {
        case AF_INET:
            let sin = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in.self) }
            self.init(sin)
        case AF_INET6:
            let sin6 = withUnsafeBytes(of: &s) { $0.load(as: sockaddr_in6.self) }
            self.init(sin6)
        default:
            return nil
        }
    }

    public init(_ sin: sockaddr_in) {
        self.init(host: .v4(UInt32(bigEndian: sin.sin_addr.s_addr)), port: UInt16(bigEndian: sin.sin_port))
    }

    public init(_ sin6: sockaddr_in6) {
        var a = sin6.sin6_addr
        let v6 = withUnsafeBytes(of: &a) { IPv6Address(bytes: $0)! }
        self.init(host: .v6(v6, scopeID: sin6.sin6_scope_id), port: UInt16(bigEndian: sin6.sin6_port))
    }

    /// The address as a `sockaddr_storage`, with the length that goes with it.
    public var storage: (sockaddr_storage, socklen_t) {
        var s = sockaddr_storage()
        let length: Int
        switch host {
        case .v4:
            var sin = sockaddrIn!
            length = MemoryLayout<sockaddr_in>.size
            withUnsafeMutableBytes(of: &s) { out in withUnsafeBytes(of: &sin) { out.copyMemory(from: $0) } }
        case .v6:
            var sin6 = sockaddrIn6!
            length = MemoryLayout<sockaddr_in6>.size
            withUnsafeMutableBytes(of: &s) { out in withUnsafeBytes(of: &sin6) { out.copyMemory(from: $0) } }
        }
        return (s, socklen_t(length))
    }

    /// The address as a `sockaddr_in`, when it is IPv4.
    public var sockaddrIn: sockaddr_in? {
        guard case .v4(let a) = host else { return nil }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = a.bigEndian
        return sin
    }

    /// The address as a `sockaddr_in6`, when it is IPv6.
    public var sockaddrIn6: sockaddr_in6? {
        guard case .v6(let a, let scope) = host else { return nil }
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        sin6.sin6_scope_id = scope
        a.withBytes { src in withUnsafeMutableBytes(of: &sin6.sin6_addr) { $0.copyMemory(from: src) } }
        return sin6
    }

    /// Calls `body` with a pointer to the `sockaddr` and its length (for bind, connect, sendto).
    public func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        var (s, length) = storage
        return try withUnsafePointer(to: &s) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }
}

/// A socket address that does not parse: the text and why.
public struct SocketAddressError: Error, Hashable, Sendable, CustomStringConvertible {
    public let text: String
    public let reason: String
    public var description: String { "bad address '\(text)': \(reason)" }
}
