import Testing
@testable import Forwarder
