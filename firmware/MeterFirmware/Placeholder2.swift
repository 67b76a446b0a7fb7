#if !hasFeature(Embedded)
import MeterCrypto
#endif
import MeterHAL
public func probe() -> UInt64 { var p = Probe(); p.x[1] = 3; return p.x[1] }
