import SousAWS
import Testing

@Suite("Multipart part sizes")
struct PartSizeTests {
    @Test("Automatic part size: a sixteenth of the file in whole MiB, between 8 and 64 MiB")
    func automatic() {
        let mib: UInt64 = 1 << 20
        #expect(S3Client.automaticPartSize(fileSize: 20 * mib) == 8 * mib)
        #expect(S3Client.automaticPartSize(fileSize: 128 * mib) == 8 * mib)
        #expect(S3Client.automaticPartSize(fileSize: 129 * mib) == 9 * mib)
        #expect(S3Client.automaticPartSize(fileSize: 640 * mib) == 40 * mib)
        #expect(S3Client.automaticPartSize(fileSize: 640 * mib + 1) == 41 * mib)
        #expect(S3Client.automaticPartSize(fileSize: 1024 * mib) == 64 * mib)
        #expect(S3Client.automaticPartSize(fileSize: 500 * 1024 * mib) == 64 * mib)
    }

    @Test("A requested part size is raised (to whole MiB) only when the file would need more than 10,000 parts")
    func tenThousandParts() {
        let mib: UInt64 = 1 << 20
        #expect(S3Client.effectivePartSize(fileSize: 1000 * mib, requested: 8 * mib) == 8 * mib)
        // 1 TiB in 64 MiB parts is 16,384 parts: raised to 105 MiB (the first whole MiB giving <= 10,000).
        let tib = 1024 * 1024 * mib
        let p = S3Client.effectivePartSize(fileSize: tib, requested: S3Client.automaticPartSize(fileSize: tib))
        #expect(p == 105 * mib)
        #expect((tib + p - 1) / p <= 10_000)
    }
}
