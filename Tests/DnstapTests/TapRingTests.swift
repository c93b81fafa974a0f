@testable import Dnstap
import Testing

@Suite struct TapRingTests {
    @Test func slotsComeOutInTheOrderTheyWentIn() {
        let ring = TapRing(capacity: 4)
        for i in 0..<3 {
            let slot = ring.reserve()!
            slot.storeBytes(of: i, as: Int.self)
            ring.commit()
        }
        for i in 0..<3 {
            #expect(ring.peek()?.load(as: Int.self) == i)
            ring.release()
        }
        #expect(ring.peek() == nil)
    }

    @Test func aFullRingRefusesUntilTheConsumerGivesASlotBack() {
        let ring = TapRing(capacity: 3)  // rounded up to 4
        #expect(ring.capacity == 4)
        for _ in 0..<4 {
            #expect(ring.reserve() != nil)
            ring.commit()
        }
        #expect(ring.reserve() == nil)
        _ = ring.peek()
        ring.release()
        #expect(ring.reserve() != nil)
    }

    @Test func theProducerCountsWhatDoesNotFitAndGoesOn() {
        let producer = DnstapProducer(ring: TapRing(capacity: 2), shared: false)
        var peer = sockaddrFor("fdaa:0:1:a7b:1::2", port: 40000)
        let query: [UInt8] = Array(repeating: 1, count: 40)
        withUnsafeBytes(of: &peer) { p in
            query.withUnsafeBytes { q in
                for _ in 0..<5 { producer.clientExchange(query: q, response: q, peer: p.baseAddress!, tcp: false, received: (1, 2)) }
                // Too long for a slot, even with room in the ring.
                let long = [UInt8](repeating: 0, count: TapRing.payloadCapacity + 1)
                long.withUnsafeBytes { producer.clientQuery($0, peer: p.baseAddress!, tcp: false, received: (1, 2)) }
            }
        }
        // Two exchanges in, three refused (two messages each), one query too long.
        #expect(producer.ring.dropped == 7)
    }
}
