/// Why a `sixpn db` command or a database read failed, in one line for the operator.
public struct DatabaseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// An argument that cannot go into the database (bad address, name, key).
        case badInput
        /// The thing to add is already there.
        case duplicate
        /// The thing to remove or list is not there.
        case notFound
        /// SQLite failed, or the file is not a sixpn database of this version.
        case database
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    init(_ error: SQLiteError) {
        self.init(.database, error.description)
    }

    public var description: String { message }
}
