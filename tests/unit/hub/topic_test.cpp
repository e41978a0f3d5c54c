#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "switchyard/hub/sublist.hpp"
#include "switchyard/hub/topic.hpp"

namespace sy::hub {
namespace {

struct validation_case {
    const char* name;
    bool topic_ok;
    bool pattern_ok;
    topic_error topic_err;    // when !topic_ok
    topic_error pattern_err;  // when !pattern_ok
};

TEST(TopicValidation, Table) {
    const validation_case cases[] = {
        {"a", true, true, {}, {}},
        {"orders.eu.created", true, true, {}, {}},
        {"A-b_c:d.9", true, true, {}, {}},
        {"", false, false, topic_error::empty, topic_error::empty},
        {".a", false, false, topic_error::empty_token, topic_error::empty_token},
        {"a.", false, false, topic_error::empty_token, topic_error::empty_token},
        {"a..b", false, false, topic_error::empty_token, topic_error::empty_token},
        {"a b", false, false, topic_error::bad_char, topic_error::bad_char},
        {"a/b", false, false, topic_error::bad_char, topic_error::bad_char},
        {"caf\xc3\xa9", false, false, topic_error::bad_char, topic_error::bad_char},
        {"a.*", false, true, topic_error::bad_char, {}},
        {"a.>", false, true, topic_error::bad_char, {}},
        {"*.b.>", false, true, topic_error::bad_char, {}},
        {">", false, true, topic_error::bad_char, {}},
        {"a.>.b", false, false, topic_error::bad_char, topic_error::bad_wildcard},
        {"a*", false, false, topic_error::bad_char, topic_error::bad_wildcard},
        {"a.b>", false, false, topic_error::bad_char, topic_error::bad_wildcard},
        {"**", false, false, topic_error::bad_char, topic_error::bad_wildcard},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        auto t = validate_topic(c.name);
        ASSERT_EQ(t.has_value(), c.topic_ok);
        if (!c.topic_ok) {
            EXPECT_EQ(t.error(), c.topic_err);
        }
        auto p = validate_pattern(c.name);
        ASSERT_EQ(p.has_value(), c.pattern_ok);
        if (!c.pattern_ok) {
            EXPECT_EQ(p.error(), c.pattern_err);
        }
    }
}

TEST(TopicValidation, Limits) {
    topic_limits lim{10, 3};
    EXPECT_TRUE(validate_topic("abcde.fghi", lim));
    EXPECT_EQ(validate_topic("abcde.fghij", lim).error(), topic_error::too_long);
    EXPECT_TRUE(validate_topic("a.b.c", lim));
    EXPECT_EQ(validate_topic("a.b.c.d", lim).error(), topic_error::too_many_tokens);
    EXPECT_EQ(validate_pattern("a.*.c.>", lim).error(), topic_error::too_many_tokens);
    // max_tokens is clamped to the hard cap.
    std::string many = "a";
    for (int i = 0; i < 70; ++i) many += ".a";
    EXPECT_EQ(validate_topic(many, topic_limits{1000, 1000}).error(), topic_error::too_many_tokens);
}

TEST(TopicValidation, IsLiteral) {
    EXPECT_TRUE(is_literal("a.b"));
    EXPECT_TRUE(is_literal("a"));
    EXPECT_FALSE(is_literal("a.*"));
    EXPECT_FALSE(is_literal(">"));
    EXPECT_FALSE(is_literal("*.b"));
}

struct match_case {
    const char* pattern;
    const char* topic;
    bool match;
};

// NATS subject-matching cases (sublist_test.go style).
const match_case kMatches[] = {
    {"foo", "foo", true},
    {"foo", "bar", false},
    {"foo.bar", "foo.bar", true},
    {"foo.bar", "foo", false},
    {"foo", "foo.bar", false},
    {"foo.*", "foo.bar", true},
    {"foo.*", "foo", false},
    {"foo.*", "foo.bar.baz", false},
    {"*", "foo", true},
    {"*", "foo.bar", false},
    {"*.bar", "foo.bar", true},
    {"*.bar", "foo.baz", false},
    {"*.*", "a.b", true},
    {"*.*", "a.b.c", false},
    {"foo.*.baz", "foo.bar.baz", true},
    {"foo.*.baz", "foo.bar.qux", false},
    {"foo.>", "foo.bar", true},
    {"foo.>", "foo.bar.baz", true},
    {"foo.>", "foo", false},
    {"foo.>", "bar.baz", false},
    {">", "foo", true},
    {">", "foo.bar.baz", true},
    {"*.>", "foo", false},
    {"*.>", "foo.bar", true},
    {"foo.*.>", "foo.bar", false},
    {"foo.*.>", "foo.bar.baz", true},
    {"foo.*.>", "foo.bar.baz.qux", true},
    {"foo.bar.>", "foo.baz.qux", false},
    {"a.b.c", "a.b", false},
    {"a.b", "a.b.c", false},
    {"fo", "foo", false},
    {"foo", "fo", false},
};

TEST(PatternMatch, Table) {
    for (const auto& c : kMatches) {
        SCOPED_TRACE(std::string(c.pattern) + " ~ " + c.topic);
        ASSERT_TRUE(validate_pattern(c.pattern));
        ASSERT_TRUE(validate_topic(c.topic));
        EXPECT_EQ(pattern_matches(c.pattern, c.topic), c.match);
    }
}

TEST(Sublist, TableAgreesWithPatternMatch) {
    for (const auto& c : kMatches) {
        SCOPED_TRACE(std::string(c.pattern) + " ~ " + c.topic);
        sublist<int> s;
        s.insert(c.pattern, 7);
        std::vector<int> out;
        s.match(c.topic, out);
        EXPECT_EQ(out.size(), c.match ? 1u : 0u);
    }
}

TEST(Sublist, AllTogether) {
    sublist<int> s;
    int i = 0;
    for (const auto& c : kMatches) s.insert(c.pattern, i++);
    EXPECT_EQ(s.size(), std::size(kMatches));
    for (const auto& probe : kMatches) {
        std::vector<int> got;
        s.match(probe.topic, got);
        std::vector<int> want;
        int j = 0;
        for (const auto& c : kMatches) {
            if (pattern_matches(c.pattern, probe.topic)) want.push_back(j);
            ++j;
        }
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, want) << probe.topic;
    }
}

TEST(Sublist, RemovePrunesAndIsExact) {
    sublist<int> s;
    s.insert("a.*.c", 1);
    s.insert("a.*.c", 2);
    s.insert("a.>", 3);
    s.insert("a.b.c", 4);
    EXPECT_FALSE(s.remove("a.*.c", 9));
    EXPECT_FALSE(s.remove("a.*.d", 1));
    EXPECT_FALSE(s.remove("x.y", 4));
    EXPECT_TRUE(s.remove("a.*.c", 1));
    std::vector<int> out;
    s.match("a.b.c", out);
    std::sort(out.begin(), out.end());
    EXPECT_EQ(out, (std::vector<int>{2, 3, 4}));
    EXPECT_TRUE(s.remove("a.*.c", 2));
    EXPECT_TRUE(s.remove("a.>", 3));
    EXPECT_TRUE(s.remove("a.b.c", 4));
    EXPECT_FALSE(s.remove("a.b.c", 4));
    EXPECT_TRUE(s.empty());
    out.clear();
    s.match("a.b.c", out);
    EXPECT_TRUE(out.empty());
}

// Random patterns against random topics: the trie must agree with the reference matcher.
TEST(Sublist, RandomCrossCheck) {
    std::mt19937 rng(42);
    const char* toks[] = {"a", "b", "c"};
    auto rand_topic = [&](bool pattern) {
        std::string s;
        const int n = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
            if (i) s += '.';
            const unsigned r = rng() % 10;
            if (pattern && r == 0) {
                s += '*';
            } else if (pattern && r == 1 && i == n - 1) {
                s += '>';
            } else {
                s += toks[rng() % 3];
            }
        }
        return s;
    };
    std::vector<std::string> pats;
    sublist<int> s;
    for (int i = 0; i < 300; ++i) {
        pats.push_back(rand_topic(true));
        s.insert(pats.back(), i);
    }
    for (int i = 0; i < 150; i += 2) ASSERT_TRUE(s.remove(pats[i], i));
    for (int k = 0; k < 500; ++k) {
        const std::string t = rand_topic(false);
        std::vector<int> got;
        s.match(t, got);
        std::sort(got.begin(), got.end());
        std::vector<int> want;
        for (int i = 0; i < 300; ++i) {
            if ((i >= 150 || i % 2) && pattern_matches(pats[i], t)) want.push_back(i);
        }
        ASSERT_EQ(got, want) << t;
    }
}

}  // namespace
}  // namespace sy::hub
