import Testing
@testable import DNSWire
