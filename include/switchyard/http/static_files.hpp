// Static file serving.
//
// Mount with a trailing wildcard; the LAST captured parameter is the file path below the root
// (without parameters the whole request path is used):
//     app.get("/assets/*path", http::static_files("/srv/www", {}));
//
// Path safety (static_root::resolve):
//   - the path is already percent-decoded and normalised by request::set_target ("..", "%2e%2e"
//     and "%2f.." are resolved or rejected with 400 before routing; %00 is rejected with 400);
//     resolve() re-checks: NUL, any "..", and (by default) dot-files are refused;
//   - the root is opened once as a directory fd; files are opened RELATIVE to it:
//       symlinks::within_root (default): openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS), so
//         symlinks that stay inside the root work and anything resolving outside it (absolute
//         links, "../" links, /proc magic links) fails with EXDEV -> 403. On kernels without
//         openat2 (ENOSYS, < 5.6) it falls back to the `never` walk below.
//       symlinks::never: walks the components with openat(O_NOFOLLOW): every symlink -> 403/404.
//   - files are opened O_NONBLOCK (a FIFO planted in the root cannot block the loop) and must
//     be regular files after fstat (anything else -> 403).
// Directories: "/dir" -> 301 to "/dir/" (Location rebuilt from the normalised path, never the
// raw target, so "//evil.com" cannot become an open redirect); "/dir/" -> the index file, 404
// if absent (no listings).
//
// Validators: a STRONG ETag "<inode>-<size>-<mtime ns>" (hex). mtime has nanosecond resolution
// on the filesystems we serve from, so two versions differing within one ns at the same size
// are the accepted risk (nginx makes the same trade with seconds). Strong so it can be used by
// If-Range. Last-Modified = mtime in seconds.
// Conditionals (RFC 9110 13.2.2 order): If-None-Match (weak comparison, "*", lists) -> 304;
// only when absent, If-Modified-Since (mtime <= date) -> 304. If-Match/If-Unmodified-Since are
// not evaluated (not needed for GET of static content).
// Range (RFC 9110 14, GET only): one "bytes=a-b", "a-" or "-n" -> 206 + Content-Range;
// unsatisfiable -> 416 + "Content-Range: bytes */size"; several ranges -> the whole file with
// 200 (multipart/byteranges is not implemented; RFC 9110 14.2 lets a server ignore Range);
// malformed or non-bytes ranges are ignored (200). If-Range: an entity-tag must match strongly,
// a date must equal Last-Modified; otherwise the Range is ignored (200).
// HEAD sends the same head as GET with no body (the file is not sent).
// The body goes out through response::write_file, so HTTP/1.1 over TCP uses sendfile(2).
//
// Blocking: resolve() does open/fstat (local disk, fast): the handler calls it on the loop.
// It is a const, thread-safe function of (root, path) so a deployment on slow storage can run
// it on the thread pool and post the opened_file back to serve_file() on the loop.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "switchyard/base/result.hpp"
#include "switchyard/http/request.hpp"
#include "switchyard/http/response.hpp"
#include "switchyard/http/router.hpp"

namespace sy::http {

struct static_options {
    enum class symlinks : std::uint8_t { within_root, never };
    std::string index_file = "index.html";   ///< "" disables index files
    std::string cache_control = "no-cache";  ///< "" sends none; "no-cache" = always revalidate
    symlinks symlink_policy = symlinks::within_root;
    bool allow_dotfiles = false;  ///< serve names starting with '.' (".git", ".env")
};

enum class static_error : std::uint8_t {
    not_found,     ///< 404
    forbidden,     ///< 403: symlink escape, not a regular file, permission
    is_directory,  ///< 301 to the path with a trailing slash
    bad_path,      ///< 400: NUL or ".." in the relative path
    io_error,      ///< 500
};
/// The one table mapping static_error to the reply status.
int status_for(static_error e);

struct opened_file {
    unique_fd fd;
    std::uint64_t size = 0;
    std::uint64_t inode = 0;
    struct timespec mtime {};
    std::string_view content_type;  ///< from the file name (static storage)
};

class static_root {
  public:
    /// Opens the root directory; throws std::system_error if it cannot (start-up only).
    static_root(const std::string& root_dir, static_options opts);

    /// Opens `rel` (relative to the root, '/'-separated, leading '/' ignored). `want_index`:
    /// the request path ended with '/', so a directory means its index file.
    result<opened_file, static_error> resolve(std::string_view rel, bool want_index) const;

    const static_options& options() const { return opts_; }

  private:
    result<opened_file, static_error> open_file(std::string_view rel) const;
    result<int, static_error> open_beneath(std::string_view rel) const;
    result<int, static_error> open_walk(std::string_view rel) const;

    unique_fd dir_;
    static_options opts_;
};

/// The conditional/Range/HEAD logic for an already opened file (see the file comment).
void serve_file(const request& req, response& res, opened_file file, const static_options& opts);

/// The strong ETag for a file (quoted).
std::string make_etag(const opened_file& f);

/// A handler serving files below root_dir (throws at start-up if root_dir cannot be opened).
handler static_files(const std::string& root_dir, static_options opts = {});

/// Parsed single byte range (exposed for tests and other handlers).
enum class range_outcome : std::uint8_t { none, satisfiable, unsatisfiable };
struct byte_range {
    range_outcome outcome = range_outcome::none;
    std::uint64_t first = 0, length = 0;
};
/// Interprets a Range field value against a representation of `size` bytes.
byte_range parse_range(std::string_view value, std::uint64_t size);

}  // namespace sy::http
