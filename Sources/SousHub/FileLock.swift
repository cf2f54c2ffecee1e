import Foundation

/// huggingface_hub's per-blob lock (`.locks/<repo folder>/<etag>.lock`, flock), shared across processes.
struct FileLock: Sendable {
    let fd: Int32

    static func acquire(_ path: String, repoID: String) async throws -> FileLock {
        do { try HubCache.makeDirectory((path as NSString).deletingLastPathComponent) } catch {
            throw HubClient.ioError(error, repoID: repoID, subject: path)
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HubClient.posixError(errno, repoID: repoID, subject: path) }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if errno != EWOULDBLOCK && errno != EINTR {
                close(fd)
                throw HubClient.posixError(errno, repoID: repoID, subject: path)
            }
            do {
                try await Task.sleep(for: .milliseconds(50))  // poll: another download holds the lock
            } catch {
                close(fd)
                throw error
            }
        }
        return FileLock(fd: fd)
    }

    func release() {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
