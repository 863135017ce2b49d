import Testing
import NanoForge
@testable import NanoQuant

@Test func versionIsSemantic() {
    #expect(NanoForgeVersion.string.split(separator: ".").count == 3)
}
