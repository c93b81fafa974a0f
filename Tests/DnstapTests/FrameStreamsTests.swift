@testable import Dnstap
import Testing

@Suite struct FrameStreamsTests {
    @Test func readyIsAnEscapedControlFrameNamingTheDnstapContentType() {
        let ready = FrameStreams.control(.ready)
        let type = Array("protobuf:dnstap.Dnstap".utf8)
        // escape, length (type + field type + field length + 22 octets), READY, CONTENT_TYPE, 22, the type.
        let expected: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 34, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 22] + type
        #expect(ready == expected)
    }

    @Test func stopWithoutAContentTypeIsTwelveOctets() {
        #expect(FrameStreams.control(.stop, contentType: nil) == [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3])
    }

    @Test func aControlFrameReadsBackWithItsContentTypes() {
        let frame = FrameStreams.control(.accept)
        let parsed = FrameStreams.parseControl(Array(frame[8...]))
        #expect(parsed == FrameStreams.ParsedControl(type: 1, contentTypes: [FrameStreams.contentType]))
    }

    @Test func aFieldThatOverrunsItsFrameIsNotAControlFrame() {
        var body = Array(FrameStreams.control(.accept)[8...])
        body.removeLast()
        #expect(FrameStreams.parseControl(body) == nil)
        #expect(FrameStreams.parseControl([0, 0, 1]) == nil)
    }

    @Test func aDataFrameStartsWithItsBigEndianLength() {
        var out: [UInt8] = []
        FrameStreams.appendDataHeader(length: 0x0102_0304, to: &out)
        #expect(out == [1, 2, 3, 4])
    }
}
