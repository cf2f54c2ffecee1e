import Foundation

/// Runs a profile's `credential_process` (through `/bin/sh -c`) and parses its JSON output.
public struct ProcessCredentialsProvider: Sendable {
    public let command: String
    public let environment: [String: String]

    public init(command: String, environment: [String: String]) {
        self.command = command
        self.environment = environment
    }

    public func fetch() async throws -> AWSCredentials {
        let command = self.command
        let env = self.environment
        let (status, out): (Int32, Data) = try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/sh")
                p.arguments = ["-c", command]
                p.environment = env
                let pipe = Pipe()
                p.standardOutput = pipe
                p.standardError = FileHandle.standardError
                do {
                    try p.run()
                } catch {
                    cont.resume(throwing: AWSConfigError("credential_process could not be started: \(error.localizedDescription)."))
                    return
                }
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                cont.resume(returning: (p.terminationStatus, data))
            }
        }
        guard status == 0 else {
            throw AWSConfigError("credential_process exited with status \(status); run it by hand to see why.")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: out) as? [String: Any],
            let akid = obj["AccessKeyId"] as? String, let secret = obj["SecretAccessKey"] as? String
        else {
            throw AWSConfigError("credential_process did not print JSON with AccessKeyId and SecretAccessKey.")
        }
        if let v = obj["Version"] as? Int, v != 1 {
            throw AWSConfigError("credential_process printed Version \(v); only Version 1 is supported.")
        }
        return AWSCredentials(
            accessKeyId: akid, secretAccessKey: secret, sessionToken: obj["SessionToken"] as? String,
            expiration: (obj["Expiration"] as? String).flatMap(AWSDate.parseISO8601))
    }
}
