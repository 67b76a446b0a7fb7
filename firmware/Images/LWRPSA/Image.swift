// The LWR-PSA meter image: the firmware's entry point, called by the board's startup code
// with its HAL table (hal/include/meter_hal.h). Only this scheme's code and state are in
// the image: the generic core is specialised for `LWRScheme`.

/// Runs the LWR-PSA meter on the board whose HAL table is `hal`, forever.
@_cdecl("meter_main")
public func meterMain(_ hal: UnsafeRawPointer, _ ticksPerSecond: UInt32) -> Never {
    Meter<LWRScheme>.run(board: Board(table: hal), timing: MeterTiming(ticksPerSecond: ticksPerSecond))
}
