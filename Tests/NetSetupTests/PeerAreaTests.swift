import Testing
import ZoneEngine
@testable import NetSetup

@Suite struct PeerAreaTests {
    @Test func firstPeerTakesTheFirstSlotOfHostFFFFFFFF() {
        #expect(PeerArea.prefix(network: 0x2a, slot: 0).description == "fdaa:0:2a:ffff:ffff::/120")
        #expect(PeerArea.peerAddress(network: 0x2a, slot: 0).description == "fdaa:0:2a:ffff:ffff::1")
        #expect(PeerArea.prefix(network: 0x2a, slot: 0x1_0203_0405).description
            == "fdaa:0:2a:ffff:ffff:102:304:500/120")
    }

    @Test func slotOfAnAddressInvertsPrefix() {
        for slot: UInt64 in [0, 1, 255, 256, 0xff_ffff_ffff] {
            #expect(PeerArea.slot(of: PeerArea.peerAddress(network: 7, slot: slot)) == slot)
        }
        #expect(PeerArea.slot(of: SixPNAddress(network: 7, host: 1, instance: 0)) == nil)
    }

    @Test func allocationSkipsTakenSlotsAndOtherOrganizations() {
        let used = [
            PeerArea.peerAddress(network: 1, slot: 0),
            PeerArea.peerAddress(network: 1, slot: 2),
            PeerArea.peerAddress(network: 2, slot: 1),       // another organization's
            SixPNAddress(network: 1, host: 5, instance: 1),  // an instance, outside the area
        ]
        #expect(PeerArea.firstFreeSlot(network: 1, used: used) == 1)
        #expect(PeerArea.firstFreeSlot(network: 2, used: used) == 0)
    }

    @Test func aFullAreaHasNoFreeSlot() {
        let used = (0..<4).map { PeerArea.peerAddress(network: 1, slot: $0) }
        #expect(PeerArea.firstFreeSlot(network: 1, used: used, capacity: 4) == nil)
        #expect(PeerArea.firstFreeSlot(network: 1, used: used, capacity: 5) == 4)
    }
}
