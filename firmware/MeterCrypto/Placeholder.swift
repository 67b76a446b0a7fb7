public struct Probe { public var x: InlineArray<4, UInt64> = .init(repeating: 0); public init() {} }
