// message_log and message properties: the log stores the encoded form (the AMQP content header
// payload in the server, a stand-in codec here) byte for byte, and recovery hands it back as the
// message's encoded properties, so a log written before typed properties reads the same.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "../broker/broker_support.hpp"
#include "switchyard/store/message_log.hpp"

namespace sy::store {
namespace {

using hub::test::text_codec;

class message_log_props : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/sy-store-test-XXXXXX";
        ASSERT_TRUE(::mkdtemp(tmpl));
        dir = tmpl;
    }
    void TearDown() override { std::filesystem::remove_all(dir); }
    log_options opts() {
        log_options o;
        o.dir = dir;
        o.fsync = "never";
        o.codec = &codec;
        return o;
    }
    std::vector<hub::broker_message_ptr> recover() {
        message_log log(opts(), [](std::uint64_t) {});
        std::vector<hub::broker_message_ptr> out;
        log.recover([&](const recovered_queue& q) {
            for (const auto& m : q.messages) out.push_back(m.msg);
        });
        log.close();
        return out;
    }
    std::string dir;
    text_codec codec;
};

TEST_F(message_log_props, encoded_and_typed_properties_survive_a_restart) {
    {
        message_log log(opts(), [](std::uint64_t) {});
        log.recover([](const recovered_queue&) {});
        hub::broker b;
        hub::broker_vhost& vh = *b.vhost("/");
        hub::queue_declare_request r;
        r.name = "q";
        r.durable = true;
        hub::queue_declare_result res;
        ASSERT_TRUE(b.queue_declare(vh, r, res).ok());
        const hub::broker_queue& q = *vh.queues.at("q");
        log.on_queue_declared(vh, q);
        hub::broker_message wire;  // as an AMQP publisher's: the bytes as received
        wire.body = sy::shared_bytes::copy_of(std::string_view("a"));
        wire.set_encoded(sy::shared_bytes::copy_of(std::string_view("ct=x/y;cid=1")), codec);
        log.on_persist(vh, q, wire);
        hub::broker_message typed;  // as the jobs API's: encoded once, for the log
        typed.body = sy::shared_bytes::copy_of(std::string_view("b"));
        hub::message_properties p;
        p.set_content_type("text/plain").set_correlation_id("2");
        typed.set_properties(p);
        log.on_persist(vh, q, typed);
        log.close();
    }
    EXPECT_EQ(codec.encodes, 1);  // only the typed one
    auto got = recover();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0]->encoded(codec).view(), "ct=x/y;cid=1");
    EXPECT_EQ(got[1]->properties().content_type, "text/plain");
    EXPECT_EQ(got[1]->properties().correlation_id, "2");
    EXPECT_EQ(got[1]->body.view(), "b");
}

TEST_F(message_log_props, a_log_needs_a_codec) {
    log_options o = opts();
    o.codec = nullptr;
    EXPECT_THROW(message_log(o, [](std::uint64_t) {}), std::runtime_error);
}

}  // namespace
}  // namespace sy::store
