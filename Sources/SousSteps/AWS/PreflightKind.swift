import Foundation
import SousAWS
import SousEngine
import SousHub
import SousRecipe

/// `preflight`: the checks that otherwise fail 10–20 minutes into a deployment, made before the first create:
/// credentials (STS), the execution role and its trust policy (IAM), the bucket (S3 HeadBucket), the Hugging Face
/// token's access to the model (a HEAD on one of its files), the instance type and its endpoint quota (Service
/// Quotas), and whether the weights fit the instance's GPU memory (snapshot size and dtype against sous's instance
/// table). Every check it cannot make says "could not check" and why; every failure says what to do; the step fails
/// when any check failed, so nothing after it runs. An effect: it runs on every run, since what it checks changes
/// outside sous. `sous run --preflight-only` runs only this.
struct PreflightKind: StepKind {
    static let name = "preflight"
    /// The checks, by the names `skip` takes.
    static let checks = ["credentials", "role", "bucket", "hub", "instance_type", "quota", "memory", "ttl_role"]

    static let configuration = StepKindConfiguration(
        name: PreflightKind.name, version: 1, category: .effect,
        summary: "Check before spending: credentials, role, bucket, Hub access, instance type and quota, GPU memory (put it before the first create).")

    struct Inputs: StepInputs {
        @Input("AWS region (default: the configured region)") var region: String?
        @Input("the SageMaker execution role ARN to check (default: $SOUS_SAGEMAKER_ROLE)") var role: String?
        @Input("the S3 bucket the run uses (empty: see default_bucket)") var bucket: String?
        @Input(default: false, "with an empty bucket, check the SageMaker default bucket sagemaker-{region}-{account}") var defaultBucket: Bool
        @Input(default: false, "a missing bucket is fine: the run creates it (s3.default-bucket does)") var createBucket: Bool
        @Input("the Hub model the run downloads (org/name), or a local folder") var modelId: String?
        @Input(default: "main", "its branch, tag or commit") var revision: String
        @Input("Hugging Face token (use ${{ secrets.hf_token }}; default HF_TOKEN)") var token: String?
        @Input(
            default: "auto", allowed: ["auto", "float32", "float16", "bfloat16", "int8", "int4"],
            "the dtype the container serves the weights in (auto: as stored, float32 served as float16)") var dtype: String
        @Input("the endpoint's instance type, e.g. ml.g5.2xlarge") var instanceType: String?
        @Input(default: 1, "how many instances the endpoint starts") var instanceCount: Int
        @Input("the endpoint's time to live, when it has one (the ttl_role is then checked)") var ttl: String?
        @Input("the role EventBridge Scheduler assumes for the ttl (default: $SOUS_SCHEDULER_ROLE)") var ttlRole: String?
        @Input("checks to leave out: credentials, role, bucket, hub, instance_type, quota, memory, ttl_role") var skip: [Value]?
    }

    struct Outputs: StepOutputs {
        @Output("the AWS account the credentials belong to") var account: String
        @Output("the region checked") var region: String
        @Output("the checks that passed") var passed: [Value]
        @Output("the checks that could not be made (each said why)") var unchecked: [Value]
    }

    func planDetails(_ inputs: Inputs) -> [String] {
        let skipped = AWSSteps.strings(inputs.skip.map(Value.list))
        return ["checks " + Self.checks.filter { !skipped.contains($0) }.joined(separator: ", ")]
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        var p = Preflight(ctx: ctx, inputs: inputs)
        await p.runAll()
        for line in p.report { ctx.write(line + "\n") }
        if !p.failures.isEmpty {
            throw StepError(
                "preflight found \(p.failures.count) problem\(p.failures.count == 1 ? "" : "s") before anything was created:\n"
                    + p.failures.map { "  \($0.check): \($0.message)" }.joined(separator: "\n"))
        }
        var outputs = Outputs()
        outputs.account = p.account ?? ""
        outputs.region = p.region ?? ""
        outputs.passed = p.passed.map(Value.string)
        outputs.unchecked = p.unchecked.map(Value.string)
        return outputs
    }
}

/// One preflight: the checks in order, what each found.
struct Preflight {
    let ctx: StepContext
    let inputs: PreflightKind.Inputs
    let local: Bool
    let skip: Set<String>
    var client: AWSClient?
    var account: String?
    var region: String?
    var report: [String] = []
    var passed: [String] = []
    var unchecked: [String] = []
    var failures: [(check: String, message: String)] = []
    /// Bytes of the weights and their stored dtype, when the Hub check (or a local folder) told.
    var weights: (bytes: UInt64, storedDType: String?)?

    init(ctx: StepContext, inputs: PreflightKind.Inputs) {
        self.ctx = ctx
        self.inputs = inputs
        local = EndpointCosts.isLocal(ctx.environment)
        skip = Set(AWSSteps.strings(inputs.skip.map(Value.list)))
    }

    mutating func ok(_ check: String, _ message: String) {
        passed.append(check)
        report.append("✓ \(check): \(message)")
    }

    mutating func fail(_ check: String, _ message: String) {
        failures.append((check, message))
        report.append("✗ \(check): \(message)")
    }

    mutating func couldNot(_ check: String, _ why: String) {
        unchecked.append(check)
        report.append("? \(check): could not check (\(why))")
    }

    func wanted(_ check: String) -> Bool { !skip.contains(check) }

    mutating func runAll() async {
        if wanted("credentials") { await credentials() }
        if wanted("role") { await role() }
        if wanted("bucket") { await bucket() }
        if wanted("hub") { await hub() }
        let type = inputs.instanceType.flatMap { $0.isEmpty ? nil : $0 }
        if let type {
            let quotaName = "\(type) for endpoint usage"
            let quota = wanted("instance_type") || wanted("quota") ? await quota(quotaName) : nil
            if wanted("instance_type") { instanceType(type, quota: quota) }
            if wanted("quota") { await endpointQuota(type, quotaName: quotaName, quota: quota) }
            if wanted("memory") { memory(type) }
        }
        if wanted("ttl_role") { await ttlRole() }
    }

    // MARK: credentials

    mutating func credentials() async {
        do {
            let c = try await AWSSteps.client(ctx, region: inputs.region)
            client = c
            region = c.region
            let id = try await STSClient(c).getCallerIdentity()
            account = id.account
            ok("credentials", "account \(id.account) (\(id.arn)), region \(c.region)")
        } catch {
            client = nil
            fail(
                "credentials", "\(error) Fix: give sous working AWS credentials and a region (AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and AWS_REGION; docs/aws.md)")
        }
    }

    /// The client when the credentials work; records "could not check" for `check` otherwise.
    mutating func aws(_ check: String) -> AWSClient? {
        if let client { return client }
        couldNot(check, "no working AWS credentials")
        return nil
    }

    // MARK: role

    mutating func role() async {
        let arn: String
        do { arn = try AWSSteps.role(ctx, given: inputs.role) } catch {
            return fail("role", String(describing: error))
        }
        if local { return ok("role", "\(arn) (the local cloud accepts any role)") }
        guard let client = aws("role") else { return }
        await checkRole(client, arn: arn, check: "role", service: "sagemaker.amazonaws.com", purpose: "SageMaker", needs: "read the model from S3 and write logs (e.g. AmazonSageMakerFullAccess)")
    }

    mutating func checkRole(_ client: AWSClient, arn: String, check: String, service: String, purpose: String, needs: String) async {
        guard let name = IAMClient.roleName(fromArn: arn) else { return fail(check, "'\(arn)' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)") }
        do {
            let role = try await IAMClient(client).getRole(name)
            guard role.trusts(service: service) else {
                return fail(
                    check,
                    "role \(name) exists but its trust policy does not let \(purpose) assume it: add a statement allowing the principal \(service) the action sts:AssumeRole (IAM console → Roles → \(name) → Trust relationships)")
            }
            ok(check, "\(arn) exists and \(service) may assume it")
        } catch let e as AWSError where e.code == "NoSuchEntity" {
            fail(
                check,
                "role \(name) does not exist in account \(account ?? "?") (IAM said: \(e.message)): create it with a trust policy for \(service) and a policy to \(needs), or name another with -p \(check)=arn:aws:iam::ACCOUNT:role/NAME")
        } catch let e as AWSError where ["AccessDenied", "AccessDeniedException"].contains(e.code) {
            couldNot(check, "IAM refused GetRole: the identity lacks iam:GetRole; the role itself may be fine")
        } catch {
            couldNot(check, "\(error)")
        }
    }

    // MARK: bucket

    mutating func bucket() async {
        let given = inputs.bucket.flatMap { $0.isEmpty ? nil : $0 }
        guard given != nil || inputs.defaultBucket else { return }
        guard let client = aws("bucket") else { return }
        let name: String
        if let given {
            name = given
        } else if let account {
            name = S3Client.defaultBucketName(region: client.region, accountId: account)
        } else {
            return couldNot("bucket", "the default bucket's name needs the account id")
        }
        do {
            if try await S3Client(client).bucketExists(name) {
                ok("bucket", "s3://\(name) is reachable")
            } else if inputs.createBucket {
                ok("bucket", "s3://\(name) does not exist yet; the run creates it")
            } else {
                fail(
                    "bucket",
                    "bucket \(name) does not exist (HeadBucket: 404): create it (aws s3 mb s3://\(name) --region \(client.region)) or name an existing bucket with -p bucket=…")
            }
        } catch let e as AWSError where e.status == 403 || e.code == "AccessDenied" || e.code == "Forbidden" {
            fail(
                "bucket",
                "bucket \(name) exists but this identity cannot reach it (HeadBucket: HTTP 403): it belongs to another account, or the policy lacks s3:ListBucket on it; name a bucket of yours with -p bucket=…")
        } catch let e as AWSError where e.status == 301 || e.code == "PermanentRedirect" || e.bucketRegion != nil {
            fail("bucket", "bucket \(name) is in another region\(e.bucketRegion.map { " (\($0))" } ?? ""): use a bucket in \(client.region), or run in the bucket's region")
        } catch {
            couldNot("bucket", "\(error)")
        }
    }

    // MARK: Hub

    mutating func hub() async {
        guard let model = inputs.modelId.flatMap({ $0.isEmpty ? nil : $0 }) else { return }
        if let folder = HubClient.localFolderPath(model, env: ctx.environment) {
            guard let files = try? FileManager.default.subpathsOfDirectory(atPath: folder) else {
                return fail("hub", "the local folder \(folder) cannot be read: check the path given as model_id")
            }
            weights = (Self.folderWeightBytes(folder, files), Self.storedDType(folder))
            return ok("hub", "\(model) is a local folder: nothing to ask the Hub")
        }
        if HubEnvironment.isOffline(env: ctx.environment) { return couldNot("hub", "HF_HUB_OFFLINE is set; the download will use the cache") }
        let token = inputs.token.flatMap { $0.isEmpty ? nil : $0 } ?? HubEnvironment.token(env: ctx.environment)
        do {
            let access = try await HubClient(endpoint: HubEnvironment.endpoint(env: ctx.environment)).checkAccess(
                repoID: model, revision: inputs.revision, token: token)
            if let b = access.weightBytes { weights = (b, access.storedDType) }
            ok("hub", "\(model) is readable\(token == nil ? " without a token" : " with the token") (HEAD \(access.checkedFile) at \(access.commit.prefix(12)))")
        } catch let e as HubError where [.unreachable, .network, .server, .notAHubEndpoint].contains(e.kind) {
            couldNot("hub", e.description)
        } catch {
            fail("hub", "\(error)")
        }
    }

    static func folderWeightBytes(_ folder: String, _ files: [String]) -> UInt64 {
        let weights = files.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".bin") || $0.hasSuffix(".pt") || $0.hasSuffix(".pth") }
        return weights.reduce(UInt64(0)) { sum, f in
            sum + ((try? FileManager.default.attributesOfItem(atPath: folder + "/" + f)[.size] as? NSNumber)?.uint64Value ?? 0)
        }
    }

    static func storedDType(_ folder: String) -> String? {
        guard let d = FileManager.default.contents(atPath: folder + "/config.json"),
            let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any]
        else { return nil }
        return obj["torch_dtype"] as? String
    }

    // MARK: instance type and quota

    /// The account's `"<type> for endpoint usage"` quota: `.success(nil)` when Service Quotas has none of that name.
    func quota(_ name: String) async -> Result<ServiceQuotasClient.Quota?, any Error>? {
        if local { return nil }
        guard let client else { return nil }
        do {
            return .success(try await ServiceQuotasClient(client).quota(serviceCode: "sagemaker", named: name))
        } catch {
            return .failure(error)
        }
    }

    mutating func instanceType(_ type: String, quota: Result<ServiceQuotasClient.Quota?, any Error>?) {
        let known = SageMakerInstanceType.named(type)
        let hint = SageMakerInstanceType.suggestions(for: type).joined(separator: ", ")
        switch quota {
        case .success(nil)?:
            fail(
                "instance_type",
                "\(type) is not available for SageMaker endpoints in \(region ?? "this region") (Service Quotas lists no '\(type) for endpoint usage'); check the name (near: \(hint)) or pick another region")
        case .success(.some)?:
            ok("instance_type", "\(type) is available for endpoints in \(region ?? "this region")" + (known == nil ? " (not in sous's price table: its cost is not estimated)" : ""))
        case .failure(let e)?:
            if let known {
                ok("instance_type", "\(known.name) is a SageMaker instance type sous knows (\(known.hardware)); whether \(region ?? "this region") offers it could not be checked (\(Self.short(e)))")
            } else {
                fail(
                    "instance_type",
                    "unknown instance type \(type): it is not in sous's table of SageMaker instance types and Service Quotas could not confirm it (\(Self.short(e))); check the name (did you mean \(hint)?), or skip this check (skip: [instance_type]) for a type newer than sous")
            }
        case nil:
            if let known {
                ok("instance_type", "\(known.name) (\(known.hardware))" + (local ? "; the local cloud runs it on this machine's CPU" : ""))
            } else if local {
                ok("instance_type", "\(type) is not in sous's table; the local cloud runs any type on this machine's CPU")
            } else {
                fail("instance_type", "unknown instance type \(type): it is not in sous's table of SageMaker instance types; check the name (did you mean \(hint)?)")
            }
        }
    }

    static func short(_ e: any Error) -> String {
        if let a = e as? AWSError { return "\(a.service) \(a.operation): \(a.code)" + (a.message.isEmpty ? "" : " \(a.message.prefix(120))") }
        return String(String(describing: e).prefix(160))
    }

    mutating func endpointQuota(_ type: String, quotaName: String, quota: Result<ServiceQuotasClient.Quota?, any Error>?) async {
        if local { return ok("quota", "the local cloud has no quotas") }
        guard let quota else { return couldNot("quota", client == nil ? "no working AWS credentials" : "Service Quotas was not asked") }
        let q: ServiceQuotasClient.Quota
        switch quota {
        case .failure(let e): return couldNot("quota", "Service Quotas: \(Self.short(e)); the identity may lack servicequotas:ListServiceQuotas")
        case .success(nil): return couldNot("quota", "no quota named '\(quotaName)'")
        case .success(let found?): q = found
        }
        let wanted = max(1, inputs.instanceCount)
        let limit = Int(q.value)
        let howTo = "request an increase in Service Quotas (AWS console → Service Quotas → Amazon SageMaker → '\(quotaName)', region \(region ?? "?")) or pick another instance type"
        guard limit > 0 else { return fail("quota", "the account's quota '\(quotaName)' is 0 in \(region ?? "?"): \(howTo)") }
        guard let client else { return }
        // Instances of this type in the region's endpoints, except this recipe's own (a rerun reuses or replaces them).
        let mine = Set(ctx.liveResources(type: SageMakerResources.endpoint).map(\.name))
        do {
            let (used, users) = try await Self.instancesInUse(type, client: client, except: mine)
            if used + wanted > limit {
                fail(
                    "quota",
                    "the quota '\(quotaName)' is \(limit) in \(region ?? "?") and \(used) instance(s) are in use (\(users.prefix(5).joined(separator: ", "))): this run needs \(wanted) more; \(howTo), or delete an endpoint (sous status --cloud lists sous's)")
            } else {
                ok("quota", "'\(quotaName)' is \(limit); \(used) in use, this run needs \(wanted)")
            }
        } catch {
            couldNot("quota", "counting the instances in use failed: \(Self.short(error))")
        }
    }

    /// Instances of `type` behind the region's endpoints that are running or starting (at most 100 endpoints looked at).
    static func instancesInUse(_ type: String, client: AWSClient, except: Set<String>) async throws -> (Int, [String]) {
        let sm = SageMakerClient(client)
        var used = 0
        var users: [String] = []
        for e in try await sm.listEndpoints().prefix(100) where !except.contains(e.name) {
            guard ["InService", "Creating", "Updating", "SystemUpdating"].contains(e.status) else { continue }
            guard let d = try await AWSError.nilIfNotFound({ try await sm.describeEndpoint(e.name) }),
                let c = try await AWSError.nilIfNotFound({ try await sm.describeEndpointConfig(d.configName) })
            else { continue }
            let n = c.variants.filter { $0.instanceType == type }.map(\.initialInstanceCount).reduce(0, +)
            if n > 0 {
                used += n
                users.append(e.name)
            }
        }
        return (used, users)
    }

    // MARK: memory

    /// Bytes per parameter of a dtype name (`float16`, `bf16`, `int4`, …).
    static func bytesPerParameter(_ dtype: String) -> Double? {
        switch dtype.lowercased().replacingOccurrences(of: "torch.", with: "") {
        case "float32", "fp32", "float": 4
        case "float16", "fp16", "half", "bfloat16", "bf16": 2
        case "int8", "fp8", "float8": 1
        case "int4": 0.5
        default: nil
        }
    }

    /// Rough: weights as served, plus 20 % for the KV cache, activations and the runtime.
    mutating func memory(_ type: String) {
        guard let weights else { return couldNot("memory", "the size of the weights is not known before the download (no model_id, or the Hub could not be asked)") }
        guard let instance = SageMakerInstanceType.named(type) else { return couldNot("memory", "\(type) is not in sous's instance table") }
        let stored = weights.storedDType.flatMap(Self.bytesPerParameter) ?? 2
        let requested = inputs.dtype
        let served = requested == "auto" ? min(stored, 2) : Self.bytesPerParameter(requested) ?? stored
        let servedName = requested == "auto" ? (stored > 2 ? "float16" : weights.storedDType ?? "float16") : requested
        let gib = Double(weights.bytes) * served / stored / 1_073_741_824
        let need = gib * 1.2
        let have = instance.accelerator == nil ? instance.memoryGiB : instance.totalAcceleratorMemoryGiB
        let what = instance.accelerator == nil ? "memory (CPU only)" : "\(instance.isGPU ? "GPU" : "accelerator") memory (\(instance.acceleratorCount) × \(instance.accelerator!))"
        let weightsText = "≈ \(Self.size(gib)) in \(servedName), ≈ \(Self.size(need)) with 20% for the KV cache and activations"
        if need <= have {
            ok("memory", "the weights (\(weightsText)) fit \(type)'s \(SageMakerInstanceType.gib(have)) GiB of \(what)")
            return
        }
        let better = SageMakerInstanceType.cheapestHolding(gib: need).map {
            "\($0.name) (\(SageMakerInstanceType.gib($0.totalAcceleratorMemoryGiB)) GiB, ≈ \(Dollars.format($0.usEast1Hourly))/h)"
        }
        fail(
            "memory",
            "the weights (\(weightsText)) do not fit \(type)'s \(SageMakerInstanceType.gib(have)) GiB of \(what): "
                + (better.isEmpty ? "" : "pick \(better.joined(separator: " or ")), ") + "or serve them quantized (dtype: int8 or int4, with a container option that quantizes)")
    }

    /// `12.6 GiB`, `1.2 MiB`.
    static func size(_ gib: Double) -> String {
        gib >= 1 ? String(format: "%.1f GiB", gib) : String(format: "%.1f MiB", gib * 1024)
    }

    // MARK: ttl role

    mutating func ttlRole() async {
        let override = EndpointTTL.override(ctx)
        guard override?.seconds != nil || !(inputs.ttl ?? "").isEmpty else { return }
        let arn: String
        do { arn = try EndpointTTL.role(ctx, given: override?.role, stepRole: inputs.ttlRole) } catch { return fail("ttl_role", String(describing: error)) }
        if local { return ok("ttl_role", "\(arn) (the local cloud accepts any role)") }
        guard let client = aws("ttl_role") else { return }
        await checkRole(client, arn: arn, check: "ttl_role", service: "scheduler.amazonaws.com", purpose: "EventBridge Scheduler", needs: "call sagemaker:DeleteEndpoint")
    }
}
