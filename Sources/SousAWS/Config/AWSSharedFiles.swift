import Foundation

/// The shared config and credentials files, located as the AWS CLI does.
public struct AWSSharedFiles: Sendable {
    public var config: AWSINIFile
    public var credentials: AWSINIFile
    public var configPath: String
    public var credentialsPath: String

    public init(config: AWSINIFile, credentials: AWSINIFile, configPath: String = "", credentialsPath: String = "") {
        self.config = config
        self.credentials = credentials
        self.configPath = configPath
        self.credentialsPath = credentialsPath
    }

    /// Reads `AWS_CONFIG_FILE` (default `~/.aws/config`) and `AWS_SHARED_CREDENTIALS_FILE`
    /// (default `~/.aws/credentials`); missing files are empty. `~` comes from `HOME` in `environment`.
    public static func load(environment: [String: String]) -> AWSSharedFiles {
        let home = environment["HOME"] ?? NSHomeDirectory()
        func expand(_ p: String) -> String { p.hasPrefix("~/") ? home + p.dropFirst(1) : p }
        let configPath = expand(environment["AWS_CONFIG_FILE"] ?? "~/.aws/config")
        let credentialsPath = expand(environment["AWS_SHARED_CREDENTIALS_FILE"] ?? "~/.aws/credentials")
        func read(_ p: String) -> AWSINIFile {
            guard let data = FileManager.default.contents(atPath: p) else { return AWSINIFile() }
            return AWSINIFile(parsing: String(decoding: data, as: UTF8.self))
        }
        return AWSSharedFiles(
            config: read(configPath), credentials: read(credentialsPath), configPath: configPath,
            credentialsPath: credentialsPath)
    }

    /// The config-file section of a profile (`[default]` or `[profile name]`; `[name]` is accepted too).
    public func configSection(_ profile: String) -> [String: String]? {
        if profile == "default" { return config.sections["default"] ?? config.sections["profile default"] }
        return config.sections["profile \(profile)"] ?? config.sections[profile]
    }

    /// The credentials-file section of a profile.
    public func credentialsSection(_ profile: String) -> [String: String]? { credentials.sections[profile] }

    /// Config values merged with credentials-file values (the latter win).
    public func profile(_ name: String) -> [String: String]? {
        let c = configSection(name)
        let k = credentialsSection(name)
        if c == nil && k == nil { return nil }
        return (c ?? [:]).merging(k ?? [:]) { _, new in new }
    }

    /// A `[services name]` section.
    public func servicesSection(_ name: String) -> [String: String]? { config.sections["services \(name)"] }
}
