// tls_client: client SSL_CTX and connect-state tls_streams (see the header).
#include "switchyard/net/tls_client.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace sy::net {

namespace {
std::string last_error() {
    unsigned long first = ERR_get_error();
    while (ERR_get_error() != 0) {
    }
    if (first == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(first, buf, sizeof buf);
    return buf;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}
}  // namespace

result<std::unique_ptr<tls_client>, std::string> tls_client::create(tls_client_settings s) {
    ERR_clear_error();
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) return unexpected("tls client: " + last_error());
    auto fail = [&](const std::string& what) -> result<std::unique_ptr<tls_client>, std::string> {
        SSL_CTX_free(ctx);
        return unexpected("tls client: " + what + ": " + last_error());
    };
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // The same write contract as the server side: partial writes, moving buffers.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (s.insecure) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        const int ok = s.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx)
                           : SSL_CTX_load_verify_locations(ctx, s.ca_file.c_str(), nullptr);
        if (ok != 1) return fail("CA file " + (s.ca_file.empty() ? "(default)" : s.ca_file));
    }
    if (!s.cert_file.empty()) {
        if (SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) != 1)
            return fail("certificate " + s.cert_file);
        if (SSL_CTX_use_PrivateKey_file(ctx, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
            return fail("private key " + s.key_file);
        if (SSL_CTX_check_private_key(ctx) != 1) return fail("key does not match the certificate");
    }
    const bool ip = is_ip_literal(s.server_name);
    std::unique_ptr<tls_client> c(new tls_client(std::move(s), ctx));
    c->ip_ = ip;
    return c;
}

tls_client::~tls_client() {
    SSL_CTX_free(ctx_);
}

tls_stream tls_client::make_stream(unique_fd fd) const {
    tls_stream s;
    SSL* ssl = SSL_new(ctx_);
    if (!ssl) {
        ERR_clear_error();
        return s;
    }
    const char* name = settings_.server_name.c_str();
    bool ok = true;
    if (!ip_ && !settings_.server_name.empty()) {
        ok = SSL_set_tlsext_host_name(ssl, name) == 1;
    }
    if (ok && !settings_.insecure && !settings_.server_name.empty()) {
        // Hostname (or IP SAN) verification, on top of the chain check.
        ok = ip_ ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1
                 : SSL_set1_host(ssl, name) == 1;
    }
    if (!ok) {
        ERR_clear_error();
        SSL_free(ssl);
        return s;
    }
    SSL_set_fd(ssl, fd.get());
    SSL_set_connect_state(ssl);
    s.st_.reset(new tls_info);
    s.st_->ssl_ = ssl;
    s.fd_ = std::move(fd);
    return s;
}

}  // namespace sy::net
