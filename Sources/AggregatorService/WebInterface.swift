import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The browser interface served by `metering serve` (docs/web.md): plain HTML, CSS and
/// JavaScript from the `Web` resources, loaded once at start. Pages call the same JSON
/// routes as every other client; the customer's page decrypts in the browser.
struct WebInterface: Sendable {
    /// File name → (media type, bytes).
    let files: [String: (type: String, bytes: [UInt8])]

    static let shared = WebInterface()

    static let mediaTypes = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8", "svg": "image/svg+xml",
    ]

    init() {
        var files: [String: (String, [UInt8])] = [:]
        if let folder = Bundle.module.url(forResource: "Web", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        {
            for name in names {
                guard let type = Self.mediaTypes[(name as NSString).pathExtension],
                    let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path)
                else { continue }
                files[name] = (type, Array(data))
            }
        }
        precondition(files["index.html"] != nil, "the web interface is a resource of AggregatorService")
        self.files = files
    }

    /// Scripts and styles come from this service only, nothing is framed or cached, and no
    /// address leaves the page in a Referer.
    static let headers: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    func response(_ name: String) throws -> Response {
        guard let file = files[name] else {
            throw HTTPError(.notFound, message: "no page \(name) in the web interface")
        }
        var headers = Self.headers
        headers[.contentType] = file.type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }

    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in try response("index.html") }
        router.get("/ui/:file") { _, context in
            try response(context.parameters.get("file") ?? "")
        }
    }
}
