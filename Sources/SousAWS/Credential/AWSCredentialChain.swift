import Foundation
public import SousHTTP

/// The AWS CLI's credential chain: environment keys (skipped when a profile is given explicitly) → the profile
/// (`role_arn` with `source_profile`/`credential_source` via STS AssumeRole → credentials-file keys →
/// `credential_process` → config-file keys) → container credentials → EC2 instance metadata (IMDSv2).
/// Providers that hand out expiring credentials are wrapped in `CachingCredentialsProvider`.
public enum AWSCredentialChain {
    /// The provider for `configuration`; the check for the environment and files happens now, network
    /// sources (container, IMDS, STS) are contacted on first use.
    /// - Throws: `AWSConfigError` when nothing can supply credentials.
    public static func provider(configuration: AWSConfiguration, region: String, http: HTTPClient) throws
        -> any AWSCredentialsProvider
    {
        let env = configuration.environment
        if !configuration.profileIsExplicit, let p = environmentProvider(env) { return p }
        if let p = try profileProvider(configuration.profileName, configuration: configuration, region: region, http: http, depth: 0) {
            return p
        }
        if let c = ContainerCredentialsProvider(environment: env, http: http) {
            return CachingCredentialsProvider(source: "container credentials (\(c.url.host ?? ""))") { try await c.fetch() }
        }
        let noneMessage =
            "No AWS credentials were found (checked the environment, profile \"\(configuration.profileName)\" in \(configuration.files.credentialsPath) and \(configuration.files.configPath), container credentials and EC2 instance metadata); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run `aws configure`."
        if configuration.imdsDisabled { throw AWSConfigError(noneMessage) }
        let imds = IMDSClient(environment: env, http: http)
        return CachingCredentialsProvider(source: "EC2 instance metadata") {
            do {
                return try await imds.credentials()
            } catch {
                throw AWSConfigError(noneMessage)
            }
        }
    }

    static func environmentProvider(_ env: [String: String]) -> (any AWSCredentialsProvider)? {
        guard let id = env["AWS_ACCESS_KEY_ID"], !id.isEmpty, let secret = env["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty
        else { return nil }
        let token = env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } ?? env["AWS_SECURITY_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return StaticCredentialsProvider(
            AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: token), source: "environment")
    }

    static func staticKeys(_ section: [String: String]?) -> AWSCredentials? {
        guard let s = section, let id = s["aws_access_key_id"], !id.isEmpty, let secret = s["aws_secret_access_key"],
            !secret.isEmpty
        else { return nil }
        return AWSCredentials(accessKeyId: id, secretAccessKey: secret, sessionToken: s["aws_session_token"])
    }

    static func profileProvider(
        _ name: String, configuration: AWSConfiguration, region: String, http: HTTPClient, depth: Int
    ) throws -> (any AWSCredentialsProvider)? {
        let files = configuration.files
        guard let merged = files.profile(name) else {
            if depth > 0 { throw AWSConfigError("The source_profile \"\(name)\" does not exist in \(files.configPath).") }
            return nil
        }
        if let roleArn = merged["role_arn"], !roleArn.isEmpty {
            guard depth < 5 else { throw AWSConfigError("The profile \"\(name)\" has a source_profile chain longer than 5 (a loop?).") }
            let source: any AWSCredentialsProvider
            if let sp = merged["source_profile"], !sp.isEmpty {
                if sp == name, let keys = staticKeys(merged) {
                    source = StaticCredentialsProvider(keys, source: "profile \(name)")
                } else if let p = try profileProvider(sp, configuration: configuration, region: region, http: http, depth: depth + 1) {
                    source = p
                } else {
                    throw AWSConfigError("The source_profile \"\(sp)\" of profile \"\(name)\" has no credentials.")
                }
            } else if let cs = merged["credential_source"] {
                switch cs {
                case "Environment":
                    guard let p = environmentProvider(configuration.environment) else {
                        throw AWSConfigError("credential_source = Environment but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set.")
                    }
                    source = p
                case "Ec2InstanceMetadata":
                    let imds = IMDSClient(environment: configuration.environment, http: http)
                    source = CachingCredentialsProvider(source: "EC2 instance metadata") { try await imds.credentials() }
                case "EcsContainer":
                    guard let c = ContainerCredentialsProvider(environment: configuration.environment, http: http) else {
                        throw AWSConfigError("credential_source = EcsContainer but no AWS_CONTAINER_CREDENTIALS_* variable is set.")
                    }
                    source = CachingCredentialsProvider(source: "container credentials") { try await c.fetch() }
                default:
                    throw AWSConfigError("credential_source \"\(cs)\" in profile \"\(name)\" is not one of Environment, Ec2InstanceMetadata, EcsContainer.")
                }
            } else {
                throw AWSConfigError("The profile \"\(name)\" has role_arn but neither source_profile nor credential_source.")
            }
            let sessionName = merged["role_session_name"] ?? "sous-\(Int(Date().timeIntervalSince1970))"
            let duration = merged["duration_seconds"].flatMap { Int($0) }
            let externalId = merged["external_id"]
            let stsClient = AWSClient(configuration: configuration, region: region, credentials: source, http: http)
            return CachingCredentialsProvider(source: "assume role \(roleArn) (profile \(name))") {
                try await STSClient(stsClient).assumeRole(
                    roleArn: roleArn, sessionName: sessionName, durationSeconds: duration, externalId: externalId)
            }
        }
        if let keys = staticKeys(files.credentialsSection(name)) {
            return StaticCredentialsProvider(keys, source: "shared credentials file (profile \(name))")
        }
        if let cmd = merged["credential_process"], !cmd.isEmpty {
            let p = ProcessCredentialsProvider(command: cmd, environment: configuration.environment)
            return CachingCredentialsProvider(source: "credential_process (profile \(name))") { try await p.fetch() }
        }
        if let keys = staticKeys(files.configSection(name)) {
            return StaticCredentialsProvider(keys, source: "config file (profile \(name))")
        }
        return nil
    }
}
