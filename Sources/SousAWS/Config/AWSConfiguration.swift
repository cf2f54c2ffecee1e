public import Foundation

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
