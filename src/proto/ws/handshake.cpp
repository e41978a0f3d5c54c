// Opening handshake, RFC 6455 4.1 (client) and 4.2 (server).
#include "switchyard/proto/ws/handshake.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <charconv>
#include <stdexcept>

#include "token_list.hpp"

namespace sy::ws {
namespace {

constexpr std::string_view k_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

// "HTTP/x.y" with (x, y) >= (1, 1).
bool http_version_ok(std::string_view v) {
    if (v.size() < 6 || v.substr(0, 5) != "HTTP/") return false;
    v.remove_prefix(5);
    int major = 0, minor = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), major);
    if (ec != std::errc{}) return false;
    if (p != v.data() + v.size()) {
        if (*p != '.') return false;
        auto [q, ec2] = std::from_chars(p + 1, v.data() + v.size(), minor);
        if (ec2 != std::errc{} || q != v.data() + v.size()) return false;
    }
    return major > 1 || (major == 1 && minor >= 1);
}

// Server preference order: the first of ours the client offered (tokens are case-sensitive).
std::string choose_protocol(std::string_view offered, const std::vector<std::string>& ours) {
    for (const auto& p : ours) {
        bool found = false;
        for_each_token(offered, ',', [&](std::string_view t) { found = found || t == p; });
        if (found) return p;
    }
    return {};
}

}  // namespace

handshake_error_info info_for(handshake_error e) {
    switch (e) {
        case handshake_error::bad_method:
            return {400, "bad_method"};
        case handshake_error::bad_http_version:
            return {400, "bad_http_version"};
        case handshake_error::missing_host:
            return {400, "missing_host"};
        case handshake_error::bad_upgrade:
            return {400, "bad_upgrade"};
        case handshake_error::bad_connection:
            return {400, "bad_connection"};
        case handshake_error::bad_key:
            return {400, "bad_key"};
        case handshake_error::missing_version:
            return {400, "missing_version"};
        case handshake_error::unsupported_version:
            return {426, "unsupported_version"};
        case handshake_error::forbidden_origin:
            return {403, "forbidden_origin"};
        case handshake_error::bad_status:
            return {0, "bad_status"};
        case handshake_error::bad_accept:
            return {0, "bad_accept"};
        case handshake_error::bad_protocol:
            return {0, "bad_protocol"};
        case handshake_error::bad_extensions:
            return {0, "bad_extensions"};
        case handshake_error::incomplete_response:
            return {0, "incomplete_response"};
    }
    return {500, "unknown"};
}

std::string_view to_string(handshake_error e) {
    return info_for(e).name;
}

std::string compute_accept(std::string_view key) {
    std::string in;
    in.reserve(key.size() + k_guid.size());
    in.append(key);
    in.append(k_guid);
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    if (EVP_Digest(in.data(), in.size(), md.data(), &len, EVP_sha1(), nullptr) != 1) return {};
    return base64_encode({reinterpret_cast<const char*>(md.data()), len});
}

bool is_valid_key(std::string_view key) {
    // 16 bytes -> 22 base64 characters + "==".
    if (key.size() != 24 || key[22] != '=' || key[23] != '=') return false;
    for (int i = 0; i < 22; ++i)
        if (b64_value(key[i]) < 0) return false;
    // The last significant character carries 2 data bits: its low 4 bits must be zero.
    return (b64_value(key[21]) & 0x0F) == 0;
}

result<handshake_response, handshake_error> accept_handshake(const handshake_request& req,
                                                             const handshake_config& cfg) {
    if (req.method != "GET") return unexpected(handshake_error::bad_method);
    if (!http_version_ok(req.http_version)) return unexpected(handshake_error::bad_http_version);
    if (trim_ows(req.host).empty()) return unexpected(handshake_error::missing_host);
    if (!list_contains_ci(req.upgrade, "websocket"))
        return unexpected(handshake_error::bad_upgrade);
    if (!list_contains_ci(req.connection, "upgrade"))
        return unexpected(handshake_error::bad_connection);
    if (!req.extended_connect && !is_valid_key(trim_ows(req.key))) {
        return unexpected(handshake_error::bad_key);
    }
    const std::string_view version = trim_ows(req.version);
    if (version.empty()) return unexpected(handshake_error::missing_version);
    if (version != "13") return unexpected(handshake_error::unsupported_version);
    if (!cfg.allowed_origins.empty()) {
        bool ok = false;
        const std::string_view origin = trim_ows(req.origin);
        for (const auto& o : cfg.allowed_origins) ok = ok || iequals(o, origin);
        if (!ok) return unexpected(handshake_error::forbidden_origin);
    }
    handshake_response r;
    if (!req.extended_connect) r.accept = compute_accept(trim_ows(req.key));
    r.protocol = choose_protocol(req.protocol, cfg.subprotocols);
    r.deflate = negotiate_deflate(req.extensions, cfg.deflate);
    return r;
}

void handshake_response::write(byte_buffer& out) const {
    out.append(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: ");
    out.append(accept);
    if (!protocol.empty()) {
        out.append("\r\nSec-WebSocket-Protocol: ");
        out.append(protocol);
    }
    if (deflate) {
        out.append("\r\nSec-WebSocket-Extensions: ");
        out.append(deflate->to_header());
    }
    out.append("\r\n\r\n");
}

void write_rejection(byte_buffer& out, handshake_error e) {
    switch (status_for(e)) {
        case 426:
            out.append(
                "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n");
            break;
        case 403:
            out.append("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            break;
        default:
            out.append(
                "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            break;
    }
}

// ---- client ----

result<std::optional<response_head>, handshake_error> parse_response_head(byte_view in) {
    const std::string_view s = as_string_view(in);
    const std::size_t end = s.find("\r\n\r\n");
    if (end == std::string_view::npos) {
        if (s.size() > 16 * 1024) return unexpected(handshake_error::incomplete_response);
        return std::optional<response_head>{};
    }
    response_head h;
    h.head_size = end + 4;
    std::string_view head = s.substr(0, end + 2);
    std::size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    // "HTTP/1.1 101 Switching Protocols"
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ')
        return unexpected(handshake_error::incomplete_response);
    auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, h.status);
    if (ec != std::errc{} || p != status_line.data() + 12)
        return unexpected(handshake_error::incomplete_response);
    head.remove_prefix(eol + 2);
    while (!head.empty()) {
        eol = head.find("\r\n");
        std::string_view line = head.substr(0, eol);
        head.remove_prefix(eol + 2);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0)
            return unexpected(handshake_error::incomplete_response);
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim_ows(line.substr(colon + 1));
        if (iequals(name, "Upgrade"))
            h.upgrade = value;
        else if (iequals(name, "Connection"))
            h.connection = value;
        else if (iequals(name, "Sec-WebSocket-Accept"))
            h.accept = value;
        else if (iequals(name, "Sec-WebSocket-Protocol"))
            h.protocol = value;
        else if (iequals(name, "Sec-WebSocket-Extensions"))
            h.extensions = value;
    }
    return std::optional<response_head>{h};
}

client_handshake::client_handshake(client_options opts) : opts_(std::move(opts)) {
    std::array<std::uint8_t, 16> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    key_ = base64_encode({reinterpret_cast<const char*>(raw.data()), raw.size()});
    accept_ = compute_accept(key_);
}

client_handshake::client_handshake(client_options opts, std::string key)
    : opts_(std::move(opts)), key_(std::move(key)), accept_(compute_accept(key_)) {}

void client_handshake::write_request(byte_buffer& out) const {
    out.append("GET ");
    out.append(opts_.path);
    out.append(" HTTP/1.1\r\nHost: ");
    out.append(opts_.host);
    out.append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
    out.append(key_);
    out.append("\r\nSec-WebSocket-Version: 13\r\n");
    if (!opts_.origin.empty()) {
        out.append("Origin: ");
        out.append(opts_.origin);
        out.append("\r\n");
    }
    if (!opts_.subprotocols.empty()) {
        out.append("Sec-WebSocket-Protocol: ");
        for (std::size_t i = 0; i < opts_.subprotocols.size(); ++i) {
            if (i) out.append(", ");
            out.append(opts_.subprotocols[i]);
        }
        out.append("\r\n");
    }
    if (opts_.deflate.enabled) {
        out.append("Sec-WebSocket-Extensions: ");
        out.append(deflate_offer(opts_.deflate));
        out.append("\r\n");
    }
    out.append("\r\n");
}

result<client_result, handshake_error> client_handshake::validate(const response_head& r) const {
    if (r.status != 101) return unexpected(handshake_error::bad_status);
    if (!list_contains_ci(r.upgrade, "websocket")) return unexpected(handshake_error::bad_upgrade);
    if (!list_contains_ci(r.connection, "upgrade"))
        return unexpected(handshake_error::bad_connection);
    if (r.accept != accept_) return unexpected(handshake_error::bad_accept);
    client_result out;
    if (!r.protocol.empty()) {
        bool offered = false;
        for (const auto& p : opts_.subprotocols) offered = offered || p == r.protocol;
        if (!offered) return unexpected(handshake_error::bad_protocol);
        out.protocol = std::string(r.protocol);
    }
    if (!accept_deflate_response(r.extensions, opts_.deflate, out.deflate))
        return unexpected(handshake_error::bad_extensions);
    return out;
}

}  // namespace sy::ws
