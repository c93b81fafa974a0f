/// sixpn's version, as `sixpn --version`, `version.server.` (class CH) and
/// the `sixpn_build_info` metric say it.
public let sixpnVersion = "0.1.0"
