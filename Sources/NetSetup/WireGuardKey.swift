import Crypto
import Foundation

/// A 32-byte Curve25519 key as WireGuard uses it: base64 in configuration
/// files and on the command line, lowercase hex on the UAPI socket.
public struct WireGuardKey: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Parses the base64 form (44 characters, one `=`); nil for anything else.
    public init?(base64: some StringProtocol) {
        guard base64.utf8.count == 44, let d = Data(base64Encoded: String(base64)) else { return nil }
        self.init(bytes: [UInt8](d))
    }

    /// Parses the UAPI hex form (64 hex digits).
    public init?(hex: some StringProtocol) {
        let u = Array(hex.utf8)
        guard u.count == 64 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(32)
        for i in stride(from: 0, to: 64, by: 2) {
            guard let b = UInt8(String(decoding: u[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(b)
        }
        self.init(bytes: out)
    }

    public var base64: String { Data(bytes).base64EncodedString() }

    public var hex: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    public var description: String { base64 }
}

/// A Curve25519 private key and its public key.
public struct WireGuardKeyPair: Sendable {
    public let privateKey: WireGuardKey
    public let publicKey: WireGuardKey

    /// A fresh random key pair (swift-crypto, system randomness).
    public init() {
        self.init(Curve25519.KeyAgreement.PrivateKey())
    }

    /// The pair for an existing private key; nil when it is not 32 bytes.
    public init?(privateKey: WireGuardKey) {
        guard let k = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: privateKey.bytes) else { return nil }
        self.init(k)
    }

    private init(_ k: Curve25519.KeyAgreement.PrivateKey) {
        // Clamped as `wg genkey` writes it (RFC 7748 §5), so the file matches wg's
        // conventions; every implementation clamps again on use.
        var raw = [UInt8](k.rawRepresentation)
        raw[0] &= 248
        raw[31] = (raw[31] & 127) | 64
        let clamped = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
        self.privateKey = WireGuardKey(bytes: raw)!
        self.publicKey = WireGuardKey(bytes: [UInt8](clamped.publicKey.rawRepresentation))!
    }
}
