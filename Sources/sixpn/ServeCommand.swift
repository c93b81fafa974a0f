import ArgumentParser

// Placeholder until the Server work lands: it fails loudly, it does not pretend.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "(not built yet)")
    func run() throws {
        throw ValidationError("sixpn serve: not built yet")
    }
}
