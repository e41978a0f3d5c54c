// Reason phrases for HTTP status codes (RFC 9110 section 15). Shared by the HTTP/1.1 codec
// (status lines) and the version-independent HTTP layer (error bodies), which may not include
// each other.
#pragma once

#include <string_view>

namespace sy {

/// "Not Found" for 404; "" for a code without a registered phrase.
std::string_view http_reason_phrase(int status);

}  // namespace sy
