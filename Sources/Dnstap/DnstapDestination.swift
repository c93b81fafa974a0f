import Sockets

/// Where `--dnstap` sends its frames: a reader's Unix socket (`unix:PATH`) or
/// TCP address (`tcp:ADDR:PORT`, `tcp:[ADDR]:PORT`), as Knot's, Unbound's and
/// fstrm_capture's readers listen.
public enum DnstapDestination: Hashable, Sendable, CustomStringConvertible {
    case unix(path: String)
    case tcp(SocketAddress)

    /// Reads `unix:PATH` or `tcp:ADDR:PORT`; the error says what is wrong with `text`.
    public init(_ text: String) throws(DnstapError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else { throw DnstapError("--dnstap '\(text)': no socket path after 'unix:'") }
            guard path.utf8.count < 108 else { throw DnstapError("--dnstap '\(text)': a socket path has 107 octets at most") }
            self = .unix(path: path)
        } else if text.hasPrefix("tcp:") {
            let rest = String(text.dropFirst(4))
            let address: SocketAddress
            do { address = try SocketAddress(rest, defaultPort: 0) } catch {
                throw DnstapError("--dnstap '\(text)': \(error)")
            }
            guard address.port != 0 else { throw DnstapError("--dnstap '\(text)': 'tcp:' needs ADDR:PORT or [ADDR]:PORT") }
            self = .tcp(address)
        } else {
            throw DnstapError("--dnstap '\(text)': expected unix:PATH or tcp:ADDR:PORT")
        }
    }

    public var description: String {
        switch self {
        case .unix(let path): "unix:\(path)"
        case .tcp(let address): "tcp:\(address)"
        }
    }
}

/// What went wrong with dnstap, in one line: the flag's value, or the reader and the step.
public struct DnstapError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
