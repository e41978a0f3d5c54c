// GnuTLS for QUIC: certificate credentials (the tls.* certificate and its SNI set) and the
// process's token secrets. Every GnuTLS call of the server is here or in quic.cpp.
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "tls_internal.hpp"

namespace sy::http3 {

server_tls::~server_tls() {
    if (impl_ && impl_->cred) gnutls_certificate_free_credentials(impl_->cred);
}

result<std::unique_ptr<server_tls>, std::string> server_tls::load(
    const certificate& main, const std::vector<certificate>& sni) {
    std::unique_ptr<server_tls> t(new server_tls());
    t->impl_ = std::make_unique<impl>();
    if (gnutls_certificate_allocate_credentials(&t->impl_->cred) != 0)
        return unexpected(std::string("gnutls: cannot allocate credentials"));
    // GnuTLS keeps several key pairs in one credential and picks the one whose name matches the
    // client's server_name (the first one otherwise): the SNI set of the TCP listener.
    auto add = [&](const certificate& c) -> std::string {
        int rv = gnutls_certificate_set_x509_key_file(t->impl_->cred, c.cert_file.c_str(),
                                                      c.key_file.c_str(), GNUTLS_X509_FMT_PEM);
        if (rv < 0) return c.cert_file + ": " + gnutls_strerror(rv);
        return {};
    };
    if (auto e = add(main); !e.empty()) return unexpected("tls.cert (http3): " + e);
    for (const auto& c : sni) {
        if (auto e = add(c); !e.empty()) return unexpected("tls.sni (http3): " + e);
    }
    if (gnutls_rnd(GNUTLS_RND_KEY, t->impl_->secret.data(), t->impl_->secret.size()) != 0)
        return unexpected(std::string("gnutls: no random bytes for the token secret"));
    return t;
}

}  // namespace sy::http3
