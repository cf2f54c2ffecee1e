public import Foundation

/// SageMaker resource names.
public enum SageMakerNames {
    /// `sagemaker.utils.name_from_base`: `base` cut to `maxLength - 24` characters, then `-` and a UTC
    /// `YYYY-MM-DD-HH-MM-SS-mmm` timestamp (63 characters at most by default).
    public static func nameFromBase(_ base: String, date: Date = Date(), maxLength: Int = 63) -> String {
        let stamp = timestamp(date)
        let trimmed = String(base.prefix(max(0, maxLength - stamp.count - 1)))
        return "\(trimmed)-\(stamp)"
    }

    /// `sagemaker_timestamp()`: `YYYY-MM-DD-HH-MM-SS-mmm` in UTC.
    public static func timestamp(_ date: Date) -> String {
        let secs = floor(date.timeIntervalSince1970)
        var t = time_t(secs)
        var tm = tm()
        gmtime_r(&t, &tm)
        let ms = Int((date.timeIntervalSince1970 - secs) * 1000)
        func p(_ v: Int32, _ w: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(p(tm.tm_year + 1900, 4))-\(p(tm.tm_mon + 1))-\(p(tm.tm_mday))-\(p(tm.tm_hour))-\(p(tm.tm_min))-\(p(tm.tm_sec))-\(p(Int32(min(999, ms)), 3))"
    }

    /// The image's base name for model names (`…/huggingface-pytorch-tgi-inference:tag` → `huggingface-pytorch-tgi-inference`),
    /// as `HuggingFaceModel.deploy` names its model.
    public static func imageBaseName(_ image: String) -> String {
        let last = image.split(separator: "/").last.map(String.init) ?? image
        return String(last.split(separator: ":").first ?? Substring(last))
    }
}
