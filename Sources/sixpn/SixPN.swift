import ArgumentParser
import Server

/// The sixpn command line. Each subcommand parses its arguments and calls a
/// library target; no logic that a test would want to reach lives here.
@main
struct SixPN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sixpn",
        abstract: "A DNS server for private IPv6 (6PN) networks, and the tools that set those networks up.",
        version: sixpnVersion,
        subcommands: [ServeCommand.self, DemoCommand.self, DBCommand.self, AddrCommand.self, NetCommand.self, WGCommand.self,
                      AgentCommand.self]
    )
}
