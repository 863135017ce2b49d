import Hummingbird
import NanoCheckpoint

/// JSON and error responses.
enum HTTPReplies {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized)))
    }

    static func error(_ e: APIError) -> Response {
        var response = json(e.json, status: HTTPResponse.Status(code: e.status))
        if e.status == 401 { response.headers[.wwwAuthenticate] = "Bearer" }
        return response
    }
}
