import Foundation

/// The PostgreSQL server the tests use: its URL comes from METERING_TEST_POSTGRES_URL,
/// which scripts/test.sh sets after starting a throw-away server (scripts/lib/setup.sh,
/// `setup_postgres`). Unset, a PostgreSQL test fails with that message rather than pass
/// without having run; `METERING_TEST_POSTGRES_URL=skip` skips them on purpose.
public enum TestPostgres {
    public static let variable = "METERING_TEST_POSTGRES_URL"

    public enum Availability {
        case url(String)
        case skippedOnPurpose
        case missing(String)
    }

    public static var availability: Availability {
        guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else {
            return .missing(
                "\(variable) is not set: run scripts/test.sh (it starts PostgreSQL and sets it), point it at a server, or set it to 'skip'"
            )
        }
        return url == "skip" ? .skippedOnPurpose : .url(url)
    }

    /// The URL with its own schema, so tests running at once never share tables.
    public static func url(_ base: String, schema: String) -> String {
        base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
    }

    /// A fresh schema name.
    public static func freshSchema(_ prefix: String = "t") -> String {
        prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }
}
