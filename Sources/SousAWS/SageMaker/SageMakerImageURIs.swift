import Foundation

/// Container image URIs for the two LLM serving stacks the notebooks use, from a static table.
///
/// Provenance: aws/sagemaker-python-sdk `src/sagemaker/image_uri_config/` (Apache-2.0), read through the
/// project's code-search index: `huggingface-llm.json` at commit 91ade264f48ca424be068b64540e316a15d931ee
/// (versions 1.0.3 → tag_prefix `2.0.1-tgi1.0.3`, py39, `cu118-ubuntu20.04`; 2.0.2 → `2.3.0-tgi2.0.2`, py310,
/// `cu121-ubuntu22.04`; the full tags agree with the SDK unit test `test_huggingface_llm.py`),
/// `djl-deepspeed.json` at commit c19f6e218616ffea255167bc50b7c8e300bce68e (0.25.0 → `0.25.0-deepspeed0.11.0-cu118`)
/// and `djl-lmi.json` at commit 0b734635368bf92275284a3c507939188ea541ee (0.28.0 → `0.28.0-lmi10.0.0-cu124`).
/// The ISO partitions (us-iso-east-1, us-isob-east-1) are left out.
public enum SageMakerImageURIs {
    /// A serving framework and version.
    public enum Framework: String, Sendable, CaseIterable {
        /// Hugging Face TGI (`get_huggingface_llm_image_uri("huggingface", version=…)`).
        case huggingfaceLLM = "huggingface-llm"
        /// DJL Serving with DeepSpeed (`image_uris.retrieve("djl-deepspeed", …)`).
        case djlDeepSpeed = "djl-deepspeed"
        /// DJL Serving LMI (`image_uris.retrieve("djl-lmi", …)`).
        case djlLMI = "djl-lmi"
    }

    struct Entry {
        let repository: String
        let tag: String
        let registries: [String: String]
    }

    static func entry(_ framework: Framework, _ version: String) -> Entry? {
        switch (framework, version) {
        case (.huggingfaceLLM, "1.0.3"), (.huggingfaceLLM, "1.0"):
            return Entry(repository: "huggingface-pytorch-tgi-inference", tag: "2.0.1-tgi1.0.3-gpu-py39-cu118-ubuntu20.04", registries: tgiRegistries)
        case (.huggingfaceLLM, "2.0.2"):
            return Entry(repository: "huggingface-pytorch-tgi-inference", tag: "2.3.0-tgi2.0.2-gpu-py310-cu121-ubuntu22.04", registries: tgiRegistries)
        case (.djlDeepSpeed, "0.25.0"):
            return Entry(repository: "djl-inference", tag: "0.25.0-deepspeed0.11.0-cu118", registries: djlDeepSpeedRegistries)
        case (.djlLMI, "0.28.0"):
            return Entry(repository: "djl-inference", tag: "0.28.0-lmi10.0.0-cu124", registries: djlLMIRegistries)
        default:
            return nil
        }
    }

    /// The versions sous knows for a framework.
    public static func knownVersions(_ framework: Framework) -> [String] {
        switch framework {
        case .huggingfaceLLM: ["1.0.3", "2.0.2"]
        case .djlDeepSpeed: ["0.25.0"]
        case .djlLMI: ["0.28.0"]
        }
    }

    /// The regions a framework/version is published in.
    public static func regions(_ framework: Framework, version: String) -> [String] {
        entry(framework, version)?.registries.keys.sorted() ?? []
    }

    /// `<account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>:<tag>`.
    /// - Throws: `AWSConfigError` naming the known versions or regions when the pair is not in the table.
    public static func uri(_ framework: Framework, version: String, region: String) throws -> String {
        guard let e = entry(framework, version) else {
            throw AWSConfigError(
                "No \(framework.rawValue) image version \(version) is known to sous; use one of \(knownVersions(framework).joined(separator: ", ")) or give the image URI literally.")
        }
        guard let account = e.registries[region] else {
            throw AWSConfigError(
                "The \(framework.rawValue) \(version) image is not published in \(region); use one of \(e.registries.keys.sorted().joined(separator: ", ")) or give the image URI literally.")
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return "\(account).dkr.ecr.\(region).\(suffix)/\(e.repository):\(e.tag)"
    }

    static let tgiRegistries: [String: String] = [
        "af-south-1": "626614931356", "ap-east-1": "871362719292", "ap-northeast-1": "763104351884",
        "ap-northeast-2": "763104351884", "ap-northeast-3": "364406365360", "ap-south-1": "763104351884",
        "ap-south-2": "772153158452", "ap-southeast-1": "763104351884", "ap-southeast-2": "763104351884",
        "ap-southeast-3": "907027046896", "ap-southeast-4": "457447274322", "ca-central-1": "763104351884",
        "ca-west-1": "204538143572", "cn-north-1": "727897471807", "cn-northwest-1": "727897471807",
        "eu-central-1": "763104351884", "eu-central-2": "380420809688", "eu-north-1": "763104351884",
        "eu-south-1": "692866216735", "eu-south-2": "503227376785", "eu-west-1": "763104351884",
        "eu-west-2": "763104351884", "eu-west-3": "763104351884", "il-central-1": "780543022126",
        "me-central-1": "914824155844", "me-south-1": "217643126080", "sa-east-1": "763104351884",
        "us-east-1": "763104351884", "us-east-2": "763104351884", "us-gov-east-1": "446045086412",
        "us-gov-west-1": "442386744353", "us-west-1": "763104351884", "us-west-2": "763104351884",
    ]
    static let djlDeepSpeedRegistries: [String: String] = [
        "af-south-1": "626614931356", "ap-east-1": "871362719292", "ap-northeast-1": "763104351884",
        "ap-northeast-2": "763104351884", "ap-northeast-3": "364406365360", "ap-south-1": "763104351884",
        "ap-southeast-1": "763104351884", "ap-southeast-2": "763104351884", "ap-southeast-3": "907027046896",
        "ca-central-1": "763104351884", "ca-west-1": "204538143572", "cn-north-1": "727897471807",
        "cn-northwest-1": "727897471807", "eu-central-1": "763104351884", "eu-north-1": "763104351884",
        "eu-south-1": "692866216735", "eu-west-1": "763104351884", "eu-west-2": "763104351884",
        "eu-west-3": "763104351884", "il-central-1": "780543022126", "me-south-1": "217643126080",
        "sa-east-1": "763104351884", "us-east-1": "763104351884", "us-east-2": "763104351884",
        "us-west-1": "763104351884", "us-west-2": "763104351884",
    ]
    static let djlLMIRegistries: [String: String] = [
        "af-south-1": "626614931356", "ap-east-1": "871362719292", "ap-northeast-1": "763104351884",
        "ap-northeast-2": "763104351884", "ap-northeast-3": "364406365360", "ap-south-1": "763104351884",
        "ap-southeast-1": "763104351884", "ap-southeast-2": "763104351884", "ap-southeast-3": "907027046896",
        "ca-central-1": "763104351884", "ca-west-1": "204538143572", "cn-north-1": "727897471807",
        "cn-northwest-1": "727897471807", "eu-central-1": "763104351884", "eu-north-1": "763104351884",
        "eu-south-1": "692866216735", "eu-west-1": "763104351884", "eu-west-2": "763104351884",
        "eu-west-3": "763104351884", "il-central-1": "780543022126", "me-central-1": "914824155844",
        "me-south-1": "217643126080", "sa-east-1": "763104351884", "us-east-1": "763104351884",
        "us-east-2": "763104351884", "us-gov-east-1": "446045086412", "us-gov-west-1": "442386744353",
        "us-west-1": "763104351884", "us-west-2": "763104351884",
    ]
}
