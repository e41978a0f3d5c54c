// Test helpers for the broker model: message builder, a consumer with settable credit, and a
// fixture with one vhost. Everything runs on the test thread (the broker's one thread).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "switchyard/hub/broker.hpp"

namespace sy::hub::test {

inline broker_message_ptr msg(std::string exchange, std::string key, std::string body,
                              std::vector<header_pair> headers = {},
                              std::optional<std::uint64_t> ttl = std::nullopt) {
    auto m = std::make_shared<broker_message>();
    m->exchange = std::move(exchange);
    m->routing_key = std::move(key);
    m->body = sy::shared_bytes::copy_of(body);
    m->headers = std::move(headers);
    m->ttl_ms = ttl;
    return m;
}

/// A stand-in for the AMQP session's codec: "ct=<content type>;cid=<correlation id>", counting
/// its calls so tests can tell a pass-through from a re-encode.
struct text_codec : property_codec {
    mutable int encodes = 0, decodes = 0;
    sy::shared_bytes encode(const message_properties& p, std::uint64_t) const override {
        ++encodes;
        return sy::shared_bytes::copy_of("ct=" + p.content_type + ";cid=" + p.correlation_id);
    }
    bool decode(sy::byte_view b, message_properties& out) const override {
        ++decodes;
        std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
        if (!s.starts_with("ct=")) return false;
        const auto semi = s.find(";cid=");
        if (semi == std::string_view::npos) return false;
        out.set_content_type(std::string(s.substr(3, semi - 3)));
        out.set_correlation_id(std::string(s.substr(semi + 5)));
        return true;
    }
};

struct fake_consumer : broker_consumer {
    explicit fake_consumer(std::size_t credit_, bool auto_ack = false)
        : credit(credit_), auto_ack_(auto_ack) {}
    bool has_credit() const override { return held.size() + taken_auto < credit; }
    void deliver(const std::shared_ptr<broker_queue>& q, queue_entry&& e) override {
        bodies.emplace_back(e.msg->body.view());
        redelivered.push_back(e.redelivered);
        if (auto_ack_) {
            ++taken_auto;
            return;
        }
        held.push_back({q, std::move(e)});
    }
    void cancelled_by_server() override { cancelled = true; }
    bool no_ack() const override { return auto_ack_; }

    struct held_rec {
        broker_queue_ptr q;
        queue_entry e;
    };
    std::size_t credit;
    std::size_t taken_auto = 0;  // auto-ack deliveries count against credit until reset
    bool auto_ack_;
    bool cancelled = false;
    std::vector<std::string> bodies;
    std::vector<bool> redelivered;
    std::vector<held_rec> held;
};

class broker_fixture : public ::testing::Test {
  protected:
    broker b;
    broker_vhost& vh = *b.vhost("/");
    std::int64_t now = 1000;

    broker_queue_ptr declare(const std::string& name, queue_args args = {}) {
        queue_declare_request r;
        r.name = name;
        r.args = std::move(args);
        r.connection = 1;
        queue_declare_result out;
        EXPECT_TRUE(b.queue_declare(vh, r, out).ok());
        return vh.queues.at(out.name);
    }
    void exchange(const std::string& name, exchange_type t) {
        broker_exchange e;
        e.name = name;
        e.type = t;
        ASSERT_TRUE(b.exchange_declare(vh, e, false).ok());
    }
    void bind(const std::string& ex, const std::string& q, const std::string& key,
              std::vector<header_pair> args = {}, bool match_all = true) {
        broker_binding bd;
        bd.queue = q;
        bd.key = key;
        bd.match_all = match_all;
        for (const auto& [k, v] : args) bd.args_key += k + "=" + v + ";";
        bd.args = std::move(args);
        ASSERT_TRUE(b.bind(vh, ex, std::move(bd), 1).ok());
    }
    publish_result publish(broker_message_ptr m) {
        publish_result r;
        auto st = b.publish(vh, std::move(m), r, now);
        EXPECT_TRUE(st.ok()) << st.text;
        return r;
    }
    // Ready bodies of a queue, head first, drained with basic.get semantics (no-ack).
    std::vector<std::string> drain(broker_queue& q) {
        std::vector<std::string> out;
        while (auto e = q.get(true, now)) out.emplace_back(e->msg->body.view());
        return out;
    }
};

using strings = std::vector<std::string>;

}  // namespace sy::hub::test
