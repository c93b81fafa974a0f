#if canImport(Glibc)
import Glibc
#endif

extension Syscalls {
    /// The addresses of `family` (AF_INET or AF_INET6) on this host's
    /// interfaces that are up, with `port`, each once, in getifaddrs(3)'s
    /// order. IPv6 link-local addresses keep their interface as the scope.
    public static func interfaceAddresses(family: Int32, port: UInt16) throws(Errno) -> [SocketAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { throw Errno("getifaddrs") }
        defer { freeifaddrs(list) }
        var found: [SocketAddress] = []
        var next = list
        while let ifa = next {
            next = ifa.pointee.ifa_next
            guard ifa.pointee.ifa_flags & UInt32(IFF_UP) != 0,
                  let sa = ifa.pointee.ifa_addr, Int32(sa.pointee.sa_family) == family else { continue }
            var address: SocketAddress
            if family == AF_INET6 {
                address = SocketAddress(UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in6.self))
            } else {
                address = SocketAddress(UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self))
            }
            address.port = port
            if !found.contains(address) { found.append(address) }
        }
        return found
    }
}
