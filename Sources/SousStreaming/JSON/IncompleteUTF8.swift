/// Length of the incomplete UTF-8 sequence at the end of `bytes` (0...3): bytes to hold back until the
/// rest of the character arrives.
func incompleteUTF8Suffix(_ bytes: UnsafeRawBufferPointer) -> Int {
    let n = bytes.count
    var k = 1
    while k <= min(3, n) {
        let b = bytes[n - k]
        if b & 0xC0 == 0x80 {
            k += 1
            continue
        }
        // b is a lead byte (or ASCII / invalid).
        let need: Int
        if b & 0xE0 == 0xC0 {
            need = 2
        } else if b & 0xF0 == 0xE0 {
            need = 3
        } else if b & 0xF8 == 0xF0 {
            need = 4
        } else {
            return 0
        }
        return need > k ? k : 0
    }
    return 0
}
