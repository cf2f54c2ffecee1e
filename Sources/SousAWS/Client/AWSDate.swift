import Foundation

/// ISO 8601 dates as AWS services write them.
enum AWSDate {
    static func parseISO8601(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)
    }
}
