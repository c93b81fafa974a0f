import ArgumentParser

// Placeholder until the ZoneEngine work lands: it fails loudly, it does not pretend.
struct DBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "(not built yet)")
    func run() throws {
        throw ValidationError("sixpn db: not built yet")
    }
}
