import Aggregation
import AggregatorAPI
import AggregatorStore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Why the service refused a request. Each case answers with its HTTP status and an
/// `application/problem+json` body whose title is the case name (or, for `frame` and
/// `store`, the wrapped typed error's case name). Nothing stored changes.
public enum ServiceError: Error, Equatable, Sendable {
    /// A frame the aggregator refused (`AggregationError`: malformed, badTag, labelReused, ...).
    case frame(AggregationError)
    /// The store refused or could not be reached.
    case store(StoreError)
    /// The body's media type is not the route's (`expected`).
    case unsupportedMediaType(expected: String)
    /// The body is larger than the limit (bytes).
    case bodyTooLarge(limit: Int)
    /// A batch with more frames than the limit.
    case batchTooLong(limit: Int)
    /// A batch body that does not split into length-prefixed frames.
    case malformedBatch(String)
    /// No group with this id.
    case unknownGroup(UInt32)
    /// No group has this meter.
    case unknownMeter(UInt32)
    /// A group with this id exists already.
    case groupExists(UInt32)
    /// The route needs a bearer token and none (or an unknown one) came.
    case unauthorized
    /// The token's role may not use this route.
    case forbidden(role: String)
    /// A JSON body or query parameter that does not parse or is out of range.
    case badRequest(String)
    /// The group is not in the phase this request needs (e.g. signed parameters before
    /// every public key is in).
    case wrongPhase(String)
    /// The scheme is not one the service runs.
    case unsupportedScheme(String)
    /// Another instance serves this group (`--groups`).
    case notServedHere(UInt32)
    /// The route is for groups of the other scheme (the decrypted sums of a Paillier group,
    /// the encrypted sums of an LWR-PSA group).
    case otherScheme(String)
    /// A customer or party request refused (CustomerRoutes.swift).
    case customer(CustomerAccessError)

    /// The typed error's case name, as problem titles and metrics name it.
    public var name: String {
        switch self {
        case .frame(let e): return e.name
        case .store(let e): return e.name
        case .unsupportedMediaType: return "unsupportedMediaType"
        case .bodyTooLarge: return "bodyTooLarge"
        case .batchTooLong: return "batchTooLong"
        case .malformedBatch: return "malformedBatch"
        case .unknownGroup: return "unknownGroup"
        case .unknownMeter: return "unknownMeter"
        case .groupExists: return "groupExists"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .badRequest: return "badRequest"
        case .wrongPhase: return "wrongPhase"
        case .unsupportedScheme: return "unsupportedScheme"
        case .notServedHere: return "notServedHere"
        case .otherScheme: return "otherScheme"
        case .customer(let e): return e.name
        }
    }

    public var httpStatus: HTTPResponse.Status {
        switch self {
        case .frame(let e):
            switch e {
            case .badTag: return .unauthorized
            case .unknownMeter, .wrongGroup: return .notFound
            case .labelReused, .duplicate, .periodAlreadyReleased: return .conflict
            case .malformed, .badPayload: return .badRequest
            default: return .unprocessableContent
            }
        case .store(let e):
            switch e {
            case .groupExists, .conflict: return .conflict
            case .unknownGroup: return .notFound
            case .invalidValue, .badURL: return .unprocessableContent
            case .unavailable, .database: return .serviceUnavailable
            }
        case .unsupportedMediaType: return .unsupportedMediaType
        case .bodyTooLarge, .batchTooLong: return .contentTooLarge
        case .malformedBatch, .badRequest: return .badRequest
        case .unknownGroup, .unknownMeter: return .notFound
        case .groupExists, .wrongPhase, .otherScheme: return .conflict
        case .unauthorized: return .unauthorized
        case .forbidden: return .forbidden
        case .unsupportedScheme: return .unprocessableContent
        case .notServedHere: return .misdirectedRequest
        case .customer(let e): return e.httpStatus
        }
    }

    public var detail: String {
        switch self {
        case .frame(let e): return "\(e)"
        case .store(let e): return e.description
        case .unsupportedMediaType(let expected): return "the body must be \(expected)"
        case .bodyTooLarge(let limit): return "the body exceeds \(limit) bytes"
        case .batchTooLong(let limit): return "a batch holds at most \(limit) frames"
        case .malformedBatch(let s): return s
        case .unknownGroup(let g): return "no group \(g)"
        case .unknownMeter(let m): return "no group has meter \(m)"
        case .groupExists(let g): return "group \(g) exists already"
        case .unauthorized: return "this route needs a bearer token"
        case .forbidden(let role): return "the \(role) role may not use this route"
        case .badRequest(let s): return s
        case .wrongPhase(let s): return s
        case .unsupportedScheme(let s): return "scheme \(s) is not served (lwr-psa and paillier are)"
        case .otherScheme(let s): return s
        case .notServedHere(let g): return "this instance does not serve group \(g) (see --groups)"
        case .customer(let e): return e.detail
        }
    }

    public var problem: Problem { Problem(title: name, status: Int(httpStatus.code), detail: detail) }
}

extension ServiceError: HTTPResponseError {
    public var status: HTTPResponse.Status { httpStatus }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        problemResponse(problem)
    }
}

/// A problem document as the response.
func problemResponse(_ problem: Problem) -> Response {
    let body = (try? JSONEncoder().encode(problem)) ?? Data()
    return Response(
        status: HTTPResponse.Status(code: problem.status),
        headers: [.contentType: "application/problem+json"],
        body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
}

extension AggregationError {
    /// The case name (problem titles, metric labels, batch outcomes).
    public var name: String {
        switch self {
        case .malformed: return "malformed"
        case .unknownMeter: return "unknownMeter"
        case .wrongGroup: return "wrongGroup"
        case .wrongScheme: return "wrongScheme"
        case .unexpectedType: return "unexpectedType"
        case .badTag: return "badTag"
        case .duplicate: return "duplicate"
        case .labelReused: return "labelReused"
        case .labelOutOfRange: return "labelOutOfRange"
        case .labelOutsideWindow: return "labelOutsideWindow"
        case .badPayload: return "badPayload"
        case .incomplete: return "incomplete"
        case .unknownLabel: return "unknownLabel"
        case .keySetupIncomplete: return "keySetupIncomplete"
        case .keySetupProtocol: return "keySetupProtocol"
        case .invalidGroup: return "invalidGroup"
        case .discreteLogOutOfRange: return "discreteLogOutOfRange"
        case .discreteLogBoundTooLarge: return "discreteLogBoundTooLarge"
        case .notInGroup: return "notInGroup"
        case .invalidWeights: return "invalidWeights"
        case .lwr: return "lwr"
        case .unexpectedRecovery: return "unexpectedRecovery"
        case .recoveryFailed: return "recoveryFailed"
        case .zeroCiphertext: return "zeroCiphertext"
        case .ciphertextOutOfRange: return "ciphertextOutOfRange"
        case .ciphertextNotInvertible: return "ciphertextNotInvertible"
        case .wrongKey: return "wrongKey"
        case .layoutIsolatesMeter: return "layoutIsolatesMeter"
        case .notAGroupSum: return "notAGroupSum"
        case .decryptedValueOutOfRange: return "decryptedValueOutOfRange"
        case .missingReading: return "missingReading"
        case .periodTooShort: return "periodTooShort"
        case .periodAlreadyReleased: return "periodAlreadyReleased"
        case .invalidTariff: return "invalidTariff"
        case .unsignedStatement: return "unsignedStatement"
        case .outsideTariffPeriod: return "outsideTariffPeriod"
        case .statistics: return "statistics"
        case .billNotAuthentic: return "billNotAuthentic"
        case .billTariffMismatch: return "billTariffMismatch"
        }
    }
}
