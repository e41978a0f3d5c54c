#include <gtest/gtest.h>

#include "switchyard/proto/ws/handshake.hpp"

namespace sy::ws {
namespace {

handshake_request good() {
    handshake_request r;
    r.method = "GET";
    r.http_version = "HTTP/1.1";
    r.host = "server.example.com";
    r.upgrade = "websocket";
    r.connection = "Upgrade";
    r.key = "dGhlIHNhbXBsZSBub25jZQ==";
    r.version = "13";
    return r;
}

TEST(WsHandshake, Rfc6455AcceptKey) {
    EXPECT_EQ(compute_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshake, AcceptsAndWrites101) {
    auto r = accept_handshake(good(), {});
    ASSERT_TRUE(r);
    byte_buffer out;
    r->write(out);
    EXPECT_EQ(out.view(),
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
}

TEST(WsHandshake, ExtendedConnectNeedsNoKeyAndHasNoAccept) {
    auto req = good();
    req.key = {};
    EXPECT_EQ(accept_handshake(req, {}).error(), handshake_error::bad_key);
    req.extended_connect = true;  // RFC 8441: HTTP/2 CONNECT with :protocol websocket
    auto r = accept_handshake(req, {});
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->accept.empty());
    req.version = "8";  // the RFC 6455 checks that apply still do
    EXPECT_EQ(accept_handshake(req, {}).error(), handshake_error::unsupported_version);
}

TEST(WsHandshake, TokenListsCaseInsensitive) {
    auto req = good();
    req.connection = "keep-alive, UPGRADE";
    req.upgrade = "h2c, WebSocket";
    EXPECT_TRUE(accept_handshake(req, {}));
    req.connection = "keep-alive";
    EXPECT_EQ(accept_handshake(req, {}).error(), handshake_error::bad_connection);
    req = good();
    req.upgrade = "websocketx";
    EXPECT_EQ(accept_handshake(req, {}).error(), handshake_error::bad_upgrade);
}

TEST(WsHandshake, ErrorsAndStatuses) {
    struct c {
        void (*mutate)(handshake_request&);
        handshake_error err;
        int status;
    };
    const c cases[] = {
        {[](handshake_request& r) { r.method = "POST"; }, handshake_error::bad_method, 400},
        {[](handshake_request& r) { r.http_version = "HTTP/1.0"; },
         handshake_error::bad_http_version, 400},
        {[](handshake_request& r) { r.host = ""; }, handshake_error::missing_host, 400},
        {[](handshake_request& r) { r.upgrade = ""; }, handshake_error::bad_upgrade, 400},
        {[](handshake_request& r) { r.connection = ""; }, handshake_error::bad_connection, 400},
        {[](handshake_request& r) { r.key = "short"; }, handshake_error::bad_key, 400},
        {[](handshake_request& r) { r.key = "dGhlIHNhbXBsZSBub25jZR=="; }, handshake_error::bad_key,
         400},  // non-zero padding bits
        {[](handshake_request& r) { r.key = "dGhlIHNhbXBsZSBub25j*Q=="; }, handshake_error::bad_key,
         400},
        {[](handshake_request& r) { r.version = ""; }, handshake_error::missing_version, 400},
        {[](handshake_request& r) { r.version = "8"; }, handshake_error::unsupported_version, 426},
    };
    for (const auto& t : cases) {
        auto req = good();
        t.mutate(req);
        auto r = accept_handshake(req, {});
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error(), t.err) << to_string(t.err);
        EXPECT_EQ(status_for(r.error()), t.status);
    }
    byte_buffer out;
    write_rejection(out, handshake_error::unsupported_version);
    EXPECT_EQ(out.view(),
              "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
              "Content-Length: 0\r\nConnection: close\r\n\r\n");
    byte_buffer out2;
    write_rejection(out2, handshake_error::forbidden_origin);
    EXPECT_EQ(out2.view().substr(0, 22), "HTTP/1.1 403 Forbidden");
    auto req = good();
    req.http_version = "HTTP/2";
    EXPECT_TRUE(accept_handshake(req, {}));
}

TEST(WsHandshake, OriginAllowList) {
    handshake_config cfg;
    cfg.allowed_origins = {"https://good.example"};
    auto req = good();
    req.origin = "https://GOOD.example";
    EXPECT_TRUE(accept_handshake(req, cfg));
    req.origin = "https://evil.example";
    EXPECT_EQ(accept_handshake(req, cfg).error(), handshake_error::forbidden_origin);
    EXPECT_EQ(status_for(handshake_error::forbidden_origin), 403);
    req.origin = "";
    EXPECT_EQ(accept_handshake(req, cfg).error(), handshake_error::forbidden_origin);
}

TEST(WsHandshake, SubprotocolServerPreference) {
    handshake_config cfg;
    cfg.subprotocols = {"v2.chat", "v1.chat"};
    auto req = good();
    req.protocol = "v1.chat, v2.chat";
    auto r = accept_handshake(req, cfg);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->protocol, "v2.chat");
    req.protocol = "other";
    EXPECT_EQ(accept_handshake(req, cfg)->protocol, "");
    req.protocol = "V2.CHAT";  // case-sensitive
    EXPECT_EQ(accept_handshake(req, cfg)->protocol, "");
}

TEST(WsHandshake, DeflateInResponse) {
    handshake_config cfg;
    cfg.deflate.enabled = true;
    cfg.deflate.server_no_context_takeover = true;
    auto req = good();
    req.extensions = "permessage-deflate; client_max_window_bits";
    auto r = accept_handshake(req, cfg);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->deflate);
    byte_buffer out;
    r->write(out);
    EXPECT_NE(out.view().find("Sec-WebSocket-Extensions: permessage-deflate; "
                              "server_no_context_takeover\r\n"),
              std::string_view::npos);
}

TEST(WsHandshake, ClientRoundTrip) {
    client_options o;
    o.host = "localhost:8080";
    o.path = "/chat";
    o.subprotocols = {"v1.chat"};
    o.deflate.enabled = true;
    client_handshake c(o);
    EXPECT_TRUE(is_valid_key(c.key()));
    client_handshake c2(o);
    EXPECT_NE(c.key(), c2.key());
    byte_buffer req;
    c.write_request(req);
    EXPECT_EQ(req.view().substr(0, 20), "GET /chat HTTP/1.1\r\n");
    EXPECT_NE(req.view().find("Sec-WebSocket-Key: " + c.key() + "\r\n"), std::string_view::npos);

    handshake_request hr = good();
    hr.key = c.key();
    hr.protocol = "v1.chat";
    const std::string offer = deflate_offer(o.deflate);
    hr.extensions = offer;
    handshake_config cfg;
    cfg.subprotocols = {"v1.chat"};
    cfg.deflate.enabled = true;
    auto sr = accept_handshake(hr, cfg);
    ASSERT_TRUE(sr);
    byte_buffer resp;
    sr->write(resp);
    // Incomplete heads need more; every prefix.
    for (std::size_t i = 0; i + 1 < resp.size(); ++i) {
        auto h = parse_response_head(resp.readable().first(i));
        ASSERT_TRUE(h);
        EXPECT_FALSE(*h);
    }
    auto h = parse_response_head(resp.readable());
    ASSERT_TRUE(h && *h);
    EXPECT_EQ((*h)->head_size, resp.size());
    EXPECT_EQ((*h)->extensions, "permessage-deflate") << resp.view();
    auto v = c.validate(**h);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->protocol, "v1.chat");
    EXPECT_TRUE(v->deflate);

    auto bad = **h;
    bad.accept = "AAAA";
    EXPECT_EQ(c.validate(bad).error(), handshake_error::bad_accept);
    bad = **h;
    bad.protocol = "v9";
    EXPECT_EQ(c.validate(bad).error(), handshake_error::bad_protocol);
    bad = **h;
    bad.status = 200;
    EXPECT_EQ(c.validate(bad).error(), handshake_error::bad_status);
    bad = **h;
    bad.extensions = "permessage-deflate; nope";
    EXPECT_EQ(c.validate(bad).error(), handshake_error::bad_extensions);
    EXPECT_FALSE(parse_response_head(as_bytes("HTTP/1.1 1x1 OK\r\n\r\n")));
    EXPECT_FALSE(parse_response_head(as_bytes("HTTP/1.1 101 OK\r\nbad line\r\n\r\n")));
}

TEST(WsHandshake, ClientFixedKey) {
    client_handshake c({.host = "h"}, "dGhlIHNhbXBsZSBub25jZQ==");
    EXPECT_EQ(c.expected_accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

}  // namespace
}  // namespace sy::ws
