import Testing
import NanoForge

@Test func versionIsSemantic() {
    #expect(NanoForgeVersion.string.split(separator: ".").count == 3)
}
