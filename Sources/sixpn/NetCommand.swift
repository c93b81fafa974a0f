import ArgumentParser

// Placeholder until the NetSetup work lands: it fails loudly, it does not pretend.
struct NetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "net", abstract: "(not built yet)")
    func run() throws {
        throw ValidationError("sixpn net: not built yet")
    }
}
