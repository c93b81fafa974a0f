import Foundation
import ZoneEngine

/// The JSON values under `ClusterKeys` (docs/cluster.md). Every value carries
/// `"version": 1`; a reader skips a value of another version, and ignores
/// fields it does not know, so newer writers can add optional fields.
public enum ClusterValues {
    public static let version = 1

    /// An instance. The address (so the network and host) is in the key.
    public struct Instance: Codable, Sendable, Equatable {
        public var version: Int
        public var app: String
        public var region: String
        public var id: String
        /// "started" (answered) or "stopped"; absent means started.
        public var state: String?
        /// The instance's process group (e.g. "app", "worker"); absent means "app".
        public var processGroup: String?
        public var metadata: [String: String]?

        enum CodingKeys: String, CodingKey {
            case version, app, region, id, state, metadata
            case processGroup = "process_group"
        }

        public init(app: String, region: String, id: String, state: String? = nil,
                    processGroup: String? = nil, metadata: [String: String]? = nil) {
            self.version = ClusterValues.version
            self.app = app
            self.region = region
            self.id = id
            self.state = state
            self.processGroup = processGroup
            self.metadata = metadata
        }
    }

    /// A customer's WireGuard peer. The address is in the key.
    public struct Peer: Codable, Sendable, Equatable {
        public var version: Int
        public var name: String
        public var publicKey: String?

        enum CodingKeys: String, CodingKey {
            case version, name
            case publicKey = "public_key"
        }

        public init(name: String, publicKey: String?) {
            self.version = ClusterValues.version
            self.name = name
            self.publicKey = publicKey
        }
    }

    /// A live host: what the other hosts' agents need to build the mesh.
    public struct Host: Codable, Sendable, Equatable {
        public var version: Int
        public var region: String?
        /// The host's mesh WireGuard public key (base64), when it runs a mesh device.
        public var publicKey: String?
        /// Where the other hosts reach its mesh device, HOST:PORT or [ADDR]:PORT.
        public var endpoint: String?
        /// True for the host that terminates customers' peers (its mesh peers also
        /// route the peer area, host ffffffff).
        public var peerGateway: Bool?

        enum CodingKeys: String, CodingKey {
            case version, region, endpoint
            case publicKey = "public_key"
            case peerGateway = "peer_gateway"
        }

        public init(region: String?, publicKey: String?, endpoint: String?, peerGateway: Bool?) {
            self.version = ClusterValues.version
            self.region = region
            self.publicKey = publicKey
            self.endpoint = endpoint
            self.peerGateway = peerGateway
        }
    }

    public static func encode(_ value: some Encodable) -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = .sortedKeys
        return [UInt8]((try? e.encode(value)) ?? Data())
    }

    /// The value, or why it is not one of ours.
    public static func decode<T: Decodable & Versioned>(_ type: T.Type, _ bytes: [UInt8]) throws(ClusterError) -> T {
        let v: T
        do {
            v = try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw ClusterError(.other, "not a version-\(version) JSON value: \(Self.reason(error))")
        }
        guard v.version == version else { throw ClusterError(.other, "value version \(v.version), expected \(version)") }
        return v
    }

    private static func reason(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, _): return "no \"\(key.stringValue)\""
        case .typeMismatch(_, let c), .valueNotFound(_, let c): return "bad \"\(c.codingPath.map(\.stringValue).joined(separator: "."))\""
        case .dataCorrupted: return "not JSON"
        default: return "\(error)"
        }
    }
}

public protocol Versioned { var version: Int { get } }
extension ClusterValues.Instance: Versioned {}
extension ClusterValues.Peer: Versioned {}
extension ClusterValues.Host: Versioned {}

extension ClusterValues.Instance {
    public var started: Bool { state != "stopped" }
}
