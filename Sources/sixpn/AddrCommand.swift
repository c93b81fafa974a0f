import ArgumentParser

// Placeholder until the NetSetup work lands: it fails loudly, it does not pretend.
struct AddrCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "addr", abstract: "(not built yet)")
    func run() throws {
        throw ValidationError("sixpn addr: not built yet")
    }
}
