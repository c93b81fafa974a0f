import Testing
@testable import DNSWire

/// Query.parse and ResponseWriter: the allocation-free path every query takes.
@Suite struct QueryParseTests {
    func parse(_ bytes: [UInt8]) throws(WireError) -> Query {
        var result: Result<Query, WireError> = .failure(WireError(.truncatedHeader, .header, at: 0))
        bytes.withUnsafeBytes { b in
            do throws(WireError) { result = .success(try Query.parse(b)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    func parseError(_ bytes: [UInt8]) -> WireError? {
        do { _ = try parse(bytes); return nil } catch { return error }
    }

    @Test func digQueryWithEDNSAndCookie() throws {
        let bytes = try Fixture.query("dig-aaaa")
        let q = try parse(bytes)
        #expect(q.type == .aaaa && q.class == .internet && q.nameLength == 22 && q.questionEnd == 12 + 22 + 4)
        let e = try #require(q.edns)
        #expect(e.udpPayloadSize == 1232 && e.version == 0 && !e.dnssecOK)
        // The options are left in place: one cookie option of 8 octets.
        #expect(e.optionsLength == 12 && e.optionsOffset == bytes.count - 12)
        #expect(Array(bytes[e.optionsOffset..<(e.optionsOffset + 4)]) == [0, 10, 0, 8])
    }

    @Test func doBitAndVersionAreRead() throws {
        #expect(try parse(Fixture.query("kdig-do")).edns?.dnssecOK == true)
        #expect(try parse(Fixture.query("kdig-badvers")).edns?.version == 1)
        #expect(try parse(Fixture.query("dig-noedns-soa")).edns == nil)
    }

    @Test func questionNameIsLowercasedOnRequestOnly() throws {
        let bytes = try Fixture.query("dig-0x20")
        let q = try parse(bytes)
        #expect(Array(bytes[q.nameOffset..<(q.nameOffset + q.nameLength)]) == Array("\u{3}WwW\u{8}FiXtUrEs\u{7}ExAmPlE\u{0}".utf8))
        var out = [UInt8](repeating: 0, count: 255)
        let n = bytes.withUnsafeBytes { b in out.withUnsafeMutableBytes { q.lowercasedName(from: b, into: $0) } }
        #expect(Array(out.prefix(n)) == (try name("www.fixtures.example")).wire)
    }

    @Test func malformedQueriesGiveTypedErrors() {
        let opt: [UInt8] = [0] + fields(41, class: 1232, rdLength: 0)
        #expect(parseError(Array(repeating: 0, count: 11))?.code == .truncatedHeader)
        #expect(parseError(packet(qd: 0, [])) == WireError(.badCount, .header, at: 4))
        #expect(parseError(packet(qd: 2, questionWWW + questionWWW)) == WireError(.badCount, .header, at: 4))
        #expect(parseError(packet(qd: 1, [0xc0, 12, 0, 1, 0, 1]))?.code == .badPointer)
        #expect(parseError(packet(qd: 1, [0x40, 0, 0, 1, 0, 1]))?.code == .reservedLabelType)
        #expect(parseError(packet(qd: 1, Array(questionWWW.dropLast()))) == WireError(.truncated, .questionClass, at: 12 + 15))
        #expect(parseError(packet(qd: 1, ar: 2, questionWWW + opt + opt))?.code == .badOPT)
        #expect(parseError(packet(qd: 1, an: 1, questionWWW + opt))?.code == .badOPT)
        #expect(parseError(packet(qd: 1, ar: 1, questionWWW + opt + [0]))?.code == .trailingData)
        #expect(parseError(packet(qd: 1, ar: 1, questionWWW + [0] + fields(41, rdLength: 2) + [0, 10]))?.code == .badOPT)
        #expect(parseError(packet(qd: 1, ar: 1, questionWWW + [0] + fields(41, rdLength: 9) + [0]))?.code == .badRDLength)
    }
}

@Suite struct ResponseWriterTests {
    let aaaa: [[UInt8]] = (1...3).map { i in
        try! RecordEncoder.encode(owner: .questionName, type: .aaaa, ttl: 5,
                                  rdata: .aaaa(IPv6Address(high: 0xfdaa_0000_0001_0000, low: UInt64(i))))
    }

    /// Writes a response to `query` with the given RRsets (section, records, count) into `limit` octets.
    func respond(_ query: [UInt8], limit: Int, rcode: RCode = .noError, edns: EDNS? = nil,
                 rrsets: [(Section, [UInt8], Int)]) throws -> (bytes: [UInt8], appended: [Bool]) {
        var out = [UInt8](repeating: 0, count: 4096)
        var appended: [Bool] = []
        let q = try query.withUnsafeBytes { b throws(WireError) in try Query.parse(b) }
        let n = query.withUnsafeBytes { qb in
            out.withUnsafeMutableBytes { ob in
                var w = ResponseWriter(buffer: ob, limit: limit)
                guard w.start(query: q, bytes: qb, rcode: rcode, authoritative: true, recursionAvailable: false,
                              edns: edns) else { return -1 }
                for (section, records, count) in rrsets {
                    appended.append(records.withUnsafeBytes { w.append(section, records: $0, count: count) })
                }
                return w.finish()
            }
        }
        try #require(n >= 0)
        return (Array(out.prefix(n)), appended)
    }

    @Test func threeRecordAAAAAnswerWithTheClientsCase() throws {
        let query = try Fixture.query("dig-0x20")
        let (bytes, _) = try respond(query, limit: 512, rrsets: [(.answer, aaaa.flatMap { $0 }, 3)])
        let m = try Message(parsing: bytes)
        let q = try Message(parsing: query)
        #expect(m.header.id == q.header.id && m.header.isResponse && m.header.authoritative)
        #expect(m.header.recursionDesired && !m.header.recursionAvailable && m.rcode == .noError)
        #expect(m.questions[0].name.wire == q.questions[0].name.wire)
        #expect(m.answers.count == 3 && m.answers.allSatisfy { $0.name.wire == q.questions[0].name.wire })
        #expect(m.edns == nil)
    }

    @Test func rrsetThatDoesNotFitIsLeftOutWholeWithTC() throws {
        let query = try Fixture.query("dig-noedns-soa")
        let q = try Message(parsing: query)
        let questionEnd = 12 + q.questions[0].name.wire.count + 4
        let rrset = aaaa.flatMap { $0 }
        // Room for the first RRset and two records of the second: the second is left out whole.
        let (bytes, appended) = try respond(query, limit: questionEnd + rrset.count + 2 * aaaa[0].count,
                                            rrsets: [(.answer, rrset, 3), (.answer, rrset, 3)])
        #expect(appended == [true, false])
        let m = try Message(parsing: bytes)
        #expect(m.header.truncated && m.answers.count == 3 && bytes.count == questionEnd + rrset.count)
    }

    @Test func additionalDataLeftOutNeedsNoTC() throws {
        let query = try Fixture.query("dig-noedns-soa")
        let (bytes, appended) = try respond(query, limit: 100, rrsets: [(.answer, aaaa[0], 1), (.additional, aaaa.flatMap { $0 }, 3)])
        #expect(appended == [true, false])
        let m = try Message(parsing: bytes)
        #expect(!m.header.truncated && m.answers.count == 1 && m.additional.isEmpty)
    }

    @Test func optRoomIsReservedUpFront() throws {
        let query = try Fixture.query("dig-aaaa")
        let q = try Message(parsing: query)
        let questionEnd = 12 + q.questions[0].name.wire.count + 4
        let rrset = aaaa.flatMap { $0 }
        let edns = EDNS(udpPayloadSize: 1232)
        // Exactly enough for the RRset and the OPT: it fits. One octet less: it does not, and TC.
        let fits = try respond(query, limit: questionEnd + rrset.count + ResponseWriter.optSize, edns: edns,
                               rrsets: [(.answer, rrset, 3)])
        #expect(fits.appended == [true] && fits.bytes.count == questionEnd + rrset.count + 11)
        let m = try Message(parsing: fits.bytes)
        #expect(m.edns == EDNSRecord(udpPayloadSize: 1232) && !m.header.truncated)
        let tight = try respond(query, limit: questionEnd + rrset.count + ResponseWriter.optSize - 1, edns: edns,
                                rrsets: [(.answer, rrset, 3)])
        let t = try Message(parsing: tight.bytes)
        #expect(tight.appended == [false] && t.header.truncated && t.answers.isEmpty && t.edns != nil)
        #expect(tight.bytes.count <= questionEnd + rrset.count + ResponseWriter.optSize - 1)
    }

    /// Writes an answer to dig-aaaa with `records` (count 3 or none), adding Extended DNS Error `code`
    /// first when given; returns whether it was added, whether the records were, and the bytes.
    func respondWithExtendedError(_ code: UInt16?, limit: Int, edns: EDNS?, records: [UInt8])
        throws -> (added: Bool?, appended: Bool, bytes: [UInt8]) {
        let query = try Fixture.query("dig-aaaa")
        let q = try query.withUnsafeBytes { b throws(WireError) in try Query.parse(b) }
        var out = [UInt8](repeating: 0, count: 4096)
        var added: Bool? = nil, appended = true
        let n = query.withUnsafeBytes { qb in
            out.withUnsafeMutableBytes { ob in
                var w = ResponseWriter(buffer: ob, limit: limit)
                _ = w.start(query: q, bytes: qb, rcode: .noError, authoritative: false, recursionAvailable: true, edns: edns)
                if let code {
                    added = w.addExtendedError(code)
                    if added == true {
                        let again = w.addExtendedError(code)
                        #expect(!again, "one Extended DNS Error at most")
                    }
                }
                if !records.isEmpty { appended = records.withUnsafeBytes { w.append(.answer, records: $0, count: 3) } }
                return w.finish()
            }
        }
        return (added, appended, Array(out.prefix(n)))
    }

    @Test func anExtendedDNSErrorGoesInTheOPTAndItsRoomIsReservedWhenAdded() throws {
        let questionEnd = 12 + (try Message(parsing: try Fixture.query("dig-aaaa"))).questions[0].name.wire.count + 4
        let rrset = aaaa.flatMap { $0 }
        let full = questionEnd + rrset.count + ResponseWriter.optSize + ResponseWriter.extendedErrorSize
        let r = try respondWithExtendedError(ExtendedDNSError.staleAnswer, limit: full, edns: EDNS(udpPayloadSize: 1232),
                                             records: rrset)
        #expect(r.added == true && r.appended && r.bytes.count == full)
        let m = try Message(parsing: r.bytes)
        #expect(m.answers.count == 3 && !m.header.truncated)
        #expect(m.edns?.options == [EDNSOption(code: EDNSOption.extendedError, data: [0, 3])])
        // One octet less: the records no longer fit beside the option, and TC; the option is still sent.
        let tight = try respondWithExtendedError(ExtendedDNSError.staleAnswer, limit: full - 1,
                                                 edns: EDNS(udpPayloadSize: 1232), records: rrset)
        #expect(tight.added == true && !tight.appended && tight.bytes.count <= full - 1)
        let t = try Message(parsing: tight.bytes)
        #expect(t.header.truncated && t.edns?.options.first?.data == [0, 3])
        // No room for the option itself: not added, the OPT stays plain.
        let none = try respondWithExtendedError(22, limit: questionEnd + ResponseWriter.optSize + 5,
                                                edns: EDNS(udpPayloadSize: 1232), records: [])
        let noneMessage = try Message(parsing: none.bytes)
        #expect(none.added == false && noneMessage.edns?.options == [])
        // Without EDNS the client could not read it (RFC 8914 §3): not added, no OPT.
        let plain = try respondWithExtendedError(22, limit: 512, edns: nil, records: [])
        let plainMessage = try Message(parsing: plain.bytes)
        #expect(plain.added == false && plainMessage.edns == nil)
    }

    @Test func badVersSetsTheExtendedRCode() throws {
        let query = try Fixture.query("kdig-badvers")
        let (bytes, _) = try respond(query, limit: 512, rcode: .badVers, edns: EDNS(udpPayloadSize: 1232), rrsets: [])
        let m = try Message(parsing: bytes)
        #expect(m.header.rcodeBits == 0 && m.edns?.extendedRCode == 1 && m.rcode == .badVers)
        #expect(m.edns?.version == 0)
        // The same octets NSD sent, but for the flags (NSD copies AD from the query, and sets no AA).
        let nsd = try Fixture.answer("kdig-badvers")
        #expect(Array(bytes[4...]) == Array(nsd[4...]))
    }

    @Test func doBitIsEchoedAndZBitsAreNot() throws {
        let query = try Fixture.query("kdig-do")
        let (bytes, _) = try respond(query, limit: 512, edns: EDNS(udpPayloadSize: 1232, flags: 0xffff), rrsets: [])
        let e = try #require(try Message(parsing: bytes).edns)
        #expect(e.dnssecOK && e.flags == EDNS.doBit)
    }

    @Test func aQuestionThatDoesNotFitLeavesABareHeaderWithinTheLimit() throws {
        let query = try Fixture.query("dig-aaaa")
        let q = try query.withUnsafeBytes { b throws(WireError) in try Query.parse(b) }
        var out = [UInt8](repeating: 0, count: 64)
        let (started, n) = query.withUnsafeBytes { qb in
            out.withUnsafeMutableBytes { ob in
                var w = ResponseWriter(buffer: ob, limit: 40)
                let started = w.start(query: q, bytes: qb, rcode: .noError, authoritative: true,
                                      recursionAvailable: false, edns: EDNS(udpPayloadSize: 1232))
                return (started, w.finish())
            }
        }
        #expect(!started && n == Header.size)
        let m = try Message(parsing: Array(out.prefix(n)))
        #expect(m.header.id == q.header.id && m.questions.isEmpty && m.edns == nil)
    }

    @Test func setRCodeLaterAndRollback() throws {
        let query = try Fixture.query("dig-aaaa")
        var out = [UInt8](repeating: 0, count: 512)
        let q = try query.withUnsafeBytes { b throws(WireError) in try Query.parse(b) }
        let n = query.withUnsafeBytes { qb in
            out.withUnsafeMutableBytes { ob in
                var w = ResponseWriter(buffer: ob, limit: 512)
                _ = w.start(query: q, bytes: qb, rcode: .noError, authoritative: true, recursionAvailable: false,
                            edns: EDNS(udpPayloadSize: 1232))
                let mark = w.mark
                aaaa[0].withUnsafeBytes { _ = w.append(.answer, records: $0, count: 1) }
                w.rollback(to: mark)
                w.setRCode(.nxDomain)
                return w.finish()
            }
        }
        let m = try Message(parsing: Array(out.prefix(n)))
        #expect(m.answers.isEmpty && m.rcode == .nxDomain)
    }
}
