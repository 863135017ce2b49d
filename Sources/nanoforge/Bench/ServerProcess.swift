import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP server run as a child process for a benchmark: started on a free loopback port, ready
/// when `GET /health` answers 200, stopped with SIGTERM, its peak resident memory read from
/// `wait4` (the child's high-water mark, as `MeasuredProcess` reports it).
final class ServerProcess {
    let name: String
    let port: Int
    let log: String
    private let pid: pid_t

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Spawns `executable arguments…`, where `{port}` in an argument becomes the chosen port, with
    /// stdout and stderr in `log`; waits up to `readyTimeout` seconds for `/health`.
    init(name: String, executable: String, arguments: [String], log: String, readyTimeout: Double = 120) throws {
        let port = try Self.freePort()
        self.name = name
        self.port = port
        self.log = log
        pid = try MeasuredProcess.spawn(executable, arguments.map { $0.replacingOccurrences(of: "{port}", with: String(port)) }, log: log)
        let deadline = Date().addingTimeInterval(readyTimeout)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw CLIErrors.BadInput("\(name) exited before it was ready; \(log): \(Self.lastLine(log))")
            }
            if Self.healthy(baseURL) { return }
            usleep(200_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, nil, 0)
        throw CLIErrors.BadInput("\(name) was not ready after \(Int(readyTimeout)) s; \(log): \(Self.lastLine(log))")
    }

    /// SIGTERM, then the exit status and peak RSS in bytes (SIGKILL after `grace` seconds).
    func stop(grace: Double = 30) -> (cleanExit: Bool, peakRSSBytes: Int) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        var usage = rusage()
        let deadline = Date().addingTimeInterval(grace)
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if r < 0 && errno != EINTR { break }
            if Date() > deadline { kill(pid, SIGKILL) }
            usleep(50_000)
        }
        let exited = status & 0x7f == 0
        return (exited && (status >> 8) & 0xff == 0, usage.ru_maxrss * 1024)
    }

    static func healthy(_ base: String) -> Bool {
        guard let url = URL(string: base + "/health") else { return false }
        var request = URLRequest(url: url)
        request.timeoutInterval = 2
        return LoadGenerator.send(URLSession.shared, request).0 == 200
    }

    /// A port no socket holds now (bound to 127.0.0.1:0 and released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CLIErrors.BadInput("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CLIErrors.BadInput("cannot find a free loopback port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func lastLine(_ log: String) -> String {
        (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").last.map(String.init) ?? ""
    }
}
