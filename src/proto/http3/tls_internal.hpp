// The GnuTLS state behind server_tls (private to src/proto/http3).
#pragma once

#include <gnutls/gnutls.h>

#include <array>
#include <cstdint>

#include "switchyard/proto/http3/quic.hpp"

namespace sy::http3 {

struct server_tls::impl {
    gnutls_certificate_credentials_t cred = nullptr;
    /// Key for Retry tokens and stateless reset tokens (RFC 9000 8.1.2, 10.3.2).
    std::array<std::uint8_t, 32> secret{};
};

}  // namespace sy::http3
