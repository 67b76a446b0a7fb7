import CoreMetrics
import Foundation
import Metrics
import Prometheus

/// The service's metrics through swift-metrics, kept in its own Prometheus registry (no
/// global bootstrap, so several services in one process count apart) and rendered for
/// `GET /metrics` in the Prometheus text format.
public final class ServiceMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(5),
        ]
        self.factory = factory
        // Present from the start, at 0.
        framesAccepted(0)
        labelsDecrypted(0)
    }

    /// Reading and key-setup frames stored.
    public func framesAccepted(_ n: Int) {
        Counter(label: "metering_frames_accepted_total", factory: factory).increment(by: n)
    }

    /// Frames acknowledged again (retransmissions of stored readings, readings too old for the window).
    public func framesAcknowledgedAgain(_ n: Int) {
        Counter(label: "metering_frames_acknowledged_again_total", factory: factory).increment(by: n)
    }

    /// Frames refused, by the typed error's name.
    public func frameRejected(reason: String) {
        Counter(label: "metering_frames_rejected_total", dimensions: [("reason", reason)], factory: factory)
            .increment()
    }

    /// Labels whose sum was decrypted and stored.
    public func labelsDecrypted(_ n: Int) {
        Counter(label: "metering_labels_decrypted_total", factory: factory).increment(by: n)
    }

    /// One request's latency, by route and status.
    public func request(route: String, status: Int, nanoseconds: Int64) {
        Timer(
            label: "metering_http_request_duration_seconds",
            dimensions: [("route", route), ("status", String(status))], factory: factory
        ).recordNanoseconds(nanoseconds)
    }

    /// The text exposition format.
    public func render() -> String { registry.emitToString() }
}
