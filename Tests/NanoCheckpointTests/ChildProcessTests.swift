import Foundation
import Testing
@testable import NanoCheckpoint

/// `ChildProcess`: exit codes, signals, deadlines and captured output.
@Suite struct ChildProcessTests {
    static let environment = ProcessInfo.processInfo.environment

    @Test func capturesStatusAndOutput() {
        let outcome = ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 3"], environment: Self.environment, timeout: 20)
        #expect(outcome.termination == .exited(3))
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "out\n")
        #expect(String(decoding: outcome.stderr, as: UTF8.self) == "err\n")
    }

    @Test func reportsTheSignal() {
        let outcome = ChildProcess.run("/bin/sh", ["-c", "kill -SEGV $$"], environment: Self.environment, timeout: 20)
        #expect(outcome.termination == .signaled(SIGSEGV))
        #expect(ChildProcess.signalName(SIGSEGV) == "SIGSEGV")
    }

    @Test func stopsAChildAtTheDeadline() {
        let started = Date()
        let outcome = ChildProcess.run("/bin/sleep", ["30"], environment: Self.environment, timeout: 0.3)
        #expect(outcome.termination == .timedOut)
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func missingProgramIsNotStarted() {
        let outcome = ChildProcess.run("/nonexistent/program", [], environment: Self.environment, timeout: 5)
        #expect(outcome.termination == .notStarted(ENOENT))
    }
}
