import Foundation
@testable import GenGraph
import XCTest

/// `dump --format html` in a real browser: headless Chromium loads the page with `#selftest`,
/// the page's script selects kernels, sorts and counts, and the test reads its report (and any
/// script error) from the dumped DOM.
final class PlanPageBrowserTests: XCTestCase {
    static var chromium: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for directory in path.split(separator: ":") {
                let candidate = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// The self-test's report of `page`, loaded from a file.
    private func selfTest(_ page: PlanPage) throws -> [String: Any] {
        guard let chromium = Self.chromium else {
            throw Prerequisites.missing("Chromium is not installed", install: "bash tools/setup.sh")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gengraph-page-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("plan.html")
        try page.write(to: file.path)
        let result = try Prerequisites.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                            "--user-data-dir=\(directory.appendingPathComponent("profile").path)",
                                            "--dump-dom", file.absoluteString + "#selftest"])
        XCTAssertEqual(result.status, 0, result.output)
        let dom = result.output
        let errors = try XCTUnwrap(text(of: "gg-errors", in: dom), "no #gg-errors in the DOM:\n\(dom.prefix(2000))")
        XCTAssertEqual(errors, "", "script errors")
        let report = try XCTUnwrap(text(of: "gg-selftest", in: dom), "no #gg-selftest in the DOM")
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any], report)
    }

    /// The text inside `<pre id="ID" ...>`, entities decoded.
    private func text(of id: String, in dom: String) -> String? {
        guard let start = dom.range(of: "<pre id=\"\(id)\""), let open = dom[start.upperBound...].range(of: ">"),
              let close = dom[open.upperBound...].range(of: "</pre>") else { return nil }
        return String(dom[open.upperBound..<close.lowerBound]).replacingOccurrences(of: "&lt;", with: "<")
            .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&quot;", with: "\"")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    func testPagesRenderSelectAndSortInChromium() throws {
        for name in ["vae", "dcgan"] {
            let page = try PlanPageTests.page(name, layout: Graphviz.executable() == nil ? nil : { try Graphviz.svg($0) })
            let report = try selfTest(page)
            XCTAssertEqual((report["errors"] as? [Any])?.count, 0, "\(name): \(report)")
            let sections = try XCTUnwrap(report["sections"] as? [[String: Any]])
            XCTAssertEqual(sections.count, page.objectives.count, name)
            for (o, section) in sections.enumerated() {
                let label = "\(name) \(section["name"] ?? "?")"
                let steps = page.objectives[o].compilation.plan.steps.count
                XCTAssertEqual(section["rows"] as? Int, steps, label)
                XCTAssertEqual(section["kernels"] as? Int, steps, label)
                XCTAssertGreaterThan(section["rowsWithLines"] as? Int ?? 0, 0, label)
                XCTAssertGreaterThan(section["highlighted"] as? Int ?? 0, 0, "\(label): selecting a kernel highlights its source lines")
                XCTAssertEqual(section["highlighted"] as? Int, section["expectedLines"] as? Int, label)
                XCTAssertEqual(section["selectedRows"] as? Int, 1, label)
                XCTAssertEqual(section["detailShown"] as? Bool, true, label)
                XCTAssertEqual(section["sortedDescending"] as? Bool, true, label)
                XCTAssertEqual(section["chartDots"] as? Int, page.kernels[o].filter { $0.flops > 0 && $0.bytes > 0 }.count, label)
                if Graphviz.executable() != nil {
                    XCTAssertEqual(section["graphNodes"] as? Int, steps, label)
                    XCTAssertEqual(section["graphSelects"] as? Bool, true, "\(label): clicking a graph box selects its row")
                }
            }
        }
    }
}
