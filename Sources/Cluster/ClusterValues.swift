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

        enum CodingKeys: String, CodingKey, CaseIterable {
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

        enum CodingKeys: String, CodingKey, CaseIterable {
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

        enum CodingKeys: String, CodingKey, CaseIterable {
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

    /// The value, or why it is not one of ours. Read by `JSONFields`, not JSONDecoder:
    /// a first sync decodes a million values, and JSONDecoder took half the agent's CPU.
    static func decode<T: ClusterValue>(_ type: T.Type, _ bytes: [UInt8]) throws(ClusterError) -> T {
        let v: T
        do {
            v = try bytes.withUnsafeBytes { (b) throws(JSONFailure) -> T in try T(JSONFields(b, T.keys)) }
        } catch {
            throw ClusterError(.other, "not a version-\(version) JSON value: \(error)")
        }
        guard v.version == version else { throw ClusterError(.other, "value version \(v.version), expected \(version)") }
        return v
    }
}

/// A value the agent reads: its keys, and how it is made from its fields. Each
/// reads its fields in its declaration order (the order JSONDecoder read them),
/// so the first missing or mistyped one is the reason.
protocol ClusterValue {
    associatedtype Key: CodingKey & CaseIterable
    static var keys: JSONKeys<Key> { get }
    var version: Int { get }
    init(_ fields: JSONFields<Key>) throws(JSONFailure)
}

extension ClusterValues.Instance: ClusterValue {
    static let keys = JSONKeys(CodingKeys.self)

    init(_ f: JSONFields<CodingKeys>) throws(JSONFailure) {
        version = try f.integer(.version)
        app = try f.string(.app)
        region = try f.string(.region)
        id = try f.string(.id)
        state = try f.stringIfPresent(.state)
        processGroup = try f.stringIfPresent(.processGroup)
        metadata = try f.stringMapIfPresent(.metadata)
    }
}

extension ClusterValues.Peer: ClusterValue {
    static let keys = JSONKeys(CodingKeys.self)

    init(_ f: JSONFields<CodingKeys>) throws(JSONFailure) {
        version = try f.integer(.version)
        name = try f.string(.name)
        publicKey = try f.stringIfPresent(.publicKey)
    }
}

extension ClusterValues.Host: ClusterValue {
    static let keys = JSONKeys(CodingKeys.self)

    init(_ f: JSONFields<CodingKeys>) throws(JSONFailure) {
        version = try f.integer(.version)
        region = try f.stringIfPresent(.region)
        publicKey = try f.stringIfPresent(.publicKey)
        endpoint = try f.stringIfPresent(.endpoint)
        peerGateway = try f.boolIfPresent(.peerGateway)
    }
}

extension ClusterValues.Instance {
    public var started: Bool { state != "stopped" }
}
