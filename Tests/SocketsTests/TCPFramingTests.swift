import Sockets
import Testing

/// Feeds `chunks` to a framing buffer as separate reads and collects the messages.
func frames(_ chunks: [[UInt8]]) -> [[UInt8]] {
    var framing = TCPFraming()
    var messages: [[UInt8]] = []
    for chunk in chunks {
        let space = framing.freeSpace
        chunk.withUnsafeBytes { space.copyMemory(from: $0) }
        framing.didRead(chunk.count)
        while let m = framing.nextMessage() { messages.append(Array(m)) }
        framing.compact()
    }
    return messages
}

@Test func pipelinedMessagesComeOutInOrder() {
    let stream: [UInt8] = [0, 2, 0xaa, 0xbb, 0, 1, 0xcc, 0, 3, 1, 2, 3]
    #expect(frames([stream]) == [[0xaa, 0xbb], [0xcc], [1, 2, 3]])
}

@Test func messagesSplitAnywhereAreReassembled() {
    let stream: [UInt8] = [0, 2, 0xaa, 0xbb, 0, 3, 1, 2, 3]
    for cut in 1..<stream.count {
        #expect(frames([Array(stream[..<cut]), Array(stream[cut...])]) == [[0xaa, 0xbb], [1, 2, 3]], "cut at \(cut)")
    }
    #expect(frames(stream.map { [$0] }) == [[0xaa, 0xbb], [1, 2, 3]])
}

@Test func aMaximumSizeMessageFits() {
    let body = [UInt8](repeating: 7, count: 65535)
    let got = frames([[0xff, 0xff] + body.prefix(40000), Array(body.dropFirst(40000))])
    #expect(got.count == 1 && got.first?.count == 65535)
}

@Test func zeroLengthMessageIsHandedOutEmpty() {
    #expect(frames([[0, 0]]) == [[]])
}

@Test func outputIsWrittenAcrossPartialWrites() {
    var output = TCPOutput()
    ([1, 2, 3] as [UInt8]).withUnsafeBytes { output.append(message: $0) }
    ([9] as [UInt8]).withUnsafeBytes { output.append(message: $0) }
    #expect(output.pending == 8)
    var written: [UInt8] = []
    // A socket that takes 3 octets per call, then is full.
    var budget = 3
    let ok = output.flush { bytes throws(Errno) in
        let n = min(budget, bytes.count)
        written += bytes.prefix(n)
        budget -= n
        return n
    }
    #expect(ok && output.pending == 5 && written == [0, 3, 1])
    _ = output.flush { bytes throws(Errno) in written += bytes; return bytes.count }
    #expect(output.pending == 0 && written == [0, 3, 1, 2, 3, 0, 1, 9])
    ([5] as [UInt8]).withUnsafeBytes { output.append(message: $0) }
    #expect(!output.flush { _ throws(Errno) in throw Errno("send", 32) })  // EPIPE: the connection is done
    #expect(output.pending == 3)
}
