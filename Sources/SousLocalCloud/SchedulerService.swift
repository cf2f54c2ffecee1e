import Foundation
import HTTPTypes
import Hummingbird
import SousAWS

/// EventBridge Scheduler's one-time schedules, far enough for endpoint time-to-live: `at(…)` schedules whose target is
/// the SageMaker `DeleteEndpoint` universal target. Each is kept as JSON under `data/scheduler/` and armed with a
/// timer; when it fires, the endpoint is deleted through the SageMaker service, and with `ActionAfterCompletion:
/// DELETE` the schedule removes itself. Schedules survive a restart (a schedule whose time passed while the server was
/// down fires at start). Routes (rest-json): `POST|GET|PUT|DELETE /schedules/{name}`.
actor SchedulerService {
    struct Record: Codable, Sendable {
        var name: String
        var arn: String
        var expression: String
        var timezone: String
        var targetArn: String
        var roleArn: String
        var input: String
        var actionAfterCompletion: String?
        var state: String
        var description: String?
        var created: Date
        var modified: Date
    }

    let configuration: LocalCloudConfiguration
    let sagemaker: SageMakerService
    let dir: URL
    private var schedules: [String: Record] = [:]
    private var timers: [String: Task<Void, Never>] = [:]

    init(configuration: LocalCloudConfiguration, sagemaker: SageMakerService) throws {
        self.configuration = configuration
        self.sagemaker = sagemaker
        dir = configuration.dataDirectory.appendingPathComponent("scheduler", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [] where f.hasSuffix(".json") {
            if let d = try? Data(contentsOf: dir.appendingPathComponent(f)), let r = try? JSONDecoder().decode(Record.self, from: d) {
                schedules[r.name] = r
            }
        }
    }

    /// Arms the timers of the schedules read from disk (after a restart).
    func resume() {
        for r in schedules.values { arm(r) }
    }

    /// One request on `/schedules/{name}`.
    func handle(_ method: String, name: String, body: [UInt8]) async throws -> Response {
        switch method {
        case "POST":
            guard schedules[name] == nil else { throw ServiceError(.conflict, "ConflictException", "Schedule \(name) already exists.") }
            let r = try record(name, JSONInput(body), created: Date())
            put(r)
            return Reply.json(.ok, ["ScheduleArn": r.arn], contentType: "application/json")
        case "PUT":
            guard let old = schedules[name] else { throw notFound(name) }
            let r = try record(name, JSONInput(body), created: old.created)
            put(r)
            return Reply.json(.ok, ["ScheduleArn": r.arn], contentType: "application/json")
        case "GET":
            guard let r = schedules[name] else { throw notFound(name) }
            var d: [String: Any] = [
                "Name": r.name, "Arn": r.arn, "GroupName": "default", "ScheduleExpression": r.expression,
                "ScheduleExpressionTimezone": r.timezone, "State": r.state, "FlexibleTimeWindow": ["Mode": "OFF"],
                "Target": ["Arn": r.targetArn, "RoleArn": r.roleArn, "Input": r.input],
                "CreationDate": r.created.timeIntervalSince1970, "LastModificationDate": r.modified.timeIntervalSince1970,
            ]
            if let a = r.actionAfterCompletion { d["ActionAfterCompletion"] = a }
            if let s = r.description { d["Description"] = s }
            return Reply.json(.ok, d, contentType: "application/json")
        case "DELETE":
            guard schedules[name] != nil else { throw notFound(name) }
            remove(name)
            return Reply.json(.ok, [String: Any](), contentType: "application/json")
        default:
            throw ServiceError(.methodNotAllowed, "UnknownOperationException", "\(method) /schedules/\(name) is not a scheduler operation.")
        }
    }

    private func notFound(_ name: String) -> ServiceError {
        ServiceError(.notFound, "ResourceNotFoundException", "Schedule \(name) does not exist.")
    }

    private func record(_ name: String, _ input: JSONInput, created: Date) throws -> Record {
        let expression = try input.required("ScheduleExpression")
        let tz = input.string("ScheduleExpressionTimezone") ?? "UTC"
        guard tz == "UTC", SchedulerClient.OneTimeSchedule.date(ofExpression: expression) != nil else {
            throw ServiceError.validation("The sous local cloud's scheduler runs one-time at(yyyy-mm-ddThh:mm:ss) schedules in UTC, not '\(expression)' in \(tz).")
        }
        let target = input.object["Target"] as? [String: Any] ?? [:]
        guard let arn = target["Arn"] as? String, arn == SchedulerClient.deleteEndpointTarget else {
            throw ServiceError.validation("The sous local cloud's scheduler runs only the target \(SchedulerClient.deleteEndpointTarget).")
        }
        guard let role = target["RoleArn"] as? String, !role.isEmpty else {
            throw ServiceError.validation("1 validation error detected: Value null at 'target.roleArn' failed to satisfy constraint: Member must not be null")
        }
        return Record(
            name: name, arn: "arn:aws:scheduler:\(configuration.region):\(configuration.accountId):schedule/default/\(name)", expression: expression,
            timezone: tz, targetArn: arn, roleArn: role, input: target["Input"] as? String ?? "{}",
            actionAfterCompletion: input.string("ActionAfterCompletion"), state: input.string("State") ?? "ENABLED",
            description: input.string("Description"), created: created, modified: Date())
    }

    private func put(_ r: Record) {
        schedules[r.name] = r
        save(r)
        arm(r)
    }

    private func save(_ r: Record) {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        do { try enc.encode(r).write(to: dir.appendingPathComponent("\(r.name).json"), options: .atomic) } catch {
            configuration.log("could not save schedule \(r.name): \(error)")
        }
    }

    private func remove(_ name: String) {
        schedules[name] = nil
        timers.removeValue(forKey: name)?.cancel()
        try? FileManager.default.removeItem(at: dir.appendingPathComponent("\(name).json"))
    }

    /// (Re)starts the timer of `r`: it sleeps until the schedule's time, then fires.
    private func arm(_ r: Record) {
        timers.removeValue(forKey: r.name)?.cancel()
        guard r.state == "ENABLED", let at = SchedulerClient.OneTimeSchedule.date(ofExpression: r.expression) else { return }
        let name = r.name
        let modified = r.modified
        timers[name] = Task {
            let wait = at.timeIntervalSinceNow
            if wait > 0 {
                do { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) } catch { return }  // until the schedule's time
            }
            await self.fire(name, modified: modified)
        }
    }

    /// Calls the target (SageMaker DeleteEndpoint with the schedule's input), then deletes a DELETE-after-completion
    /// schedule; a schedule changed since the timer was armed is left to its new timer.
    private func fire(_ name: String, modified: Date) async {
        guard let r = schedules[name], r.modified == modified else { return }
        timers[name] = nil
        let result: String
        do {
            _ = try await sagemaker.handle(target: "SageMaker.DeleteEndpoint", body: Array(r.input.utf8))
            result = "deleted the endpoint"
        } catch {
            result = "DeleteEndpoint failed: \(error)"
        }
        configuration.log("schedule \(name) fired: \(result)")
        if r.actionAfterCompletion == "DELETE" { remove(name) }
    }
}
