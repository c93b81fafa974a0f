import ArgumentParser
import DNSWire
import Forwarder
import Glibc
import Server
import Sockets
import ZoneEngine

/// `sixpn demo`: serves a demo database on loopback port 5353, with loopback
/// taken as the demo organization, and prints dig commands to try.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Serve a demo database on 127.0.0.1:5353 and [::1]:5353 and print dig commands to try.")

    @Option(name: .customLong("db"), help: "The demo database; created when absent.")
    var database = "sixpn-demo.db"

    @Option(help: "The port on 127.0.0.1 and ::1.")
    var port: UInt16 = 5353

    func run() throws {
        Server.blockSignals()
        if access(database, F_OK) != 0 {
            do { try DemoDatabase.create(at: database) } catch {
                throw sixpnFatal("demo", "cannot create \(database): \(error.message)")
            }
            print("Created the demo database \(database).")
        }
        let listen = [SocketAddress.ipv4(127, 0, 0, 1, port: port), SocketAddress.ipv6(IPv6Address("::1")!, port: port)]
        let upstreams = (try? ResolvConf.upstreams(excluding: listen)) ?? []
        let organization = DemoDatabase.networks[0]
        let config = ServerConfiguration(databasePath: database, listen: listen, upstreams: upstreams, threads: 2,
                                         developmentNetwork: organization)
        try serve(config, command: "demo") {
            let d = "dig @127.0.0.1 -p \(port)"
            print("""
                sixpn is answering on 127.0.0.1:\(port) and [::1]:\(port); loopback is organization \(NetworkID.format(organization)).
                Try, in another terminal:

                  \(d) web.internal AAAA                  # every instance of app "web"
                  \(d) ams.web.internal AAAA              # web's instances in region ams
                  \(d) regions.web.internal TXT           # the regions web runs in
                  \(d) top1.nearest.of.web.internal AAAA  # the closest web instance
                  \(d) _apps.internal TXT                 # the organization's apps
                  \(d) _instances.internal TXT            # its instances
                  \(d) laptop._peer.internal AAAA         # a WireGuard peer
                  \(d) -x fdaa:0:1:0:a01:0:1001:2         # an instance's address: its name (PTR)
                  \(d) worker.internal AAAA               # another organization's app: NXDOMAIN
                  \(d) +tcp api.internal AAAA             # over TCP
                  dig @::1 -p \(port) +edns=1 +noednsneg web.internal AAAA   # EDNS version 1: BADVERS
                  kdig @127.0.0.1 -p \(port) db.internal AAAA
                """)
            if upstreams.isEmpty {
                print("  \(d) example.com A   # other names: REFUSED (no nameserver in /etc/resolv.conf)")
            } else {
                print("  \(d) example.com A   # other names: forwarded to \(upstreams.map(\.description).joined(separator: ", "))")
            }
            print("\nCtrl-C stops it.")
            fflush(nil)  // stdout may be a pipe: show the commands now
        }
    }
}
