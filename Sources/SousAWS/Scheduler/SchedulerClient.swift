public import Foundation
import SousHTTP

/// Amazon EventBridge Scheduler (REST-JSON, API 2021-06-30): the one-time schedules that delete an endpoint when
/// its time to live runs out, even when sous never runs again.
public struct SchedulerClient: Sendable {
    public let client: AWSClient
    public init(_ client: AWSClient) { self.client = client }

    /// The universal target that calls SageMaker `DeleteEndpoint` with the schedule's input.
    public static let deleteEndpointTarget = "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint"

    /// A one-time schedule (`at(…)`) that calls a target once and then deletes itself.
    public struct OneTimeSchedule: Sendable, Equatable {
        public var name: String
        /// When it fires (whole seconds, UTC).
        public var at: Date
        /// The target ARN (``SchedulerClient/deleteEndpointTarget``).
        public var targetArn: String
        /// The role EventBridge Scheduler assumes to call the target.
        public var roleArn: String
        /// The target's input (a JSON document as text).
        public var input: String
        public var description: String
        /// `DELETE`: the schedule removes itself once it has fired.
        public var actionAfterCompletion: String = "DELETE"
        public var groupName: String?

        public init(
            name: String, at: Date, targetArn: String, roleArn: String, input: String, description: String,
            groupName: String? = nil
        ) {
            self.name = name
            self.at = at
            self.targetArn = targetArn
            self.roleArn = roleArn
            self.input = input
            self.description = description
            self.groupName = groupName
        }

        /// `at(yyyy-mm-ddThh:mm:ss)`, read in UTC (``SchedulerClient`` sends `ScheduleExpressionTimezone: UTC`).
        public var expression: String { "at(\(Self.format(at)))" }

        static func format(_ d: Date) -> String { SchedulerClient.utcFormatter("yyyy-MM-dd'T'HH:mm:ss").string(from: d) }

        /// The date of an `at(…)` expression in UTC, or nil for another kind of expression.
        public static func date(ofExpression e: String) -> Date? {
            guard e.hasPrefix("at("), e.hasSuffix(")") else { return nil }
            return SchedulerClient.utcFormatter("yyyy-MM-dd'T'HH:mm:ss").date(from: String(e.dropFirst(3).dropLast()))
        }

        var body: [String: any Sendable] {
            var b: [String: any Sendable] = [
                "ScheduleExpression": expression, "ScheduleExpressionTimezone": "UTC", "State": "ENABLED",
                "FlexibleTimeWindow": ["Mode": "OFF"] as [String: any Sendable], "ActionAfterCompletion": actionAfterCompletion,
                "Description": description,
                "Target": ["Arn": targetArn, "RoleArn": roleArn, "Input": input] as [String: any Sendable],
            ]
            if let groupName { b["GroupName"] = groupName }
            return b
        }
    }

    /// A schedule as `GetSchedule` describes it (the fields sous uses).
    public struct Schedule: Sendable, Equatable {
        public var name: String
        public var arn: String
        public var expression: String
        public var state: String
        public var targetArn: String
        public var roleArn: String
        public var input: String
        public var actionAfterCompletion: String?
        /// The date of an `at(…)` expression (nil for `rate`/`cron`).
        public var at: Date? { OneTimeSchedule.date(ofExpression: expression) }
    }

    /// A POSIX date formatter in UTC with `format` (schedule expressions, and the times sous prints for them).
    public static func utcFormatter(_ format: String) -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = format
        return f
    }

    static func path(_ name: String) -> String { "/schedules/" + AWSURIEncoding.encode(name, keepSlash: false) }

    /// A schedule as `ListSchedules` summarises it.
    public struct Summary: Sendable, Equatable {
        public var name: String
        public var groupName: String?
        public var state: String
        public var targetArn: String
    }

    /// `ListSchedules` of every group (all pages), of the schedules whose name begins with `namePrefix`.
    public func list(namePrefix: String) async throws -> [Summary] {
        var out: [Summary] = []
        var token: String?
        repeat {
            var q: [(name: String, value: String)] = [("NamePrefix", namePrefix), ("MaxResults", "100")]
            if let token { q.append(("NextToken", token)) }
            let o = try await send("ListSchedules", "GET", path: "/schedules", query: q)
            for s in o["Schedules"] as? [[String: Any]] ?? [] {
                guard let name = s["Name"] as? String else { continue }
                out.append(Summary(
                    name: name, groupName: s["GroupName"] as? String, state: s["State"] as? String ?? "",
                    targetArn: (s["Target"] as? [String: Any])?["Arn"] as? String ?? ""))
            }
            token = (o["NextToken"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return out
    }

    func send(_ operation: String, _ method: String, name: String, query: [(name: String, value: String)] = [], body: [String: any Sendable]? = nil)
        async throws -> [String: Any]
    {
        try await send(operation, method, path: Self.path(name), query: query, body: body)
    }

    func send(_ operation: String, _ method: String, path: String, query: [(name: String, value: String)] = [], body: [String: any Sendable]? = nil)
        async throws -> [String: Any]
    {
        var r = AWSRequest(service: .scheduler, operation: operation, method: method, path: path, query: query)
        if let body {
            r.headers.set("Content-Type", "application/json")
            r.body = .bytes(try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys]))
        }
        let resp = try await client.send(r)
        if resp.body.isEmpty { return [:] }
        guard let obj = try? JSONSerialization.jsonObject(with: resp.body) as? [String: Any] else {
            throw AWSError(
                service: "EventBridge Scheduler", operation: operation, status: resp.status, code: "MalformedResponse",
                message: "The response is not a JSON object")
        }
        return obj
    }

    /// `CreateSchedule`; returns its ARN.
    @discardableResult
    public func create(_ s: OneTimeSchedule) async throws -> String {
        let o = try await send("CreateSchedule", "POST", name: s.name, body: s.body)
        return try Self.arn(o, operation: "CreateSchedule")
    }

    /// `UpdateSchedule` (every field is replaced, as the API does); returns its ARN.
    @discardableResult
    public func update(_ s: OneTimeSchedule) async throws -> String {
        let o = try await send("UpdateSchedule", "PUT", name: s.name, body: s.body)
        return try Self.arn(o, operation: "UpdateSchedule")
    }

    /// `GetSchedule`.
    public func get(_ name: String, groupName: String? = nil) async throws -> Schedule {
        let o = try await send("GetSchedule", "GET", name: name, query: groupName.map { [("groupName", $0)] } ?? [])
        let target = o["Target"] as? [String: Any] ?? [:]
        return Schedule(
            name: o["Name"] as? String ?? name, arn: try Self.arn(o, key: "Arn", operation: "GetSchedule"),
            expression: o["ScheduleExpression"] as? String ?? "", state: o["State"] as? String ?? "",
            targetArn: target["Arn"] as? String ?? "", roleArn: target["RoleArn"] as? String ?? "",
            input: target["Input"] as? String ?? "", actionAfterCompletion: o["ActionAfterCompletion"] as? String)
    }

    /// `DeleteSchedule`; false when it was already gone (it deletes itself after firing).
    @discardableResult
    public func delete(_ name: String, groupName: String? = nil) async throws -> Bool {
        let q: [(name: String, value: String)] = groupName.map { [("groupName", $0)] } ?? []
        return try await AWSError.nilIfNotFound { _ = try await send("DeleteSchedule", "DELETE", name: name, query: q) } != nil
    }

    static func arn(_ o: [String: Any], key: String = "ScheduleArn", operation: String) throws -> String {
        guard let arn = o[key] as? String, !arn.isEmpty else {
            throw AWSError(
                service: "EventBridge Scheduler", operation: operation, status: 200, code: "MalformedResponse",
                message: "The \(operation) response holds no \(key)")
        }
        return arn
    }
}
