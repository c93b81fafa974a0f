import DNSWire
import ZoneEngine

/// The text forms of 6PN IDs and addresses used on the command line.
///
/// Network, host and instance IDs are hexadecimal everywhere in sixpn, as they
/// appear in the address itself (`fdaa:0000:002a::` is network `2a`) and as
/// `sixpn db list` prints them: 1 to 8 hex digits, with or without `0x`.
public enum SixPNAddressText {
    /// Parses a 32-bit ID; nil when it is not 1-8 hex digits (after an optional 0x).
    public static func parseID(_ text: some StringProtocol) -> UInt32? {
        var digits = Substring(text)
        if digits.hasPrefix("0x") || digits.hasPrefix("0X") { digits = digits.dropFirst(2) }
        // UInt32(_:radix:) alone would also take a sign ("+1").
        guard (1...8).contains(digits.utf8.count), digits.allSatisfy(\.isHexDigit) else { return nil }
        return UInt32(digits, radix: 16)
    }

    /// The fields `sixpn addr decode` prints, in order: IDs as 8 hex digits,
    /// then the organization's /48 and the instance's /112.
    public static func describe(_ a: SixPNAddress) -> [(key: String, value: String)] {
        [
            ("network", NetworkID.format(a.network)),
            ("host", NetworkID.format(a.host)),
            ("instance", NetworkID.format(a.instance)),
            ("network_prefix", IPv6Prefix(a.address, length: 48).description),
            ("instance_prefix", IPv6Prefix(a.address, length: 112).description),
        ]
    }
}
