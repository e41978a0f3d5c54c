// session/amqp_access: RabbitMQ's password hashes and permission regexes. The hash vector below
// was made by RabbitMQ 3.10.8's own rabbit_password:hash(rabbit_password_hashing_sha256, <<"pw">>)
// (erl with rabbit's ebin on the path); the integration test makes fresh ones the same way.
#include <gtest/gtest.h>

#include <string>

#include "switchyard/base/text.hpp"
#include "switchyard/session/amqp_access.hpp"

using namespace sy;
using namespace sy::session;

namespace {

amqp_user user_with(std::string_view b64) {
    amqp_user u;
    u.name = "u";
    EXPECT_TRUE(base64_decode(b64, u.password_hash));
    return u;
}

}  // namespace

TEST(amqp_access, rabbitmq_sha256_hash_checks) {
    amqp_user u = user_with("pHgjh7iXNx+2/pV6GQzO1bzVksod7z5+pOVk3z3u5J+610kT");
    EXPECT_TRUE(check_password(u, "pw"));
    EXPECT_FALSE(check_password(u, "pW"));
    EXPECT_FALSE(check_password(u, ""));
}

TEST(amqp_access, hash_password_salts_and_round_trips) {
    amqp_user a, b;
    a.password_hash = hash_password(amqp_hashing::sha256, "secret");
    b.password_hash = hash_password(amqp_hashing::sha256, "secret");
    EXPECT_EQ(a.password_hash.size(), 4u + 32u);
    EXPECT_NE(a.password_hash, b.password_hash);  // fresh salt each time
    EXPECT_TRUE(check_password(a, "secret"));
    b.hashing = amqp_hashing::sha512;
    b.password_hash = hash_password(amqp_hashing::sha512, "secret");
    EXPECT_EQ(b.password_hash.size(), 4u + 64u);
    EXPECT_TRUE(check_password(b, "secret"));
    EXPECT_FALSE(check_password(b, "secreT"));
}

TEST(amqp_access, patterns_match_as_rabbitmq) {
    EXPECT_FALSE(amqp_pattern("").matches(""));  // "": no access
    EXPECT_FALSE(amqp_pattern("").matches("q"));
    EXPECT_TRUE(amqp_pattern(".*").matches("anything"));
    EXPECT_TRUE(amqp_pattern("u\\.").matches("x.u.y"));  // not anchored (re:run)
    EXPECT_FALSE(amqp_pattern("^u\\.").matches("x.u.y"));
    EXPECT_TRUE(amqp_pattern("^(a|b)$").matches("b"));
    EXPECT_FALSE(amqp_pattern("^(a|b)$").matches("ab"));
}

TEST(amqp_access, guest_by_default_and_loopback_only) {
    auto users = default_users({"/", "v2"});
    ASSERT_EQ(users.size(), 1u);
    EXPECT_EQ(authenticate_user(users, "guest", "guest", true), &users[0]);
    EXPECT_EQ(authenticate_user(users, "guest", "guest", false), nullptr);
    EXPECT_EQ(authenticate_user(users, "guest", "x", true), nullptr);
    EXPECT_TRUE(users[0].may_manage());
    ASSERT_TRUE(users[0].grant("v2"));
    EXPECT_FALSE(users[0].grant("v3"));
}

TEST(amqp_access, refusal_texts) {
    EXPECT_EQ(refused_text("exchange", "", "/", "u"),
              "access to exchange 'amq.default' in vhost '/' refused for user 'u'");
    EXPECT_EQ(topic_refused_text("a.b", "amq.topic", "/", "u"),
              "access to topic 'a.b' in exchange 'amq.topic' in vhost '/' refused for user 'u'");
}
