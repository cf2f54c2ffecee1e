import Foundation
import SousAWS
import SousTestSupport
import Testing

/// The clients behind cost and cloud safety (issue #18): EventBridge Scheduler, IAM roles, Service Quotas, and the
/// price table, against moto with signature checking on.
@Suite("Scheduler, IAM and Service Quotas clients; the price table")
struct CostAndSafetyClientTests {
    /// moto's signature check verifies a request without a body (GET, DELETE) of a REST-JSON service against a body
    /// it makes up from the query string or the headers, so GetSchedule and DeleteSchedule fail with
    /// SignatureDoesNotMatch for boto3 too; the whole lifecycle runs unsigned, CreateSchedule and UpdateSchedule signed.
    @Test("a one-time DeleteEndpoint schedule is created and moved (moto, signed)")
    func scheduleCreateAndUpdateSigned() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        let scheduler = SchedulerClient(moto.client)
        var s = SchedulerClient.OneTimeSchedule(
            name: "sous-ttl-signed", at: Date(timeIntervalSince1970: 1_900_000_000), targetArn: SchedulerClient.deleteEndpointTarget,
            roleArn: "arn:aws:iam::123456789012:role/sous-scheduler", input: #"{"EndpointName":"demo"}"#, description: "sous")
        #expect(try await scheduler.create(s).hasSuffix(":schedule/default/sous-ttl-signed"))
        s.at = s.at.addingTimeInterval(60)
        #expect(try await scheduler.update(s).hasSuffix(":schedule/default/sous-ttl-signed"))
    }

    @Test("a one-time DeleteEndpoint schedule is created, read back, moved, and deleted (moto)")
    func scheduleLifecycle() async throws {
        let moto = try await MotoFixture.start(auth: false)
        defer { moto.server.stop() }
        let scheduler = SchedulerClient(moto.client)
        let at = Date(timeIntervalSince1970: 1_900_000_000)
        var s = SchedulerClient.OneTimeSchedule(
            name: "sous-ttl-demo", at: at, targetArn: SchedulerClient.deleteEndpointTarget,
            roleArn: "arn:aws:iam::123456789012:role/sous-scheduler", input: #"{"EndpointName":"demo"}"#,
            description: "sous: delete endpoint demo")
        #expect(s.expression == "at(2030-03-17T17:46:40)")
        let arn = try await scheduler.create(s)
        #expect(arn.hasSuffix(":schedule/default/sous-ttl-demo"))
        var got = try await scheduler.get("sous-ttl-demo")
        #expect(got.targetArn == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint")
        #expect(got.input == #"{"EndpointName":"demo"}"#)
        #expect(got.roleArn == "arn:aws:iam::123456789012:role/sous-scheduler")
        #expect(got.at == at && got.actionAfterCompletion == "DELETE" && got.state == "ENABLED")

        s.at = at.addingTimeInterval(7200)
        try await scheduler.update(s)
        got = try await scheduler.get("sous-ttl-demo")
        #expect(got.expression == "at(2030-03-17T19:46:40)")
        #expect(try await scheduler.delete("sous-ttl-demo"))
        #expect(try await !scheduler.delete("sous-ttl-demo"))  // already gone is fine
        await #expect(throws: AWSError.self) { _ = try await scheduler.get("sous-ttl-demo") }
        do {
            _ = try await scheduler.get("sous-ttl-demo")
        } catch let e as AWSError {
            #expect(e.isNotFound && e.service == "EventBridge Scheduler" && e.operation == "GetSchedule")
        }
    }

    @Test("IAM GetRole reads the trust policy: SageMaker may assume one role, not the other")
    func roleTrust() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        let iam = IAMClient(moto.client)
        let sagemaker = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","sagemaker.amazonaws.com"]},"Action":["sts:AssumeRole"]}]}"#
        let other = #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}}"#
        try await iam.createRole("sm-role", assumeRolePolicyDocument: sagemaker)
        try await iam.createRole("lambda-role", assumeRolePolicyDocument: other)
        #expect(try await iam.getRole("sm-role").trusts(service: "sagemaker.amazonaws.com"))
        #expect(try await !iam.getRole("lambda-role").trusts(service: "sagemaker.amazonaws.com"))
        #expect(IAMClient.roleName(fromArn: "arn:aws:iam::123456789012:role/service-role/sm-role") == "sm-role")
        #expect(IAMClient.roleName(fromArn: "admin") == nil)
    }

    @Test("Service Quotas: moto has no SageMaker quotas, and says so with an error sous can report")
    func quotasUnavailableOnMoto() async throws {
        let moto = try await MotoFixture.start(auth: true)
        defer { moto.server.stop() }
        do {
            _ = try await ServiceQuotasClient(moto.client).quota(serviceCode: "sagemaker", named: "ml.g5.2xlarge for endpoint usage")
            Issue.record("moto answered SageMaker quotas; the preflight test of 'could not check' needs another way in")
        } catch let e as AWSError {
            #expect(e.service == "Service Quotas" && e.operation == "ListServiceQuotas")
        }
    }

    @Test("the price table: the notebooks' types, quotes per instance count, the region fallback, suggestions")
    func priceTable() {
        #expect(SageMakerPriceQuote(instanceType: "ml.g5.2xlarge", region: "us-east-1")?.hourly == 1.515)
        let q = SageMakerPriceQuote(instanceType: "ml.g5.12xlarge", count: 2, region: "eu-west-1")
        #expect(q?.hourly == 14.18 && q?.regionFallback == true && q?.basis == "us-east-1 list price; eu-west-1 differs")
        #expect(SageMakerPriceQuote(instanceType: "ml.g9.mega", region: "us-east-1") == nil)
        #expect(abs((q?.cost(forSeconds: 1800) ?? 0) - 7.09) < 1e-9)
        #expect(SageMakerInstanceType.named("ml.g5.48xlarge")?.totalAcceleratorMemoryGiB == 192)
        #expect(SageMakerInstanceType.named("ml.m5.xlarge")?.hardware == "CPU only, 16 GiB")
        #expect(SageMakerInstanceType.suggestions(for: "ml.g5.2xlarg").first == "ml.g5.2xlarge")
        #expect(SageMakerInstanceType.cheapestHolding(gib: 150).map(\.name) == ["ml.g6.48xlarge", "ml.g5.48xlarge"])
        #expect(Dollars.format(1.515) == "$1.515" && Dollars.format(7.09) == "$7.09" && Dollars.format(0.0021) == "$0.0021")
        #expect(Dollars.format(0) == "$0" && Dollars.format(113.068) == "$113.068" && Dollars.format(20.36) == "$20.36")
        #expect(Dollars.approx(0.077) == "≈ $0.077" && Dollars.approx(0.00001) == "< $0.0001")
        // Every family the issue names is in the table, each row with its memory.
        for family in ["g4dn", "g5", "g6", "p3", "p4d", "p5", "inf2"] {
            #expect(SageMakerInstanceType.all.contains { $0.name.hasPrefix("ml.\(family).") && $0.totalAcceleratorMemoryGiB > 0 })
        }
    }
}
