import Testing
@testable import NetSetup
