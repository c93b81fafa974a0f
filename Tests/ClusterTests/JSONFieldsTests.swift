import Foundation
import Testing
@testable import Cluster

/// The agent's value reader (`JSONFields`): what JSONEncoder writes reads back, and
/// what is not a value is refused with the reason the agent logs.
@Suite struct JSONFieldsTests {
    typealias Instance = ClusterValues.Instance

    /// The reason `ClusterValues.decode` gives, without its "not a version-1 JSON value: " prefix.
    func reason<T: ClusterValue>(_ type: T.Type, _ text: String) -> String? {
        reason(type, Array(text.utf8))
    }

    func reason<T: ClusterValue>(_ type: T.Type, _ bytes: [UInt8]) -> String? {
        do {
            _ = try ClusterValues.decode(type, bytes)
            return nil
        } catch {
            return error.message.replacingOccurrences(of: "not a version-1 JSON value: ", with: "")
        }
    }

    static let awkward = ["", "a\"b\\c/d", "line\nbreak\ttab\r\u{8}\u{C}", "\u{0}\u{1}\u{1F}\u{7F}", "é😀𝄞", "\u{2028}\u{FFFF}"]

    @Test func everyValueTypeRoundTripsThroughJSONEncoder() throws {
        for s in Self.awkward {
            let full = Instance(app: "web" + s, region: s, id: s, state: "stopped", processGroup: s, metadata: [s: s, "k": "v"])
            #expect(try ClusterValues.decode(Instance.self, ClusterValues.encode(full)) == full)
            let peer = ClusterValues.Peer(name: s, publicKey: s)
            #expect(try ClusterValues.decode(ClusterValues.Peer.self, ClusterValues.encode(peer)) == peer)
            let host = ClusterValues.Host(region: s, publicKey: s, endpoint: s, peerGateway: false)
            #expect(try ClusterValues.decode(ClusterValues.Host.self, ClusterValues.encode(host)) == host)
        }
        let minimal = Instance(app: "web", region: "ams", id: "1")
        #expect(try ClusterValues.decode(Instance.self, ClusterValues.encode(minimal)) == minimal)
        let empty = Instance(app: "web", region: "ams", id: "1", metadata: [:])
        #expect(try ClusterValues.decode(Instance.self, ClusterValues.encode(empty)) == empty)
        let peer = ClusterValues.Peer(name: "office", publicKey: nil)
        #expect(try ClusterValues.decode(ClusterValues.Peer.self, ClusterValues.encode(peer)) == peer)
        let host = ClusterValues.Host(region: nil, publicKey: nil, endpoint: nil, peerGateway: true)
        #expect(try ClusterValues.decode(ClusterValues.Host.self, ClusterValues.encode(host)) == host)
    }

    @Test func keysInAnyOrderWithSpaceAndEscapesRead() throws {
        let text = " \n{ \"id\" : \"x\\u00e9\\ud83d\\ude00\\n\\/\" ,\t\"\\u0061pp\":\"web\", \"region\":\"ams\",\r\n\"version\" : 1 } \n"
        let v = try ClusterValues.decode(Instance.self, Array(text.utf8))
        #expect(v == Instance(app: "web", region: "ams", id: "xé😀\n/"))
        // A byte order mark, and a version written as JSON lets a number be written.
        for version in ["1", "1.0", "1e0", "10E-1"] {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            #expect(try ClusterValues.decode(Instance.self, bom + Array(#"{"version":\#(version),"app":"a","region":"r","id":"i"}"#.utf8)).app == "a")
        }
    }

    @Test func unknownFieldsOfAnyKindArePassedOverAndNullIsAbsent() throws {
        let text = #"{"later":[1,-0.5e+3,{"a":[true,false,null,"s\"]"]},{}],"version":1,"app":"a","region":"r","id":"i","#
            + #""state":null,"process_group":null,"metadata":null,"x":{}}"#
        #expect(try ClusterValues.decode(Instance.self, Array(text.utf8)) == Instance(app: "a", region: "r", id: "i"))
    }

    @Test func theFirstOfARepeatedKeyWinsAsWithJSONDecoder() throws {
        let text = #"{"version":1,"app":"first","region":"r","id":"i","app":"second","metadata":{"k":"1","k":"2"}}"#
        let v = try ClusterValues.decode(Instance.self, Array(text.utf8))
        #expect(v.app == "first" && v.metadata == ["k": "1"])
        #expect(try JSONDecoder().decode(Instance.self, from: Data(text.utf8)) == v)
    }

    @Test func whatIsNotAValueIsRefusedWithTheReasonTheAgentLogs() {
        let cases: [(String, String)] = [
            ("", "not JSON"), ("garbage", "not JSON"), ("{garbage", "not JSON"), ("this-is-not-json", "not JSON"),
            (#"{"version":1,"app":"a","region":"r","id":"i"} x"#, "not JSON"),
            (#"{"version":1,"app":"a","region":"r","id":"i",}"#, "not JSON"),
            (#"{"version":1,"app":"a","region":"r","id":"i","x":01}"#, "not JSON"),
            (#"{"version":1,"app":"a","region":"r","id":"i","x":"\x"}"#, "not JSON"),
            (#"{"version":1,"app":"\ud800","region":"r","id":"i"}"#, "not JSON"),
            (#"{"version":1,"app":"\udc00x","region":"r","id":"i"}"#, "not JSON"),
            (#"{"version":1,"app":"a","region":"r","id":"i","x":tru}"#, "not JSON"),
            ("{\"version\":1,\"app\":\"a\tb\",\"region\":\"r\",\"id\":\"i\"}", "not JSON"),
            ("[1]", "not a JSON object"), ("\"s\"", "not a JSON object"), ("null", "not a JSON object"),
            ("{}", "no \"version\""), (#"{"version":1}"#, "no \"app\""),
            (#"{"version":1,"region":5}"#, "no \"app\""),
            (#"{"version":1,"app":5,"region":"r","id":"i"}"#, "bad \"app\""),
            (#"{"version":1,"app":null,"region":"r","id":"i"}"#, "bad \"app\""),
            (#"{"version":"1","app":"a","region":"r","id":"i"}"#, "bad \"version\""),
            (#"{"version":1.5,"app":"a","region":"r","id":"i"}"#, "bad \"version\""),
            (#"{"version":99999999999999999999,"app":"a","region":"r","id":"i"}"#, "bad \"version\""),
            (#"{"version":1,"app":"a","region":"r","id":"i","state":true}"#, "bad \"state\""),
            (#"{"version":1,"app":"a","region":"r","id":"i","metadata":[]}"#, "bad \"metadata\""),
            (#"{"version":1,"app":"a","region":"r","id":"i","metadata":{"k":1}}"#, "bad \"metadata.k\""),
            (#"{"version":1,"app":"a","region":"r","id":"i","metadata":{"k":null}}"#, "bad \"metadata.k\""),
            (#"{"version":2,"app":"a","region":"r","id":"i"}"#, "value version 2, expected 1"),
        ]
        for (text, expected) in cases { #expect(reason(Instance.self, text) == expected, "\(text)") }
        #expect(reason(ClusterValues.Host.self, #"{"version":1,"peer_gateway":1}"#) == "bad \"peer_gateway\"")
        #expect(reason(ClusterValues.Peer.self, #"{"version":1,"public_key":"k"}"#) == "no \"name\"")
        let badUTF8 = Array(#"{"version":1,"app":"a"#.utf8) + [0xC3, 0x28] + Array(#"","region":"r","id":"i"}"#.utf8)
        #expect(reason(Instance.self, badUTF8) == "not JSON")
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(reason(Instance.self, #"{"x":\#(deep),"version":1,"app":"a","region":"r","id":"i"}"#) == "not JSON")
    }

    @Test func everyTruncationOfAValueIsRefusedAsJSONDecoderRefusesIt() {
        let whole = ClusterValues.encode(Instance(app: "web", region: "ams", id: "é\n", state: "stopped", processGroup: "worker",
                                                  metadata: ["k": "v"]))
        for n in 0..<whole.count {
            let part = Array(whole[..<n])
            #expect(reason(Instance.self, part) == "not JSON", "\(String(decoding: part, as: UTF8.self))")
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(Instance.self, from: Data(part)) }
        }
    }
}
