import Testing
@testable import ZoneEngine
