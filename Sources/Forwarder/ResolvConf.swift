#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// The nameservers of a resolv.conf file: sixpn's upstreams when none are configured.
public enum ResolvConf {
    /// The `nameserver` lines of the file at `path`, in order, each on port 53.
    ///
    /// Follows resolv.conf(5): `#` and `;` start comments, the keyword is
    /// the first word of a line, the address the second; lines whose address
    /// does not parse are skipped (glibc does the same).
    public static func nameservers(path: String = "/etc/resolv.conf") throws(ResolvConfError) -> [SocketAddress] {
        guard let file = fopen(path, "r") else {
            throw ResolvConfError(path: path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(file) }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
            if n == 0 { break }
            text += chunk[0..<n]
        }
        return nameservers(text: String(decoding: text, as: UTF8.self))
    }

    /// The `nameserver` addresses in resolv.conf text.
    public static func nameservers(text: String) -> [SocketAddress] {
        var result: [SocketAddress] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let content = line.prefix { $0 != "#" && $0 != ";" }
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { continue }
            // A bare address: brackets and ports are not resolv.conf syntax.
            guard !words[1].hasPrefix("["), let address = try? SocketAddress(String(words[1]), defaultPort: 53),
                  !(address.family == AF_INET && words[1].contains(":")) else { continue }
            result.append(address)
        }
        return result
    }

    /// The upstreams to use when none are configured: the nameservers of
    /// `path`, minus any that would send queries back to sixpn itself.
    ///
    /// A nameserver is sixpn's own when it equals a listen address, or when
    /// sixpn listens on the unspecified address (`::`, `0.0.0.0`) of the same
    /// port and the nameserver is a loopback address or one of this host's
    /// addresses (which the wildcard stands for).
    public static func upstreams(path: String = "/etc/resolv.conf",
                                 excluding listen: [SocketAddress]) throws(ResolvConfError) -> [SocketAddress] {
        var hostAddresses: [Int32: [SocketAddress]] = [:]
        for l in listen where l.isUnspecified && hostAddresses[l.family] == nil {
            hostAddresses[l.family] = (try? Syscalls.interfaceAddresses(family: l.family, port: 0)) ?? []
        }
        return try nameservers(path: path).filter { ns in
            var bare = ns
            bare.port = 0
            return !listen.contains { l in
                l == ns || (l.isUnspecified && l.port == ns.port
                            && (ns.isLoopback || hostAddresses[l.family]?.contains(bare) == true))
            }
        }
    }
}

/// A resolv.conf file that cannot be read.
public struct ResolvConfError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot read \(path): \(reason)" }
}
