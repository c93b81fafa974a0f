import ArgumentParser
import Cluster
import Glibc

/// `--etcd URL[,URL...]` and the TLS flags, shared by `sixpn agent`, `sixpn db` and `sixpn wg peer`.
struct EtcdOptions: ParsableArguments {
    @Option(name: .customLong("etcd"),
            help: "The etcd members' client URLs (https://HOST:PORT,...): write the cluster instead of a --db file.")
    var urls: String?
    @Option(name: .customLong("etcd-cacert"), help: "The CA certificate (PEM) that signed the etcd members' certificates.")
    var caCertificate: String?
    @Option(name: .customLong("etcd-cert"), help: "This client's certificate (PEM); its common name is the etcd user.")
    var certificate: String?
    @Option(name: .customLong("etcd-key"), help: "This client's private key (PEM).")
    var key: String?

    /// The cluster to talk to, or nil without --etcd.
    func configuration() throws(ClusterError) -> EtcdConfiguration? {
        guard let urls else {
            if caCertificate != nil || certificate != nil || key != nil {
                throw ClusterError(.configuration, "--etcd-cacert, --etcd-cert and --etcd-key go with --etcd")
            }
            return nil
        }
        return try EtcdConfiguration(urls: urls, caCertificate: caCertificate, certificate: certificate, key: key)
    }
}

/// Prints `prefix: message` as one line on stderr and exits 1.
func failOneLine(_ prefix: String, _ error: any Error) -> ExitCode {
    var line = "\(prefix): \(error)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    return ExitCode.failure
}
