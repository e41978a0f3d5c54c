#include "switchyard/http/static_files.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fake_sink.hpp"
#include "switchyard/http/util.hpp"

namespace sy::http {
namespace {

namespace fs = std::filesystem;
using testing::run;

void write_file(const fs::path& p, std::string_view data) {
    std::ofstream(p, std::ios::binary) << data;
}

// Layout (all below a fresh temp dir):
//   outside/secret.txt          a file next to (not inside) the root
//   www/hello.txt  "0123456789"
//   www/index.html, www/sub/index.html, www/empty/ (no index), www/style.css, www/blob
//   www/.env, www/zero.txt (empty)
//   www/link_in -> hello.txt, www/link_out -> ../outside/secret.txt, www/abs_out -> /etc/passwd
//   www/dir_out -> ../outside
class StaticFilesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/sy_http_static_XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base = tmpl;
        fs::create_directories(base / "outside");
        fs::create_directories(base / "www/sub");
        fs::create_directories(base / "www/empty");
        write_file(base / "outside/secret.txt", "secret");
        write_file(base / "www/hello.txt", "0123456789");
        write_file(base / "www/index.html", "<h1>root</h1>");
        write_file(base / "www/sub/index.html", "<h1>sub</h1>");
        write_file(base / "www/style.css", "body{}");
        write_file(base / "www/blob", "\x01\x02");
        write_file(base / "www/.env", "PASSWORD=x");
        write_file(base / "www/zero.txt", "");
        fs::create_symlink("hello.txt", base / "www/link_in");
        fs::create_symlink("../outside/secret.txt", base / "www/link_out");
        fs::create_symlink("/etc/passwd", base / "www/abs_out");
        fs::create_directory_symlink("../outside", base / "www/dir_out");
        r.get("/static/*path", static_files((base / "www").string()));
        static_options strict;
        strict.symlink_policy = static_options::symlinks::never;
        strict.cache_control = "public, max-age=60";
        r.get("/strict/*path", static_files((base / "www").string(), strict));
        r.any("/anymethod/*path", static_files((base / "www").string()));
    }
    void TearDown() override { fs::remove_all(base); }

    std::unique_ptr<testing::exchange> get(
        std::string_view target,
        std::initializer_list<std::pair<std::string_view, std::string_view>> h = {}) {
        return run(r, "GET", target, h);
    }
    std::string etag_of(std::string_view target) {
        auto x = get(target);
        return std::string(x->sink->header("etag").value_or(""));
    }
    std::string last_modified_of(std::string_view target) {
        auto x = get(target);
        return std::string(x->sink->header("last-modified").value_or(""));
    }

    fs::path base;
    router r;
};

TEST_F(StaticFilesTest, ServesFileWithHeaders) {
    auto x = get("/static/hello.txt");
    const auto& s = *x->sink;
    EXPECT_EQ(s.head_status, 200);
    EXPECT_EQ(s.head_length, 10u);
    EXPECT_EQ(s.file_bytes, "0123456789");
    ASSERT_EQ(s.files.size(), 1u);
    EXPECT_EQ(s.files[0].offset, 0u);
    EXPECT_EQ(s.header("content-type"), "text/plain; charset=utf-8");
    EXPECT_EQ(s.header("accept-ranges"), "bytes");
    EXPECT_EQ(s.header("cache-control"), "no-cache");
    ASSERT_TRUE(s.header("etag").has_value());
    EXPECT_EQ(s.header("etag")->front(), '"');
    EXPECT_TRUE(parse_http_date(*s.header("last-modified")).has_value());
    EXPECT_TRUE(s.ended);
}

TEST_F(StaticFilesTest, MimeTypes) {
    EXPECT_EQ(get("/static/style.css")->sink->header("content-type"), "text/css; charset=utf-8");
    EXPECT_EQ(get("/static/blob")->sink->header("content-type"), "application/octet-stream");
    EXPECT_EQ(get("/static/")->sink->header("content-type"), "text/html; charset=utf-8");
}

TEST_F(StaticFilesTest, DirectoryIndexAndRedirect) {
    auto root = get("/static/");
    EXPECT_EQ(root->sink->head_status, 200);
    EXPECT_EQ(root->sink->file_bytes, "<h1>root</h1>");
    auto sub = get("/static/sub/");
    EXPECT_EQ(sub->sink->file_bytes, "<h1>sub</h1>");
    auto redir = get("/static/sub?x=1");
    EXPECT_EQ(redir->sink->head_status, 301);
    EXPECT_EQ(redir->sink->header("location"), "/static/sub/?x=1");
    auto top = get("/static");
    EXPECT_EQ(top->sink->head_status, 301);
    EXPECT_EQ(top->sink->header("location"), "/static/");
    EXPECT_EQ(get("/static/empty/")->sink->head_status, 404);
    // "//evil.com" normalises to "/evil.com": never a protocol-relative Location.
    auto odd = get("/static//sub");
    EXPECT_EQ(odd->sink->header("location"), "/static/sub/");
    auto enc = get("/static/s%75b");
    EXPECT_EQ(enc->sink->header("location"), "/static/sub/");
}

TEST_F(StaticFilesTest, NotFoundAndDotfiles) {
    EXPECT_EQ(get("/static/missing.txt")->sink->head_status, 404);
    EXPECT_EQ(get("/static/hello.txt/x")->sink->head_status, 404);
    EXPECT_EQ(get("/static/.env")->sink->head_status, 404);
    EXPECT_EQ(get("/static/%2eenv")->sink->head_status, 404);
}

TEST_F(StaticFilesTest, TraversalIsRejected) {
    // Escaping above "/" is a 400 at set_target: these never reach the handler.
    for (std::string_view t :
         {"/static/../../outside/secret.txt", "/static/%2e%2e/%2e%2e/x", "/%2e%2e%2fstatic",
          "/static/..%2f..%2foutside/secret.txt", "/static/a%00.txt"}) {
        request req;
        EXPECT_FALSE(req.set_target(t).has_value()) << t;
    }
    // "/static/../outside/secret.txt" normalises to "/outside/secret.txt": a different route.
    EXPECT_EQ(get("/static/../outside/secret.txt")->sink->head_status, 404);
    EXPECT_EQ(get("/static/%2e%2e/static/hello.txt")->sink->file_bytes, "0123456789");
    EXPECT_EQ(get("/static/sub/%2e%2e/hello.txt")->sink->file_bytes, "0123456789");
}

TEST_F(StaticFilesTest, ResolveRejectsDotsAndNulDirectly) {
    static_root root((base / "www").string(), {});
    EXPECT_EQ(root.resolve("../outside/secret.txt", false).error(), static_error::bad_path);
    EXPECT_EQ(root.resolve("sub/../../outside/secret.txt", false).error(), static_error::bad_path);
    EXPECT_EQ(root.resolve(std::string_view("hello.txt\0.png", 14), false).error(),
              static_error::bad_path);
    EXPECT_EQ(root.resolve("./hello.txt", false).error(), static_error::bad_path);
    EXPECT_TRUE(root.resolve("/hello.txt", false).has_value());
    EXPECT_EQ(status_for(static_error::bad_path), 400);
}

TEST_F(StaticFilesTest, SymlinksWithinRootOnly) {
    EXPECT_EQ(get("/static/link_in")->sink->file_bytes, "0123456789");
    EXPECT_EQ(get("/static/link_out")->sink->head_status, 403);
    EXPECT_EQ(get("/static/abs_out")->sink->head_status, 403);
    EXPECT_EQ(get("/static/dir_out/secret.txt")->sink->head_status, 403);
    EXPECT_TRUE(get("/static/link_out")->sink->file_bytes.empty());
}

TEST_F(StaticFilesTest, StrictPolicyFollowsNoSymlinks) {
    EXPECT_EQ(get("/strict/hello.txt")->sink->file_bytes, "0123456789");
    EXPECT_EQ(get("/strict/sub/")->sink->file_bytes, "<h1>sub</h1>");
    EXPECT_EQ(get("/strict/link_in")->sink->head_status, 403);
    EXPECT_EQ(get("/strict/link_out")->sink->head_status, 403);
    EXPECT_EQ(get("/strict/dir_out/secret.txt")->sink->head_status, 404);  // ENOTDIR
    EXPECT_EQ(get("/strict/hello.txt")->sink->header("cache-control"), "public, max-age=60");
}

TEST_F(StaticFilesTest, NonRegularFilesForbidden) {
    ASSERT_EQ(::mkfifo((base / "www/fifo").c_str(), 0600), 0);
    EXPECT_EQ(get("/static/fifo")->sink->head_status, 403);  // and did not block
}

TEST_F(StaticFilesTest, IfNoneMatch304) {
    std::string etag = etag_of("/static/hello.txt");
    auto x = get("/static/hello.txt", {{"If-None-Match", etag}});
    EXPECT_EQ(x->sink->head_status, 304);
    EXPECT_TRUE(x->sink->files.empty());
    EXPECT_EQ(x->sink->header("etag"), etag);
    EXPECT_FALSE(x->sink->header("content-type").has_value());
    std::string list = "\"nope\", W/" + etag;
    EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", list}})->sink->head_status, 304);
    EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", "*"}})->sink->head_status, 304);
    EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", "\"other\""}})->sink->head_status, 200);
}

TEST_F(StaticFilesTest, EtagChangesWithContent) {
    std::string before = etag_of("/static/hello.txt");
    write_file(base / "www/hello.txt", "changed!!!!");
    EXPECT_NE(etag_of("/static/hello.txt"), before);
}

TEST_F(StaticFilesTest, IfModifiedSince304) {
    std::string lm = last_modified_of("/static/hello.txt");
    EXPECT_EQ(get("/static/hello.txt", {{"If-Modified-Since", lm}})->sink->head_status, 304);
    auto t = parse_http_date(lm);
    ASSERT_TRUE(t.has_value());
    std::string earlier = format_http_date(*t - 10);
    EXPECT_EQ(get("/static/hello.txt", {{"If-Modified-Since", earlier}})->sink->head_status, 200);
    EXPECT_EQ(get("/static/hello.txt", {{"If-Modified-Since", "garbage"}})->sink->head_status, 200);
    // If-None-Match present (and not matching) wins over a matching If-Modified-Since.
    EXPECT_EQ(get("/static/hello.txt", {{"If-None-Match", "\"x\""}, {"If-Modified-Since", lm}})
                  ->sink->head_status,
              200);
}

struct range_case {
    const char* range;
    int status;
    const char* content_range;  // "" = absent
    const char* bytes;
};

TEST_F(StaticFilesTest, RangeForms) {
    const range_case cases[] = {
        {"bytes=0-3", 206, "bytes 0-3/10", "0123"},
        {"bytes=2-2", 206, "bytes 2-2/10", "2"},
        {"bytes=5-", 206, "bytes 5-9/10", "56789"},
        {"bytes=-3", 206, "bytes 7-9/10", "789"},
        {"bytes=-30", 206, "bytes 0-9/10", "0123456789"},
        {"bytes=8-100", 206, "bytes 8-9/10", "89"},
        {"BYTES=1-1", 206, "bytes 1-1/10", "1"},
        {"bytes=10-", 416, "bytes */10", ""},
        {"bytes=10-20", 416, "bytes */10", ""},
        {"bytes=-0", 416, "bytes */10", ""},
        {"bytes=0-1,3-4", 200, "", "0123456789"},  // several ranges: whole file
        {"bytes=5-2", 200, "", "0123456789"},      // invalid: ignored
        {"bytes=x-2", 200, "", "0123456789"},
        {"bytes = 1-1", 200, "", "0123456789"},  // no OWS around "=" (RFC 9110 14.1.1)
        {"bytes=", 200, "", "0123456789"},
        {"items=0-1", 200, "", "0123456789"},
        {"bytes=99999999999999999999-", 200, "", "0123456789"},
    };
    for (const range_case& c : cases) {
        auto x = get("/static/hello.txt", {{"Range", c.range}});
        const auto& s = *x->sink;
        EXPECT_EQ(s.head_status, c.status) << c.range;
        EXPECT_EQ(std::string(s.header("content-range").value_or("")), c.content_range) << c.range;
        EXPECT_EQ(s.file_bytes, c.bytes) << c.range;
        if (c.status != 416) {
            EXPECT_EQ(s.head_length, std::string_view(c.bytes).size()) << c.range;
        }
    }
}

TEST_F(StaticFilesTest, RangeOnEmptyFileUnsatisfiable) {
    auto x = get("/static/zero.txt", {{"Range", "bytes=0-"}});
    EXPECT_EQ(x->sink->head_status, 416);
    EXPECT_EQ(x->sink->header("content-range"), "bytes */0");
    auto y = get("/static/zero.txt");
    EXPECT_EQ(y->sink->head_status, 200);
    EXPECT_EQ(y->sink->head_length, 0u);
    EXPECT_TRUE(y->sink->files.empty());
}

TEST_F(StaticFilesTest, IfRange) {
    std::string etag = etag_of("/static/hello.txt");
    std::string lm = last_modified_of("/static/hello.txt");
    auto hit = get("/static/hello.txt", {{"Range", "bytes=0-1"}, {"If-Range", etag}});
    EXPECT_EQ(hit->sink->head_status, 206);
    auto miss = get("/static/hello.txt", {{"Range", "bytes=0-1"}, {"If-Range", "\"stale\""}});
    EXPECT_EQ(miss->sink->head_status, 200);
    EXPECT_EQ(miss->sink->file_bytes, "0123456789");
    auto weak = get("/static/hello.txt", {{"Range", "bytes=0-1"}, {"If-Range", "W/" + etag}});
    EXPECT_EQ(weak->sink->head_status, 200);  // weak tags never match strongly
    auto date = get("/static/hello.txt", {{"Range", "bytes=0-1"}, {"If-Range", lm}});
    EXPECT_EQ(date->sink->head_status, 206);
    auto old = format_http_date(*parse_http_date(lm) - 1);
    auto stale = get("/static/hello.txt", {{"Range", "bytes=0-1"}, {"If-Range", old}});
    EXPECT_EQ(stale->sink->head_status, 200);
}

TEST_F(StaticFilesTest, HeadSendsHeadOnly) {
    auto x = run(r, "HEAD", "/static/hello.txt");
    EXPECT_EQ(x->sink->head_status, 200);
    EXPECT_EQ(x->sink->head_length, 10u);
    EXPECT_TRUE(x->sink->files.empty());
    EXPECT_TRUE(x->sink->ended);
    auto ranged = run(r, "HEAD", "/static/hello.txt", {{"Range", "bytes=0-1"}});
    EXPECT_EQ(ranged->sink->head_status, 200);  // Range is defined for GET only
}

TEST_F(StaticFilesTest, OtherMethods405) {
    auto x = run(r, "POST", "/anymethod/hello.txt");
    EXPECT_EQ(x->sink->head_status, 405);
    EXPECT_EQ(x->sink->header("allow"), "GET, HEAD");
    auto y = run(r, "POST", "/static/hello.txt");  // router: GET-only route
    EXPECT_EQ(y->sink->head_status, 405);
}

TEST(ParseRange, Direct) {
    auto r = parse_range("bytes=0-0", 1);
    EXPECT_EQ(r.outcome, range_outcome::satisfiable);
    EXPECT_EQ(r.first, 0u);
    EXPECT_EQ(r.length, 1u);
    EXPECT_EQ(parse_range("bytes=1-", 1).outcome, range_outcome::unsatisfiable);
    EXPECT_EQ(parse_range("bytes=-", 10).outcome, range_outcome::none);
    EXPECT_EQ(parse_range("bytes=--1", 10).outcome, range_outcome::none);
    EXPECT_EQ(parse_range("bytes=1", 10).outcome, range_outcome::none);
}

TEST(StaticRoot, MissingRootThrows) {
    EXPECT_THROW(static_root("/nonexistent/sy/root", {}), std::system_error);
}

}  // namespace
}  // namespace sy::http
