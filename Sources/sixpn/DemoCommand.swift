import ArgumentParser

// Placeholder until the Server work lands: it fails loudly, it does not pretend.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo", abstract: "(not built yet)")
    func run() throws {
        throw ValidationError("sixpn demo: not built yet")
    }
}
