import ArgumentParser
import Cluster
import NetSetup

/// Where `sixpn wg peer` registers peers: the local database (--db) or the cluster (--etcd).
func peerDirectory(db: String?, etcd: EtcdOptions) throws -> any PeerDirectory {
    if let c = try etcd.configuration() {
        guard db == nil else { throw PeerError(message: "give either --db FILE or --etcd URL[,URL...], not both") }
        return EtcdPeerDirectory(configuration: c)
    }
    guard let db else { throw PeerError(message: "give either --db FILE or --etcd URL[,URL...]") }
    return try ZoneDatabasePeers(path: db)
}
