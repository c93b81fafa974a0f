import ArgumentParser
import NetSetup
import ZoneEngine

/// `sixpn addr`: build and take apart 6PN addresses.
struct AddrCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "addr",
        abstract: "Encode and decode 6PN addresses (fdaa:NNNN:NNNN:HHHH:HHHH:IIII:IIII:xxxx).",
        subcommands: [Encode.self, Decode.self]
    )

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the address of an instance. IDs are hex (1-8 digits, 0x optional), as in the address.")
        @Option(help: "Network (organization) ID.") var network: String
        @Option(help: "Host ID.") var host: String
        @Option(help: "Instance ID.") var instance: String
        @Option(help: "The 16 free low bits.") var low: String = "0"

        func run() throws {
            let a = try OneLineFailure.wrap("sixpn addr encode") {
                SixPNAddress(network: try AddrCommand.id(network, "--network"), host: try AddrCommand.id(host, "--host"),
                             instance: try AddrCommand.id(instance, "--instance"), low: try AddrCommand.low(low))
            }
            print(a)
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the network, host and instance IDs (hex) and the /48 and /112 prefixes of an address.")
        @Argument(help: "A 6PN address (inside fdaa::/16).") var address: String

        func run() throws {
            guard let a = SixPNAddress(address) else {
                throw OneLineFailure(message: "sixpn addr decode: \(address) is not a 6PN address (an IPv6 address inside fdaa::/16)")
            }
            for (key, value) in SixPNAddressText.describe(a) {
                print(key, value)
            }
        }
    }

    static func id(_ text: String, _ option: String) throws -> UInt32 {
        guard let v = SixPNAddressText.parseID(text) else {
            throw OneLineFailure(message: "\(option) \(text) is not a 32-bit ID (1-8 hex digits, 0x optional)")
        }
        return v
    }

    static func low(_ text: String) throws -> UInt16 {
        guard let v = SixPNAddressText.parseID(text), let l = UInt16(exactly: v) else {
            throw OneLineFailure(message: "--low \(text) is not a 16-bit number (1-4 hex digits, 0x optional)")
        }
        return l
    }
}
