import AggregatorStore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// The aggregator service (`metering serve`): opens the store, loads the stored groups,
/// and serves the routes over HTTPS (or plain HTTP when asked for) until cancelled.
public struct AggregatorServer: Sendable {
    /// Why the service could not start.
    public enum StartError: Error, CustomStringConvertible {
        /// Neither TLS (certificate and key) nor `insecureHTTP` was configured.
        case noTransport
        /// Only one of the certificate and the key was given.
        case incompleteTLS
        /// The certificate or key could not be read.
        case tls(String)
        /// The store could not be opened or its groups not loaded.
        case store(String)

        public var description: String {
            switch self {
            case .noTransport: return "give --tls-cert and --tls-key, or --insecure-http for plain HTTP"
            case .incompleteTLS: return "--tls-cert and --tls-key go together"
            case .tls(let s): return "TLS: \(s)"
            case .store(let s): return "store: \(s)"
            }
        }
    }

    public let configuration: ServiceConfiguration
    public let metrics = ServiceMetrics()
    let logger: Logger

    public init(configuration: ServiceConfiguration, logger: Logger = Logger(label: "metering.serve")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The OpenAPI document served at /openapi.yaml (docs/api/openapi.yaml).
    public static var openAPIDocument: String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { preconditionFailure("the OpenAPI document is a resource of AggregatorService") }
        return text
    }

    func tlsConfiguration() throws(StartError) -> TLSConfiguration? {
        switch (configuration.tlsCertificate, configuration.tlsKey) {
        case (nil, nil):
            guard configuration.insecureHTTP else { throw .noTransport }
            return nil
        case (let cert?, let key?):
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(cert).map { NIOSSLCertificateSource.certificate($0) }
                let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
                return TLSConfiguration.makeServerConfiguration(
                    certificateChain: chain, privateKey: .privateKey(privateKey))
            } catch {
                throw .tls("\(error)")
            }
        default:
            throw .incompleteTLS
        }
    }

    /// Runs until the task is cancelled (or SIGINT/SIGTERM through the application's
    /// graceful shutdown). `onListening(port)` is called once uploads are accepted.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let tls = try tlsConfiguration()
        let store: any AggregatorStore
        do { store = try await openStore(configuration.database) } catch { throw StartError.store("\(error)") }
        let core = ServiceCore(store: store, metrics: metrics, logger: logger, served: configuration.groups)
        do { try await core.loadGroups() } catch {
            await store.close()
            throw StartError.store("\(error)")
        }
        let routes = Routes(core: core, metrics: metrics, configuration: configuration, openAPI: Self.openAPIDocument)
        let server: HTTPServerBuilder = try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1()
        let logger = self.logger
        let database = store.kind
        let scheme = tls == nil ? "http" : "https"
        let app = Application(
            router: routes.build(), server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port), serverName: "metering"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.info(
                    "serving",
                    metadata: ["url": "\(scheme)://\(configuration.host):\(port)", "database": "\(database)"])
                await onListening(port)
            },
            logger: logger)
        do { try await app.runService() } catch {
            await store.close()
            throw error
        }
        await store.close()
    }
}
