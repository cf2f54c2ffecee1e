import Foundation
import SousTestSupport
import Testing

/// Cost and cloud safety on the local cloud: everything is priced at the AWS instance type the recipe names but
/// marked "local: $0"; a budget only warns; a ttl is a timer in the local cloud that deletes the endpoint.
@Suite("cost and ttl on the local cloud")
struct LocalCostTests {
    static let recipe = ShippedRecipeRun.root.appendingPathComponent("recipes/llama2-7b-tgi.yaml").path

    @Test("plan --local prices the endpoint at the AWS type, as local: $0")
    func planShowsLocalZero() throws {
        let run = try ShippedRecipeRun()
        defer { run.remove() }
        let plan = try run.sous(["plan", "--local", Self.recipe, "-p", "model_id=\(ShippedRecipeRun.bundledModel)", "--max-hourly-cost", "0.5"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("      cost ml.g5.2xlarge × 1 local: $0 (≈ $1.515/h on AWS) (estimate)\n"), "\(plan.stdout)")
        #expect(plan.stdout.contains("cost     the run would create endpoints at local: $0 (≈ $1.515/h on AWS) (estimate)\n"), "\(plan.stdout)")
        #expect(plan.stdout.contains("budget   ≈ $1.515/h (estimate), over $0.50/h (--max-hourly-cost): AWS would refuse this run"), "\(plan.stdout)")
    }

    @Test("a run kept on the local cloud with --ttl: local: $0 everywhere, a budget only warns, and the local cloud deletes the endpoint on time")
    func ttlOnTheLocalCloud() throws {
        let run = try ShippedRecipeRun()
        defer { run.remove() }
        let r = try run.sous([
            "run", "--local", Self.recipe, "-p", "model_id=\(ShippedRecipeRun.bundledModel)", "-p", "poll_interval=0.1",
            "-p", "max_new_tokens=8", "--keep", "--ttl", "3s", "--max-hourly-cost", "0.5",
        ])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stderr.contains("warning: on AWS this run would be refused: the run's endpoints would cost ≈ $1.515/h (estimate), over $0.50/h (--max-hourly-cost)"), "\(r.stderr)")
        #expect(r.stderr.contains("warning: the local cloud costs $0, so the run goes on"))
        #expect(r.stderr.contains("running  1 endpoint is still running on the local cloud (local: $0; it stops with the local cloud)."), "\(r.stderr)")
        #expect(r.stderr.contains(": ml.g5.2xlarge × 1, local: $0 (≈ $1.515/h on AWS), up "), "\(r.stderr)")
        #expect(r.stderr.contains("; its ttl deletes it at "), "\(r.stderr)")
        #expect(r.stderr.contains("the local cloud keeps running for "), "\(r.stderr)")
        let status = try run.sous(["status", "llama2-7b-tgi"])
        #expect(status.stdout.contains("ml.g5.2xlarge × 1, local: $0 (≈ $1.515/h on AWS), $0 so far"), "\(status.stdout)")
        #expect(status.stdout.contains("running endpoints of this workspace together: local: $0 (≈ $1.515/h on AWS)"), "\(status.stdout)")
        let cloud = try run.sous(["status", "--cloud", "--local"])
        #expect(cloud.stdout.contains("sous-tagged endpoints in the local cloud:"), "\(cloud.stdout)")

        // The local cloud's scheduler deletes the endpoint when the ttl runs out (waited for, never slept).
        let deleted = waitUntil(timeout: 60) {
            guard let r = try? run.sous(["local", "status", "--json"]),
                let s = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            else { return false }
            return (s["endpoints"] as? [[String: Any]])?.isEmpty == true
        }
        #expect(deleted, "the endpoint outlived its ttl")
        #expect(try run.sous(["status", "llama2-7b-tgi"]).stdout.contains("gone from the local cloud"))
        let logs = try run.sous(["local", "logs"])
        #expect(logs.stdout.contains("fired: deleted the endpoint"), "\(logs.stdout)")
    }
}
