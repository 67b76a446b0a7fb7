// The customer key as a code a person types: shown once by the meter (its in-home display),
// typed into `metering customer` or the browser. docs/spec/customer-detail.md.
//
// 128 key bits, then 2 zero bits, as 26 symbols of Crockford's Base32 (0-9 and A-Z without
// I, L, O, U; 5 bits each, most significant first), then one check symbol (Luhn mod 32 over
// the 26 values), in groups of four: XXXX-XXXX-XXXX-XXXX-XXXX-XXXX-XXX (33 characters).
// Reading it back ignores case, hyphens and spaces, and takes O as 0 and I, L as 1.
// The check symbol catches every single mistyped symbol and most swaps of neighbours; a
// code that passes it but is wrong still opens nothing (the GCM tag fails).
//
// The key is secret: symbols are picked and read back without indexing a table by it
// (each lookup scans the whole alphabet with masks).

/// Why a typed customer code was refused.
public enum CustomerCodeError: Error, Equatable, Sendable {
    /// Not 27 symbols once hyphens and spaces are dropped.
    case wrongLength(symbols: Int)
    /// A character that is not a symbol of the code (position among the symbols).
    case invalidCharacter(position: Int)
    /// The check symbol does not match: a symbol was mistyped.
    case checkFailed
    /// The two padding bits after the key are not zero: not a code a meter made.
    case notACode
}

/// Rendering (meter) and reading (customer) of customer codes.
public enum CustomerCode {
    /// Symbols carrying the key.
    public static let keySymbols = 26
    /// Key symbols and the check symbol.
    public static let symbols = keySymbols + 1
    /// Characters of the rendered code, hyphens included.
    public static let renderedBytes = symbols + (symbols - 1) / 4
    static let alphabet: StaticString = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

    /// The ASCII symbol of `value` (0 ..< 32), without indexing by it.
    @inline(__always) static func symbol(_ value: UInt8) -> UInt8 {
        var out: UInt8 = 0
        alphabet.withUTF8Buffer { letters in
            for k in 0..<32 {
                let equal = UInt8(truncatingIfNeeded: (UInt16(value ^ UInt8(k)) &- 1) >> 8)  // 0xFF when value == k
                out |= letters[k] & equal
            }
        }
        return out
    }

    /// Luhn mod 32 check value over `values` (the rightmost is doubled).
    static func check(_ values: Span<UInt8>) -> UInt8 {
        var sum: UInt32 = 0
        var double = true
        var i = values.count - 1
        while i >= 0 {
            var addend = UInt32(values[i]) << (double ? 1 : 0)  // public: the position
            addend = (addend >> 5) + (addend & 31)
            sum += addend
            double.toggle()
            i -= 1
        }
        return UInt8(truncatingIfNeeded: (32 - sum % 32) % 32)
    }

    /// The 26 symbol values of a key: 5-bit groups of key ‖ 00.
    static func values(of key: Span<UInt8>, into out: inout InlineArray<27, UInt8>) {
        for s in 0..<keySymbols {
            var v: UInt8 = 0
            for b in 0..<5 {
                let bit = 5 * s + b  // bits 128, 129 are the zero padding
                let value = bit < 128 ? (key[bit / 8] >> UInt8(7 - bit % 8)) & 1 : 0
                v = v << 1 | value
            }
            out[s] = v
        }
    }

    /// Renders `key` (16 bytes) as the 33 ASCII characters of its code into `out`.
    public static func render(key: Span<UInt8>, into out: inout MutableSpan<UInt8>) {
        precondition(key.count == 16 && out.count >= renderedBytes, "a customer code renders 16 bytes into 33")
        var values = InlineArray<27, UInt8>(repeating: 0)
        Self.values(of: key, into: &values)
        values[keySymbols] = check(values.span.extracting(0..<keySymbols))
        var at = 0
        for s in 0..<symbols {
            if s > 0 && s % 4 == 0 {
                out[at] = 0x2D  // "-"
                at += 1
            }
            out[at] = symbol(values[s])
            at += 1
        }
        for s in 0..<symbols { values[s] = 0 }
    }

    #if !hasFeature(Embedded)
        // Reading a code is the customer's side (host, browser): not in the meter's image.

        /// The value of a typed character, nil for a separator; 0xFF for none.
        static func value(ofTyped c: UInt8) -> UInt8? {
            if c == 0x2D || c == 0x20 { return nil }
            var upper = c
            if c >= 0x61 && c <= 0x7A { upper = c - 0x20 }
            if upper == 0x4F { upper = 0x30 }  // O → 0
            if upper == 0x49 || upper == 0x4C { upper = 0x31 }  // I, L → 1
            var found: UInt8 = 0xFF
            alphabet.withUTF8Buffer { letters in
                for k in 0..<32 {
                    let equal = UInt8(truncatingIfNeeded: (UInt16(upper ^ letters[k]) &- 1) >> 8)
                    found = (found & ~equal) | (UInt8(k) & equal)
                }
            }
            return found
        }

        /// The key (16 bytes) of a typed code.
        public static func parse(_ typed: Span<UInt8>, into key: inout MutableSpan<UInt8>) throws(CustomerCodeError) {
            precondition(key.count == 16, "a customer key has 16 bytes")
            var values = InlineArray<27, UInt8>(repeating: 0)
            var count = 0
            for i in 0..<typed.count {
                guard let v = value(ofTyped: typed[i]) else { continue }
                guard v != 0xFF else { throw .invalidCharacter(position: count) }
                if count < symbols { values[count] = v }
                count += 1
            }
            guard count == symbols else { throw .wrongLength(symbols: count) }
            guard check(values.span.extracting(0..<keySymbols)) == values[keySymbols] else { throw .checkFailed }
            guard values[keySymbols - 1] & 0b11 == 0 else { throw .notACode }
            for k in 0..<16 { key[k] = 0 }
            for s in 0..<keySymbols {
                for b in 0..<5 {
                    let bit = 5 * s + b
                    guard bit < 128 else { continue }
                    key[bit / 8] |= ((values[s] >> UInt8(4 - b)) & 1) << UInt8(7 - bit % 8)
                }
            }
        }
    #endif
}
