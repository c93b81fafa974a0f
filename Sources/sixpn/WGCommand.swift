import ArgumentParser

// Placeholder until the NetSetup work lands: it fails loudly, it does not pretend.
struct WGCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wg", abstract: "(not built yet)")
    func run() throws {
        throw ValidationError("sixpn wg: not built yet")
    }
}
