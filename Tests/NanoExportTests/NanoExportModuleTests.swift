import XCTest
@testable import NanoExport

final class NanoExportModuleTests: XCTestCase {
    func testModuleLinks() {
        XCTAssertEqual(String(describing: NanoExport.self), "NanoExport")
    }
}
