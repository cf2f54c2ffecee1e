/// A generation parameter the container would reject, found before the call.
public struct GenerationParameterError: Error, CustomStringConvertible, Sendable, Equatable {
    public var parameter: String
    public var value: String
    public var rule: String
    public var dialect: String

    public init(parameter: String, value: String, rule: String, dialect: String) {
        self.parameter = parameter
        self.value = value
        self.rule = rule
        self.dialect = dialect
    }

    public var description: String {
        "invalid generation parameter \(parameter) = \(value) for \(dialect): it \(rule); fix the value in the recipe's parameters"
    }
}
