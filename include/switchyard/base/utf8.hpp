// Incremental UTF-8 validator (RFC 3629 / Unicode 3.9 table 3-7): rejects overlong forms,
// surrogates (U+D800-DFFF), code points above U+10FFFF, stray continuation bytes and truncated
// sequences. It keeps its state between calls, so a text message can be validated chunk by chunk
// as fragments and reads arrive, and an invalid byte is reported as soon as it is seen ("fail
// fast", RFC 6455 8.1). A run of ASCII is skipped 16 bytes at a time before the DFA is used.
// Not thread-safe; one per decoder.
#pragma once

#include <cstddef>
#include <cstdint>

#include "switchyard/base/bytes.hpp"

namespace sy {

class utf8_validator {
  public:
    /// Feeds more bytes. Returns false once the input can no longer be valid UTF-8 (and stays
    /// false until reset()).
    bool feed(byte_view b);
    /// True when everything fed so far is valid and no sequence is open (call at message end).
    bool complete() const { return state_ == 0; }
    bool failed() const { return state_ == reject_state; }
    void reset() { state_ = 0; }

    static constexpr std::uint8_t reject_state = 8;

  private:
    std::uint8_t state_ = 0;
};

/// One-shot check of a whole buffer.
bool is_valid_utf8(byte_view b);

}  // namespace sy
