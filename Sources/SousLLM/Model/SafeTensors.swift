import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Element types the runtime reads; weights stay in their stored type and are widened in the kernels.
public enum TensorDType: String, Sendable {
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"

    var byteSize: Int { self == .f32 ? 4 : 2 }
}

/// A read-only memory mapping of a whole file, unmapped on deinit.
///
/// `@unchecked Sendable`: the mapping is created once, never written (PROT_READ) and only freed in deinit.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let size: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw LLMError.missingFile(path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw LLMError.invalidSafetensors(file: path, reason: "it cannot be read") }
        let size = Int(st.st_size)
        guard size > 8 else { throw LLMError.invalidSafetensors(file: path, reason: "it is only \(size) bytes long") }
        guard let ptr = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), ptr != MAP_FAILED else {
            throw LLMError.invalidSafetensors(file: path, reason: "it cannot be memory-mapped")
        }
        self.base = UnsafeRawPointer(ptr)
        self.size = size
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
    }
}

/// One tensor inside a mapped safetensors file.
struct TensorView: @unchecked Sendable {
    // @unchecked: `data` points into a read-only MappedFile kept alive by `file`.
    let name: String
    let dtype: TensorDType
    let shape: [Int]
    let data: UnsafeRawPointer
    let file: MappedFile

    var count: Int { shape.reduce(1, *) }

    /// Element `i` widened to Float.
    func float(at i: Int) -> Float {
        switch dtype {
        case .f32: return data.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
        case .bf16: return Float(bitPattern: UInt32(data.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16)
        case .f16: return halfToFloat(data.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
        }
    }

    /// The whole tensor widened to Float (for small tensors such as norm weights).
    func floats() -> [Float] { (0..<count).map { float(at: $0) } }
}

/// Scalar IEEE half → float by bit manipulation (no F16C dependency).
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let magnitude = UInt32(h & 0x7fff)
    if magnitude >= 0x7c00 {  // inf / nan
        return Float(bitPattern: sign | 0x7f80_0000 | ((magnitude & 0x3ff) << 13))
    }
    return Float(bitPattern: sign | (Float(bitPattern: magnitude << 13) * 0x1p112).bitPattern)
}

/// A set of safetensors files (single or sharded) with a name → tensor index.
struct SafetensorsArchive: Sendable {
    private(set) var tensors: [String: TensorView] = [:]

    /// Opens `model.safetensors`, or every shard listed in `model.safetensors.index.json`.
    static func open(directory: String) throws -> SafetensorsArchive {
        let dir = URL(fileURLWithPath: directory)
        let index = dir.appendingPathComponent("model.safetensors.index.json").path
        let single = dir.appendingPathComponent("model.safetensors").path
        var files: [String] = []
        if FileManager.default.fileExists(atPath: index) {
            let json = try readJSONObject(index)
            guard let map = json["weight_map"] as? [String: String] else {
                throw LLMError.invalidJSON(file: index, reason: "weight_map is missing")
            }
            files = Array(Set(map.values)).sorted().map { dir.appendingPathComponent($0).path }
        } else if FileManager.default.fileExists(atPath: single) {
            files = [single]
        } else {
            let all = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            files = all.filter { $0.hasSuffix(".safetensors") }.sorted().map { dir.appendingPathComponent($0).path }
            if files.isEmpty { throw LLMError.missingFile(single) }
        }
        var archive = SafetensorsArchive()
        for file in files {
            guard FileManager.default.fileExists(atPath: file) else { throw LLMError.missingFile(file) }
            try archive.add(MappedFile(path: file))
        }
        return archive
    }

    mutating func add(_ file: MappedFile) throws {
        let headerLength = Int(file.base.loadUnaligned(as: UInt64.self).littleEndian)
        guard headerLength > 0, headerLength <= file.size - 8 else {
            throw LLMError.invalidSafetensors(file: file.path, reason: "the header length \(headerLength) exceeds the file")
        }
        let headerData = Data(bytes: file.base + 8, count: headerLength)
        let header = try parseJSONObject(headerData, file: file.path)
        let dataStart = 8 + headerLength
        let dataSize = file.size - dataStart
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                let shapeAny = info["shape"] as? [Any], let offsets = info["data_offsets"] as? [Any], offsets.count == 2,
                let begin = jsonInt(offsets[0]), let end = jsonInt(offsets[1])
            else {
                throw LLMError.invalidSafetensors(file: file.path, reason: "the entry for \(name) is malformed")
            }
            let shape = shapeAny.compactMap { jsonInt($0) }
            guard let dtype = TensorDType(rawValue: dtypeName) else {
                // Keep going: the tensor may be unused (an error is raised only when it is needed).
                unsupported[name] = dtypeName
                continue
            }
            var elements = 1
            for d in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow, shapeAny.count == shape.count else {
                    throw LLMError.invalidSafetensors(file: file.path, reason: "tensor \(name) has an invalid shape \(shapeAny)")
                }
                elements = product
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, begin >= 0, end == begin + bytes, end <= dataSize else {
                throw LLMError.invalidSafetensors(
                    file: file.path, reason: "tensor \(name) has offsets \(begin)..<\(end) for \(bytes) bytes in \(dataSize)")
            }
            tensors[name] = TensorView(name: name, dtype: dtype, shape: shape, data: file.base + dataStart + begin, file: file)
        }
    }

    private(set) var unsupported: [String: String] = [:]

    /// The tensor `name`, checked against `shape`.
    func tensor(_ name: String, shape: [Int]) throws -> TensorView {
        guard let t = tensors[name] else {
            if let dtype = unsupported[name] { throw LLMError.unsupportedDType(tensor: name, dtype: dtype) }
            throw LLMError.missingTensor(name)
        }
        guard t.shape == shape else { throw LLMError.shapeMismatch(tensor: name, expected: shape, actual: t.shape) }
        return t
    }
}
