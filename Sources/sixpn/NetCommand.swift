import ArgumentParser
import NetSetup

extension TrafficProgram: ExpressibleByArgument {}

/// `sixpn net`: the tc BPF programs on a device.
struct NetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net",
        abstract: "Attach, detach and read the swap and isolate BPF programs (tc clsact, both directions).",
        subcommands: [Attach.self, Detach.self, Stats.self]
    )

    struct Attach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Attach a program to a device, replacing sixpn's program there if any.")
        @Option(help: "The device.") var dev: String
        @Option(help: "swap (host-to-host WireGuard device) or isolate (instance-facing device).")
        var program: TrafficProgram
        @Option(name: .customLong("prefix"), help: ArgumentHelp(
            "isolate: a prefix the instance behind the link owns, e.g. its /112 (repeatable, at least one, at most 16); packets from it with any other source are dropped.",
            valueName: "ADDR/LEN"))
        var prefixes: [String] = []

        func run() throws {
            let parsed = try prefixes.map { text in
                guard let p = IPv6Prefix(text) else {
                    throw OneLineFailure(message: "sixpn net attach: --prefix \(text) is not an IPv6 prefix (ADDR/LEN)")
                }
                return p
            }
            try OneLineFailure.wrap("sixpn net attach") {
                try TrafficControl.attach(program, device: dev, prefixes: parsed)
            }
            let owned = parsed.isEmpty ? "" : " for " + parsed.map(\.description).joined(separator: ",")
            print("attached \(program.rawValue) to \(dev) (ingress, egress)\(owned)")
        }
    }

    struct Detach: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove sixpn's program from a device.")
        @Option(help: "The device.") var dev: String

        func run() throws {
            let removed = try OneLineFailure.wrap("sixpn net detach") { try TrafficControl.detach(device: dev) }
            print(removed ? "detached from \(dev)" : "nothing attached to \(dev)")
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the attached program, its prefixes and its counters, one `name value` per line.")
        @Option(help: "The device.") var dev: String

        func run() throws {
            guard let c = try OneLineFailure.wrap("sixpn net stats", { try TrafficControl.counters(device: dev) })
            else {
                throw OneLineFailure(message: "sixpn net stats: no sixpn program is attached to \(dev)")
            }
            print("program", c.program.rawValue)
            print("directions", c.directions.joined(separator: ","))
            if !c.prefixes.isEmpty { print("prefixes", c.prefixes.map(\.description).joined(separator: ",")) }
            print("passed", c.passed)
            print("dropped", c.dropped)
            print("rewritten", c.rewritten)
            print("forged", c.forged)
        }
    }
}

/// A library error turned into the one line a command prints before exiting 1.
struct OneLineFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }

    /// Runs `body`; any error becomes "`context`: <the error's description>".
    static func wrap<T>(_ context: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as OneLineFailure {
            throw e
        } catch {
            throw OneLineFailure(message: "\(context): \(error)")
        }
    }
}
