import Foundation

/// Errors of configuration and credential resolution.
public struct AWSConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
