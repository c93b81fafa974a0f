import Testing
@testable import NetSetup

@Suite struct UAPITests {
    let key = WireGuardKey(bytes: [UInt8](repeating: 0xab, count: 32))!

    @Test func addPeerRequestReplacesAllowedIPs() throws {
        let lines = UserspaceWireGuardDevice.addPeerRequest(
            publicKey: key, allowedIPs: [try #require(IPv6Prefix("fdaa:0:2a:ffff:ffff::/120"))])
        #expect(lines == ["set=1", "public_key=" + String(repeating: "ab", count: 32), "replace_allowed_ips=true",
                          "allowed_ip=fdaa:0:2a:ffff:ffff::/120"])
    }

    @Test func removePeerRequest() {
        #expect(UserspaceWireGuardDevice.removePeerRequest(publicKey: key)
            == ["set=1", "public_key=" + String(repeating: "ab", count: 32), "remove=true"])
    }

    @Test func replyLinesEndAtErrnoZero() throws {
        let lines = try UAPISocket.parseReply(Array("private_key=00\nlisten_port=51820\nerrno=0\n\n".utf8), device: "wg0")
        #expect(lines.map { "\($0.key)=\($0.value)" } == ["private_key=00", "listen_port=51820"])
    }

    @Test func nonZeroErrnoIsARejection() {
        #expect(throws: WireGuardError.rejected(device: "wg0", errno: 22)) {
            try UAPISocket.parseReply(Array("errno=22\n\n".utf8), device: "wg0")
        }
        #expect(throws: WireGuardError.protocolError(device: "wg0", reason: "reply ended without errno=")) {
            try UAPISocket.parseReply(Array("listen_port=1\n".utf8), device: "wg0")
        }
    }
}
