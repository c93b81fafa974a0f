import Testing
@testable import Cluster

@Suite struct ClusterValuesTests {
    @Test func keysParseBackToWhatTheyName() {
        #expect(ClusterKeys.parse(ClusterKeys.instance("fdaa:0:a:0:1:0:101:2")) == .instance(address: "fdaa:0:a:0:1:0:101:2"))
        #expect(ClusterKeys.parse(ClusterKeys.peer("fdaa:0:a:ffff:ffff::1")) == .peer(address: "fdaa:0:a:ffff:ffff::1"))
        #expect(ClusterKeys.parse(ClusterKeys.host(0x10)) == .host(0x10))
        #expect(ClusterKeys.parse(ClusterKeys.instanceName(network: 0xa, app: "web", id: "x")) == .name)
        #expect(ClusterKeys.parse("/sixpn/hosts/zz") == .unknown)
        #expect(ClusterKeys.parse("/sixpn/other") == .unknown)
    }

    @Test func anInstanceValueRoundTripsAndIgnoresUnknownFields() throws {
        let v = ClusterValues.Instance(app: "web", region: "ams", id: "a1", state: "stopped", processGroup: "worker",
                                       metadata: ["k": "v"])
        #expect(try ClusterValues.decode(ClusterValues.Instance.self, ClusterValues.encode(v)) == v)
        let newer = #"{"version":1,"app":"web","region":"ams","id":"a1","later_field":[1,2]}"#
        let d = try ClusterValues.decode(ClusterValues.Instance.self, Array(newer.utf8))
        #expect(d.started && d.app == "web")
    }

    @Test func garbageAndOtherVersionsAreRefusedWithAReason() {
        #expect(throws: ClusterError.self) { try ClusterValues.decode(ClusterValues.Instance.self, Array("garbage".utf8)) }
        #expect(throws: ClusterError.self) {
            try ClusterValues.decode(ClusterValues.Instance.self, Array(#"{"version":2,"app":"w","region":"r","id":"i"}"#.utf8))
        }
        #expect(throws: ClusterError.self) { try ClusterValues.decode(ClusterValues.Instance.self, Array(#"{"version":1}"#.utf8)) }
    }

    @Test func rangeEndCoversExactlyThePrefix() {
        #expect(EtcdClient.rangeEnd("/sixpn/") == Array("/sixpn0".utf8))
    }

    @Test func endpointsParse() throws {
        let c = try EtcdConfiguration(urls: "http://127.0.0.1:2379,127.0.0.2:2380", caCertificate: nil, certificate: nil, key: nil)
        #expect(c.endpoints.map(\.port) == [2379, 2380] && c.tls == nil)
        #expect(throws: ClusterError.self) { try EtcdConfiguration(urls: "https://127.0.0.1:2379", caCertificate: nil, certificate: nil, key: nil) }
        #expect(throws: ClusterError.self) { try EtcdConfiguration(urls: "127.0.0.1:99999", caCertificate: nil, certificate: nil, key: nil) }
    }
}
