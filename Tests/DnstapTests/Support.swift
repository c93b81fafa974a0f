import Glibc

/// A `sockaddr_in6` for `text` and `port`, in a `sockaddr_storage`.
func sockaddrFor(_ text: String, port: UInt16) -> sockaddr_storage {
    var storage = sockaddr_storage()
    withUnsafeMutableBytes(of: &storage) { raw in
        var sin6 = sockaddr_in6()
        sin6.sin6_family = sa_family_t(AF_INET6)
        sin6.sin6_port = port.bigEndian
        _ = inet_pton(AF_INET6, text, &sin6.sin6_addr)
        withUnsafeBytes(of: &sin6) { raw.copyMemory(from: $0) }
    }
    return storage
}
