import Foundation
import Testing
@testable import NetSetup

@Suite struct WireGuardKeyTests {
    @Test func generatedKeysAre32BytesOfBase64() throws {
        let pair = WireGuardKeyPair()
        for key in [pair.privateKey, pair.publicKey] {
            #expect(key.base64.count == 44)
            #expect(key.base64.hasSuffix("="))
            #expect(Data(base64Encoded: key.base64)?.count == 32)
            #expect(WireGuardKey(base64: key.base64) == key)
            #expect(WireGuardKey(hex: key.hex) == key)
        }
        #expect(pair.privateKey != pair.publicKey)
    }

    @Test func privateKeyIsClampedAsWgGenkeyWritesIt() {
        let k = WireGuardKeyPair().privateKey.bytes
        #expect(k[0] & 7 == 0)
        #expect(k[31] & 0x80 == 0)
        #expect(k[31] & 0x40 == 0x40)
    }

    /// RFC 7748 §6.1: Alice's key pair.
    @Test func publicKeyMatchesRFC7748Vector() throws {
        let priv = try #require(WireGuardKey(hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let pair = try #require(WireGuardKeyPair(privateKey: priv))
        #expect(pair.publicKey.hex == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    }

    @Test func malformedKeysAreRejected() {
        #expect(WireGuardKey(base64: "AAAA") == nil)
        #expect(WireGuardKey(base64: String(repeating: "A", count: 43) + "!") == nil)
        #expect(WireGuardKey(hex: String(repeating: "g", count: 64)) == nil)
        #expect(WireGuardKey(bytes: [UInt8](repeating: 0, count: 31)) == nil)
    }
}
