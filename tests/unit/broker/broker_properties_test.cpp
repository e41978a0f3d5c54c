// Message properties: typed and encoded forms, each derived from the other once and cached; bytes
// from a codec pass through to readers of the same codec untouched.
#include "broker_support.hpp"

namespace sy::hub::test {
namespace {

TEST(broker_properties, encoded_bytes_pass_through_without_decode_or_encode) {
    text_codec c;
    broker_message m;
    const auto wire = sy::shared_bytes::copy_of(std::string_view("ct=a/b;cid=7"));
    m.set_encoded(wire, c);
    EXPECT_EQ(m.encoded(c).data(), wire.data());  // the same bytes, not a copy
    EXPECT_EQ(c.encodes, 0);
    EXPECT_EQ(c.decodes, 0);
    EXPECT_EQ(m.properties().correlation_id, "7");  // a typed reader decodes once
    EXPECT_EQ(m.properties().content_type, "a/b");
    EXPECT_EQ(c.decodes, 1);
    EXPECT_EQ(m.encoded(c).data(), wire.data());  // decoding did not replace the bytes
}

TEST(broker_properties, typed_properties_are_encoded_once_per_message) {
    text_codec c;
    broker_message m;
    message_properties p;
    p.set_content_type("application/json").set_correlation_id("42").set_delivery_mode(2);
    m.set_properties(p);
    EXPECT_EQ(m.encoded_if_any().size(), 0u);
    EXPECT_EQ(m.encoded(c).view(), "ct=application/json;cid=42");
    const auto* first = m.encoded(c).data();
    EXPECT_EQ(m.encoded(c).data(), first);
    EXPECT_EQ(c.encodes, 1);
    EXPECT_EQ(c.decodes, 0);
    EXPECT_EQ(m.properties(), p);  // the typed form stays as set
}

TEST(broker_properties, undecodable_bytes_read_as_no_properties) {
    text_codec c;
    broker_message m;
    m.set_encoded(sy::shared_bytes::copy_of(std::string_view("garbage")), c);
    EXPECT_EQ(m.properties().present, 0);
    EXPECT_EQ(m.encoded(c).view(), "garbage");  // still handed on as it came
}

TEST_F(broker_fixture, a_routed_message_keeps_its_encoded_bytes) {
    text_codec c;
    auto q = declare("q");
    auto m = std::make_shared<broker_message>(*msg("", "q", "body"));
    const auto wire = sy::shared_bytes::copy_of(std::string_view("ct=t;cid=1"));
    m->set_encoded(wire, c);
    EXPECT_EQ(publish(m).routed, 1u);
    auto e = q->get(true, now);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->msg->encoded(c).data(), wire.data());
    EXPECT_EQ(c.encodes + c.decodes, 0);
}

}  // namespace
}  // namespace sy::hub::test
