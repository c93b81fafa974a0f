import DNSWire
import Testing
@testable import NetSetup

@Suite struct WireGuardQuickConfigTests {
    @Test func configHasInterfaceAndPeerSections() throws {
        let priv = try #require(WireGuardKey(bytes: [UInt8](repeating: 1, count: 32)))
        let host = try #require(WireGuardKey(bytes: [UInt8](repeating: 2, count: 32)))
        let config = WireGuardQuickConfig(
            address: try #require(IPv6Address("fdaa:0:2a:ffff:ffff::1")), privateKey: priv, dns: "fdaa:0:2a::3",
            hostPublicKey: host, endpoint: "[fd00::1]:51820", allowedIPs: try #require(IPv6Prefix("fdaa:0:2a::/48")),
            comments: ["sixpn peer office of network 0000002a"])
        #expect(config.text == """
            # sixpn peer office of network 0000002a
            [Interface]
            Address = fdaa:0:2a:ffff:ffff::1/120
            PrivateKey = AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=
            DNS = fdaa:0:2a::3

            [Peer]
            PublicKey = AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=
            Endpoint = [fd00::1]:51820
            AllowedIPs = fdaa:0:2a::/48
            PersistentKeepalive = 15

            """)
    }

    @Test func endpointLineIsLeftOutWhenUnknown() throws {
        let k = try #require(WireGuardKey(bytes: [UInt8](repeating: 3, count: 32)))
        let config = WireGuardQuickConfig(
            address: try #require(IPv6Address("fdaa:0:2a:ffff:ffff::1")), privateKey: k, dns: "fdaa:0:2a::3",
            hostPublicKey: k, endpoint: nil, allowedIPs: try #require(IPv6Prefix("fdaa:0:2a::/48")))
        #expect(!config.text.contains("Endpoint"))
        #expect(config.text.hasPrefix("[Interface]\n"))
    }
}
