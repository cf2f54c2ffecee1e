public import Foundation

/// The AWS services sous talks to, with their signing names, default hosts and endpoint-override keys.
public enum AWSService: String, Sendable, CaseIterable {
    case s3
    case sagemaker
    case sagemakerRuntime = "sagemaker-runtime"
    case sts
    case iam

    /// SigV4 signing name.
    public var signingName: String {
        switch self {
        case .s3: "s3"
        case .sagemaker, .sagemakerRuntime: "sagemaker"
        case .sts: "sts"
        case .iam: "iam"
        }
    }

    /// Suffix of the service-specific environment override (`AWS_ENDPOINT_URL_<suffix>`).
    public var environmentSuffix: String {
        switch self {
        case .s3: "S3"
        case .sagemaker: "SAGEMAKER"
        case .sagemakerRuntime: "SAGEMAKER_RUNTIME"
        case .sts: "STS"
        case .iam: "IAM"
        }
    }

    /// Key of the service in a config-file `[services name]` section.
    public var configKey: String {
        switch self {
        case .s3: "s3"
        case .sagemaker: "sagemaker"
        case .sagemakerRuntime: "sagemaker_runtime"
        case .sts: "sts"
        case .iam: "iam"
        }
    }

    /// The default public endpoint in `region`.
    public func defaultEndpoint(region: String) -> URL {
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        let host: String
        switch self {
        case .s3: host = "s3.\(region).\(suffix)"
        case .sagemaker: host = "api.sagemaker.\(region).\(suffix)"
        case .sagemakerRuntime: host = "runtime.sagemaker.\(region).\(suffix)"
        case .sts: host = "sts.\(region).\(suffix)"
        case .iam: host = region.hasPrefix("cn-") ? "iam.cn-north-1.amazonaws.com.cn" : "iam.amazonaws.com"
        }
        return URL(string: "https://\(host)")!
    }

    /// The region to sign with (IAM is global and signs with us-east-1 / cn-north-1).
    public func signingRegion(_ region: String) -> String {
        if self == .iam { return region.hasPrefix("cn-") ? "cn-north-1" : "us-east-1" }
        return region
    }
}

/// A parsed AWS INI file (`~/.aws/config` or `~/.aws/credentials`).
///
/// Section names are kept as written (`default`, `profile dev`, `services local`). Nested values
/// (`s3 =` followed by indented `endpoint_url = …`) are stored as `s3.endpoint_url`.
public struct AWSINIFile: Sendable, Equatable {
    public var sections: [String: [String: String]]

    public init(sections: [String: [String: String]] = [:]) { self.sections = sections }

    /// Parses INI text; comments start with `#` or `;`; malformed lines are ignored.
    public init(parsing text: String) {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var parent: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = String(rawLine).replacingOccurrences(of: "\r", with: "")
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") {
                guard let close = trimmed.firstIndex(of: "]") else { current = nil; continue }
                let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
                    .split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = name
                parent = nil
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let section = current, let eq = trimmed.firstIndex(of: "=") else { continue }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces)
            var value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            // Inline comments need whitespace before them (as botocore).
            for marker in [" #", " ;", "\t#", "\t;"] {
                if let r = value.range(of: marker) { value = String(value[..<r.lowerBound]).trimmingCharacters(in: .whitespaces) }
            }
            let indented = line.first == " " || line.first == "\t"
            if indented, let p = parent {
                sections[section]?["\(p).\(key)"] = value
            } else if value.isEmpty {
                parent = key
            } else {
                parent = nil
                sections[section]?[key] = value
            }
        }
        self.sections = sections
    }
}

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

/// Retry settings (`AWS_MAX_ATTEMPTS` / `max_attempts`, `AWS_RETRY_MODE` / `retry_mode`).
public struct AWSRetrySettings: Sendable, Equatable {
    public enum Mode: String, Sendable {
        case standard, legacy, adaptive
    }
    public var mode: Mode = .standard
    /// Total attempts including the first (≥ 1).
    public var maxAttempts: Int = 3

    /// `maxAttempts` nil = the mode's default (3 for standard/adaptive, 5 for legacy).
    public init(mode: Mode = .standard, maxAttempts: Int? = nil) {
        self.mode = mode
        self.maxAttempts = max(1, maxAttempts ?? (mode == .legacy ? 5 : 3))
    }
}

/// Errors of configuration and credential resolution.
public struct AWSConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Everything sous needs to call AWS, resolved from the environment and the shared files as the AWS CLI does.
/// The environment is passed in (never read from the process deep inside), so tests can inject it.
public struct AWSConfiguration: Sendable {
    public var environment: [String: String]
    public var files: AWSSharedFiles
    /// The active profile (`--profile`, else `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`).
    public var profileName: String
    /// True when the profile was given explicitly (then environment keys are skipped, as the CLI's `--profile`).
    public var profileIsExplicit: Bool
    /// Region from `AWS_REGION`, `AWS_DEFAULT_REGION` or the profile; nil when none (IMDS may still provide one,
    /// see `resolveRegion`).
    public var region: String?
    public var retry: AWSRetrySettings

    /// Resolves the configuration. `profile` is the CLI-style explicit profile (nil = from the environment).
    /// - Throws: `AWSConfigError` when an explicitly named profile does not exist.
    public init(environment: [String: String], profile: String? = nil) throws {
        self.environment = environment
        files = AWSSharedFiles.load(environment: environment)
        func nonEmpty(_ s: String?) -> String? { s.flatMap { $0.isEmpty ? nil : $0 } }
        profileIsExplicit = profile != nil
        profileName = nonEmpty(profile) ?? nonEmpty(environment["AWS_PROFILE"]) ?? nonEmpty(environment["AWS_DEFAULT_PROFILE"]) ?? "default"
        let section = files.profile(profileName)
        if section == nil && profileName != "default" {
            throw AWSConfigError(
                "The AWS profile \"\(profileName)\" was not found in \(files.configPath) or \(files.credentialsPath); check the name or run `aws configure --profile \(profileName)`.")
        }
        let p = section ?? [:]
        region = nonEmpty(environment["AWS_REGION"]) ?? nonEmpty(environment["AWS_DEFAULT_REGION"]) ?? nonEmpty(p["region"])
        let modeText = (nonEmpty(environment["AWS_RETRY_MODE"]) ?? nonEmpty(p["retry_mode"]) ?? "standard").lowercased()
        let mode = AWSRetrySettings.Mode(rawValue: modeText) ?? .standard
        let attempts = (nonEmpty(environment["AWS_MAX_ATTEMPTS"]) ?? nonEmpty(p["max_attempts"])).flatMap { Int($0) }
        retry = AWSRetrySettings(mode: mode, maxAttempts: attempts)
    }

    /// The merged config/credentials values of the active profile.
    public var profile: [String: String] { files.profile(profileName) ?? [:] }

    /// An endpoint override for `service`, in the SDKs' order: `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`,
    /// the profile's `services` section, the profile's `endpoint_url`. `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`
    /// disables all of them.
    public func endpointOverride(for service: AWSService) -> URL? {
        if environment["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"]?.lowercased() == "true" { return nil }
        func url(_ s: String?) -> URL? {
            guard let s, !s.isEmpty else { return nil }
            return URL(string: s.hasSuffix("/") ? String(s.dropLast()) : s)
        }
        if let u = url(environment["AWS_ENDPOINT_URL_\(service.environmentSuffix)"]) { return u }
        if let u = url(environment["AWS_ENDPOINT_URL"]) { return u }
        let p = profile
        if let servicesName = p["services"], let section = files.servicesSection(servicesName),
            let u = url(section["\(service.configKey).endpoint_url"])
        {
            return u
        }
        return url(p["endpoint_url"])
    }

    /// The endpoint to call for `service` in `region`: the override when set, else the public endpoint.
    public func endpoint(for service: AWSService, region: String) -> URL {
        endpointOverride(for: service) ?? service.defaultEndpoint(region: region)
    }

    /// True when `AWS_EC2_METADATA_DISABLED` turns IMDS off.
    public var imdsDisabled: Bool { environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" }
}
