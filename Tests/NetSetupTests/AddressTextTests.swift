import Testing
import ZoneEngine
@testable import NetSetup

@Suite struct AddressTextTests {
    @Test func idsAreHexWithOrWithoutPrefix() {
        #expect(SixPNAddressText.parseID("2a") == 0x2a)
        #expect(SixPNAddressText.parseID("0x2A") == 0x2a)
        #expect(SixPNAddressText.parseID("ffffffff") == 0xffff_ffff)
        #expect(SixPNAddressText.parseID("0") == 0)
    }

    @Test func idsThatDoNotFitOrAreNotHexAreRejected() {
        #expect(SixPNAddressText.parseID("100000000") == nil)
        #expect(SixPNAddressText.parseID("0x") == nil)
        #expect(SixPNAddressText.parseID("") == nil)
        #expect(SixPNAddressText.parseID("-1") == nil)
        #expect(SixPNAddressText.parseID("12g") == nil)
        #expect(SixPNAddressText.parseID("+1") == nil)
    }

    @Test func encodedAddressDecodesToItsParts() {
        let a = SixPNAddress(network: 0x2a, host: 0xdead_beef, instance: 0x1234_5678)
        #expect(a.description == "fdaa:0:2a:dead:beef:1234:5678:0")
        let fields = Dictionary(uniqueKeysWithValues: SixPNAddressText.describe(a).map { ($0.key, $0.value) })
        #expect(fields["network"] == "0000002a")
        #expect(fields["host"] == "deadbeef")
        #expect(fields["instance"] == "12345678")
        #expect(fields["network_prefix"] == "fdaa:0:2a::/48")
        #expect(fields["instance_prefix"] == "fdaa:0:2a:dead:beef:1234:5678:0/112")
    }

    @Test func prefixMasksAndContains() {
        let p = IPv6Prefix("fdaa:0:2a:ffff:ffff:0:1:1ff/120")!
        #expect(p.description == "fdaa:0:2a:ffff:ffff:0:1:100/120")
        #expect(p.contains(SixPNAddress("fdaa:0:2a:ffff:ffff:0:1:1ab")!.address))
        #expect(!p.contains(SixPNAddress("fdaa:0:2a:ffff:ffff:0:1:200")!.address))
        #expect(IPv6Prefix("fdaa::/129") == nil)
        #expect(IPv6Prefix("fdaa::") == nil)
    }
}
