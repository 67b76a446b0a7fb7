// Stack painting: the Swift face of CostProbes' pm_stack_probe_run, and the callgrind
// regions. The only file of this module that imports CostProbes.
internal import CostProbes

/// Why a stack probe could not measure.
public enum StackProbeError: Error, Equatable, Sendable {
    /// The stack buffer could not be mapped or guarded.
    case noMemory
    /// The thread could not be started on the buffer (too small for the C library's
    /// thread block?).
    case thread
    /// The body used the whole painted stack: the buffer is too small to measure it.
    case exhausted(stackBytes: Int)
}

/// The stack a body used, measured by painting.
public struct StackUse: Sendable, Equatable {
    /// Bytes of the probe thread's stack buffer.
    public let stackBytes: Int
    /// Painted bytes below the probe's entry frame (the most the body could use).
    public let paintedBytes: Int
    /// The high-water mark below the entry frame.
    public let highWaterBytes: Int
}

/// Carries a Swift closure through a C context pointer.
private final class ProbeBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private let callBody: pm_probe_body = { context in
    Unmanaged<ProbeBody>.fromOpaque(context!).takeUnretainedValue().run()
}

public enum StackProbe {
    /// Runs `body` once on a new thread whose stack is `stackBytes` of painted memory and
    /// returns how deep it went. The caller waits; `body` must not throw or escape.
    public static func measure(stackBytes: Int, _ body: @escaping () -> Void) throws(StackProbeError) -> StackUse {
        let box = ProbeBody(body)
        var result = pm_stack_probe_result()
        let status = withExtendedLifetime(box) {
            pm_stack_probe_run(stackBytes, callBody, Unmanaged.passUnretained(box).toOpaque(), &result)
        }
        switch status {
        case PM_STACK_PROBE_OK:
            return StackUse(
                stackBytes: result.stack_bytes, paintedBytes: result.painted_bytes,
                highWaterBytes: result.high_water_bytes)
        case PM_STACK_PROBE_NO_MEMORY: throw .noMemory
        case PM_STACK_PROBE_EXHAUSTED: throw .exhausted(stackBytes: result.stack_bytes)
        default: throw .thread
        }
    }
}

/// The callgrind regions of scripts/count-instructions.sh: `prepare` and `boundary` run
/// inside C functions named pm_cost_region_prepare and pm_cost_region_boundary.
public enum CallgrindRegion {
    public static func prepare(_ body: @escaping () -> Void) {
        let box = ProbeBody(body)
        withExtendedLifetime(box) { pm_cost_region_prepare(callBody, Unmanaged.passUnretained(box).toOpaque()) }
    }

    public static func boundary(_ body: @escaping () -> Void) {
        let box = ProbeBody(body)
        withExtendedLifetime(box) { pm_cost_region_boundary(callBody, Unmanaged.passUnretained(box).toOpaque()) }
    }
}
