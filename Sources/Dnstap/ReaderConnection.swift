#if canImport(Glibc)
import Glibc
#endif
import Sockets

/// The writer's side of one Frame Streams connection to a dnstap reader:
/// connect, the READY/ACCEPT/START handshake, data, STOP/FINISH. A blocking
/// socket with short timeouts, so that the writer thread notices a stop.
struct ReaderConnection {
    let fd: Int32
    let destination: DnstapDestination

    /// How long the reader gets to answer READY with ACCEPT, and STOP with FINISH.
    static let handshakeMilliseconds = 2000

    /// Connects to the reader and shakes hands; the error says which step failed and where.
    static func open(_ destination: DnstapDestination) throws(DnstapError) -> ReaderConnection {
        let fd: Int32
        do {
            switch destination {
            case .unix(let path):
                fd = try Syscalls.socket(family: AF_UNIX, stream: true, nonBlocking: false)
                do { try Syscalls.connect(fd, unixPath: path) } catch { Syscalls.close(fd); throw error }
            case .tcp(let address):
                fd = try Syscalls.socket(family: address.family, stream: true, nonBlocking: false)
                do { try Syscalls.connect(fd, address) } catch { Syscalls.close(fd); throw error }
            }
        } catch {
            throw DnstapError("cannot connect to the dnstap reader at \(destination): \(error)")
        }
        let c = ReaderConnection(fd: fd, destination: destination)
        do {
            try Syscalls.setReceiveTimeout(fd, milliseconds: handshakeMilliseconds)
            try Syscalls.setSendTimeout(fd, milliseconds: 100)
            guard c.send(FrameStreams.control(.ready), giveUp: { false }) else {
                throw DnstapError("the dnstap reader at \(destination) closed before READY")
            }
            let accept = try c.readControl(expecting: "ACCEPT")
            guard accept.type == FrameStreams.Control.accept.rawValue else {
                throw DnstapError("the dnstap reader at \(destination) answered READY with control frame \(accept.type), not ACCEPT")
            }
            guard accept.contentTypes.isEmpty || accept.contentTypes.contains(FrameStreams.contentType) else {
                throw DnstapError("the dnstap reader at \(destination) does not accept protobuf:dnstap.Dnstap")
            }
            guard c.send(FrameStreams.control(.start), giveUp: { false }) else {
                throw DnstapError("the dnstap reader at \(destination) closed before START")
            }
        } catch let error as DnstapError {
            Syscalls.close(fd)
            throw error
        } catch {
            Syscalls.close(fd)
            throw DnstapError("dnstap reader at \(destination): \(error)")
        }
        return c
    }

    /// Sends all of `bytes`; false when the reader is gone (or `giveUp` says to stop waiting for a slow one).
    func send(_ bytes: [UInt8], giveUp: () -> Bool) -> Bool {
        bytes.withUnsafeBytes { all in
            var at = 0
            while at < all.count {
                let n: Int?
                do { n = try Syscalls.send(fd, UnsafeRawBufferPointer(rebasing: all[at...])) } catch { return false }
                if let n { at += n } else if giveUp() { return false }
            }
            return true
        }
    }

    /// Whether the reader has closed (or sent something, which a reader only does to end): checked while idle.
    func readerLeft(waitingMilliseconds: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard let ready = try? Syscalls.poll(&p, count: 1, milliseconds: waitingMilliseconds) else { return false }
        return ready > 0
    }

    /// Ends the stream as the protocol asks (STOP, then the reader's FINISH, briefly waited for) and closes.
    func finish() {
        if send(FrameStreams.control(.stop, contentType: nil), giveUp: { true }) {
            _ = try? readControl(expecting: "FINISH")
        }
        Syscalls.close(fd)
    }

    func close() { Syscalls.close(fd) }

    private func readControl(expecting what: String) throws(DnstapError) -> FrameStreams.ParsedControl {
        let head = try read(8, what)
        guard FrameStreams.readBigEndian(head, at: 0) == 0 else {
            throw DnstapError("the dnstap reader at \(destination) sent a data frame where \(what) was due")
        }
        let length = Int(FrameStreams.readBigEndian(head, at: 4))
        guard length <= FrameStreams.maximumControlLength,
              let parsed = FrameStreams.parseControl(try read(length, what)) else {
            throw DnstapError("the dnstap reader at \(destination) sent a malformed control frame where \(what) was due")
        }
        return parsed
    }

    private func read(_ count: Int, _ what: String) throws(DnstapError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var at = 0
        while at < count {
            let n: Int?
            do { n = try bytes.withUnsafeMutableBytes { try Syscalls.receive(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[at...])) } } catch {
                throw DnstapError("dnstap reader at \(destination): waiting for \(what): \(error)")
            }
            guard let n else {
                throw DnstapError("the dnstap reader at \(destination) sent no \(what) within \(Self.handshakeMilliseconds) ms")
            }
            guard n > 0 else { throw DnstapError("the dnstap reader at \(destination) closed the connection before \(what)") }
            at += n
        }
        return bytes
    }
}
