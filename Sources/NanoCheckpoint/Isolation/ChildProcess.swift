import Foundation

/// Runs a program to completion or to a deadline, capturing its stdout and stderr through pipes
/// (no temporary files), and always reaps it (no zombie is left, even when it is killed).
enum ChildProcess {
    enum Termination: Equatable {
        case exited(Int32)
        case signaled(Int32)
        /// Still running at the deadline: killed (SIGKILL) and reaped.
        case timedOut
        /// `posix_spawn` failed with this errno (missing executable, no memory, …).
        case notStarted(Int32)
    }

    struct Outcome {
        var termination: Termination
        var stdout: Data
        var stderr: Data
    }

    /// At most this much of each stream is kept; the rest is read and dropped so the child never
    /// blocks on a full pipe.
    static let captureLimit = 1 << 20

    static func run(_ executable: String, _ arguments: [String], environment: [String: String],
                    timeout: Double) -> Outcome {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { return Outcome(termination: .notStarted(errno), stdout: Data(), stderr: Data()) }
        guard pipe(&errPipe) == 0 else {
            let e = errno
            close(outPipe[0]); close(outPipe[1])
            return Outcome(termination: .notStarted(e), stdout: Data(), stderr: Data())
        }
        // Close-on-exec (Swift's Glibc lacks pipe2), so that other children do not inherit our
        // ends and hold the pipes open; the child gets its ends through dup2, which clears it.
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            return Outcome(termination: .notStarted(spawned), stdout: Data(), stderr: Data())
        }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, timeout) * 1e9)
        var captured = [Data(), Data()]
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        // Read both streams until the child closes them (it exits) or the deadline passes.
        while fds.contains(where: { $0.fd >= 0 }) {
            let now = DispatchTime.now().uptimeNanoseconds
            guard now < deadline else { timedOut = true; break }
            let waitMs = Int32(min(UInt64(Int32.max), (deadline - now + 999_999) / 1_000_000))
            let ready = poll(&fds, nfds_t(fds.count), waitMs)
            if ready < 0 && errno != EINTR { break }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = read(fds[i].fd, &buffer, buffer.count)
                if n > 0 {
                    if captured[i].count < captureLimit { captured[i].append(contentsOf: buffer[..<min(n, captureLimit - captured[i].count)]) }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[i].fd)
                    fds[i].fd = -1
                }
            }
        }
        for f in fds where f.fd >= 0 { close(f.fd) }
        var status: Int32 = 0
        // Both streams closed: the child is exiting; it still gets only until the deadline.
        while !timedOut {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            // Reaped elsewhere (ECHILD): its status is lost; never report that as success.
            if r < 0 && errno != EINTR { return Outcome(termination: .exited(-1), stdout: captured[0], stderr: captured[1]) }
            if DispatchTime.now().uptimeNanoseconds >= deadline { timedOut = true } else { usleep(2_000) }
        }
        if timedOut {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return Outcome(termination: .timedOut, stdout: captured[0], stderr: captured[1])
        }
        let signal = status & 0x7f
        let termination: Termination = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        return Outcome(termination: termination, stdout: captured[0], stderr: captured[1])
    }

    /// "SIGSEGV" for 11 and the other signals a crashing library dies of; "signal N" otherwise.
    static func signalName(_ signal: Int32) -> String {
        let names: [Int32: String] = [SIGSEGV: "SIGSEGV", SIGBUS: "SIGBUS", SIGABRT: "SIGABRT", SIGILL: "SIGILL",
                                      SIGFPE: "SIGFPE", SIGTRAP: "SIGTRAP", SIGKILL: "SIGKILL", SIGTERM: "SIGTERM"]
        return names[signal] ?? "signal \(signal)"
    }
}
