#include <gtest/gtest.h>

#include "switchyard/auth/policy.hpp"
#include "switchyard/auth/principal.hpp"

namespace sy::auth {
namespace {

TEST(PatternCovers, Table) {
    struct row {
        const char* outer;
        const char* inner;
        bool covers;
    };
    const row rows[] = {
        {">", "a", true},         {">", "a.>", true},      {">", ">", true},
        {"a.>", "a.b", true},     {"a.>", "a.*", true},    {"a.>", "a.b.>", true},
        {"a.>", "a.>", true},     {"a.>", "a", false},     {"a.>", ">", false},
        {"a.*", "a.b", true},     {"a.*", "a.*", true},    {"a.*", "a.>", false},
        {"a.*", "a.b.c", false},  {"a.b", "a.*", false},   {"a.b", "a.b", true},
        {"*.b", "x.b", true},     {"*.b", "*.b", true},    {"*.b", "*.*", false},
        {"a.*.c", "a.*.c", true}, {"a.*.c", "a.>", false}, {"news.*", "chat.*", false},
    };
    for (const auto& r : rows)
        EXPECT_EQ(pattern_covers(r.outer, r.inner), r.covers) << r.outer << " ⊇ " << r.inner;
}

TEST(Glob, RabbitMqWildcard) {
    EXPECT_TRUE(glob_matches("*", ""));
    EXPECT_TRUE(glob_matches("*", "anything/at.all"));
    EXPECT_TRUE(glob_matches("q.*", "q.1.2"));
    EXPECT_FALSE(glob_matches("q.*", "p.1"));
    EXPECT_TRUE(glob_matches("a*c*e", "abcde"));
    EXPECT_FALSE(glob_matches("a*c*e", "abcdf"));
    EXPECT_TRUE(glob_matches("/", "/"));
    EXPECT_FALSE(glob_matches("%2F", "/"));
}

TEST(Principal, SubExpansionAndInvalidPatterns) {
    principal::grants g;
    g.subscribe = {"user.{sub}.>", "bad..pattern", "ok.*"};
    g.publish = {"user.{sub}"};
    auto p = principal::make("u42", 100, g);
    EXPECT_TRUE(p->may(action::subscribe, "user.u42.inbox"));
    EXPECT_FALSE(p->may(action::subscribe, "user.u43.inbox"));
    EXPECT_TRUE(p->may(action::publish, "user.u42"));
    EXPECT_EQ(p->patterns(action::subscribe).size(), 2U);
    EXPECT_TRUE(p->expired(100));
    EXPECT_FALSE(p->expired(99));
    // A subject that is not one topic token cannot widen or inject a grant.
    auto q = principal::make("a.b", 0, g);
    EXPECT_TRUE(q->patterns(action::publish).empty());
    EXPECT_FALSE(q->may(action::publish, "user.a.b"));
    auto r = principal::make(">", 0, g);
    EXPECT_TRUE(r->patterns(action::publish).empty());
}

TEST(Principal, WildcardSubscriptionsBeyondTheGrantAreRefused) {
    principal::grants g;
    g.subscribe = {"news.>"};
    auto p = principal::make("x", 0, g);
    EXPECT_TRUE(p->may_pattern(action::subscribe, "news.*"));
    EXPECT_TRUE(p->may_pattern(action::subscribe, "news.>"));
    EXPECT_FALSE(p->may_pattern(action::subscribe, ">"));
    EXPECT_FALSE(p->may_pattern(action::subscribe, "*.eu"));
    EXPECT_TRUE(p->may_pattern(action::subscribe, "news.eu"));
    EXPECT_FALSE(p->may_pattern(action::publish, "news.eu"));
}

TEST(Policy, DisabledAllowsEverything) {
    const policy off;
    EXPECT_FALSE(off.enabled());
    EXPECT_TRUE(off.allowed(nullptr, action::publish, "any.topic"));
    EXPECT_TRUE(off.allowed(nullptr, action::subscribe, ">"));
    EXPECT_FALSE(off.authenticate("x.y.z", 0));
}

TEST(Policy, AnonymousRulesAndPrincipals) {
    policy_settings s;
    s.enabled = true;
    s.anonymous.subscribe = {"public.>"};
    const policy on(nullptr, s);
    EXPECT_TRUE(on.allowed(nullptr, action::subscribe, "public.news"));
    EXPECT_TRUE(on.allowed(nullptr, action::subscribe, "public.*"));
    EXPECT_FALSE(on.allowed(nullptr, action::subscribe, "private.news"));
    EXPECT_FALSE(on.allowed(nullptr, action::subscribe, ">"));
    EXPECT_FALSE(on.allowed(nullptr, action::publish, "public.news"));
    principal::grants g;
    g.publish = {"chat.*"};
    auto p = principal::make("u", 0, g);
    EXPECT_TRUE(on.allowed(p.get(), action::publish, "chat.room"));
    EXPECT_TRUE(on.allowed(p.get(), action::subscribe, "public.x"));  // anonymous rules too
    EXPECT_FALSE(on.allowed(p.get(), action::subscribe, "chat.room"));
}

}  // namespace
}  // namespace sy::auth
