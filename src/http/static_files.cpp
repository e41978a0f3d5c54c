#include "switchyard/http/static_files.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <system_error>

#include "switchyard/http/util.hpp"

namespace sy::http {

int status_for(static_error e) {
    switch (e) {
        case static_error::not_found:
            return 404;
        case static_error::forbidden:
            return 403;
        case static_error::is_directory:
            return 301;
        case static_error::bad_path:
            return 400;
        case static_error::io_error:
            return 500;
    }
    return 500;
}

namespace {

constexpr int k_open_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

static_error from_errno(int e) {
    switch (e) {
        case ENOENT:
        case ENOTDIR:
        case ENAMETOOLONG:
            return static_error::not_found;
        case EXDEV:  // RESOLVE_BENEATH: the path resolved outside the root
        case ELOOP:  // O_NOFOLLOW / RESOLVE_NO_SYMLINKS met a symlink
        case EACCES:
        case EPERM:
            return static_error::forbidden;
        default:
            return static_error::io_error;
    }
}

// Checks the relative path segment by segment: no NUL, no "." / "..", dot-files optional.
bool path_is_clean(std::string_view rel, bool allow_dotfiles) {
    if (rel.find('\0') != std::string_view::npos) return false;
    while (!rel.empty()) {
        std::size_t s = rel.find('/');
        std::string_view seg = rel.substr(0, s);
        rel = s == std::string_view::npos ? std::string_view{} : rel.substr(s + 1);
        if (seg == "." || seg == "..") return false;
        if (!allow_dotfiles && !seg.empty() && seg.front() == '.') return false;
    }
    return true;
}

}  // namespace

static_root::static_root(const std::string& root_dir, static_options opts)
    : opts_(std::move(opts)) {
    int fd = ::open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "static root " + root_dir);
    dir_.reset(fd);
}

result<int, static_error> static_root::open_beneath(std::string_view rel) const {
    std::string path(rel.empty() ? std::string_view{"."} : rel);
    open_how how{};
    how.flags = k_open_flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, dir_.get(), path.c_str(), &how, sizeof how);
    if (fd >= 0) return static_cast<int>(fd);
    if (errno == ENOSYS) return open_walk(rel);
    return unexpected(from_errno(errno));
}

// One openat(O_NOFOLLOW) per component: no symlink is ever followed.
result<int, static_error> static_root::open_walk(std::string_view rel) const {
    unique_fd cur;
    int at = dir_.get();
    std::string seg;
    while (true) {
        std::size_t s = rel.find('/');
        seg.assign(rel.substr(0, s));
        bool last = s == std::string_view::npos || s + 1 == rel.size();
        if (seg.empty()) seg = ".";
        int flags =
            last ? k_open_flags | O_NOFOLLOW : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int fd = ::openat(at, seg.c_str(), flags);
        if (fd < 0) return unexpected(from_errno(errno));
        cur.reset(fd);
        at = fd;
        if (last) return cur.release();
        rel.remove_prefix(s + 1);
    }
}

result<opened_file, static_error> static_root::open_file(std::string_view rel) const {
    auto fd = opts_.symlink_policy == static_options::symlinks::within_root ? open_beneath(rel)
                                                                            : open_walk(rel);
    if (!fd) return unexpected(fd.error());
    opened_file f;
    f.fd.reset(*fd);
    struct stat st {};
    if (::fstat(f.fd.get(), &st) != 0) return unexpected(static_error::io_error);
    if (S_ISDIR(st.st_mode)) return unexpected(static_error::is_directory);
    if (!S_ISREG(st.st_mode)) return unexpected(static_error::forbidden);
    f.size = static_cast<std::uint64_t>(st.st_size);
    f.inode = static_cast<std::uint64_t>(st.st_ino);
    f.mtime = st.st_mtim;
    f.content_type = mime_type_for(rel);
    return f;
}

result<opened_file, static_error> static_root::resolve(std::string_view rel,
                                                       bool want_index) const {
    while (!rel.empty() && rel.front() == '/') rel.remove_prefix(1);
    if (!path_is_clean(rel, opts_.allow_dotfiles)) {
        bool nul_or_dots = rel.find('\0') != std::string_view::npos || !path_is_clean(rel, true);
        return unexpected(nul_or_dots ? static_error::bad_path : static_error::not_found);
    }
    auto f = open_file(rel);
    if (f || f.error() != static_error::is_directory) return f;
    if (!want_index) return f;
    if (opts_.index_file.empty()) return unexpected(static_error::not_found);
    std::string index(rel);
    if (!index.empty() && index.back() != '/') index.push_back('/');
    index += opts_.index_file;
    auto idx = open_file(index);
    if (!idx && idx.error() == static_error::is_directory)
        return unexpected(static_error::not_found);
    return idx;
}

std::string make_etag(const opened_file& f) {
    std::string e;
    e.reserve(48);
    e = '"';
    char buf[20];
    auto hex = [&](std::uint64_t v) {
        auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
        e.append(buf, r.ptr);
    };
    hex(f.inode);
    e += '-';
    hex(f.size);
    e += '-';
    hex(static_cast<std::uint64_t>(f.mtime.tv_sec) * 1000000000ull +
        static_cast<std::uint64_t>(f.mtime.tv_nsec));
    e += '"';
    return e;
}

namespace {

bool parse_u64(std::string_view s, std::uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;  // no overflow below 10^19
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// RFC 9110 8.8.3.2: weak comparison ignores the W/ prefix; strong never matches a weak tag.
std::string_view opaque_tag(std::string_view t) {
    if (t.size() >= 2 && t[0] == 'W' && t[1] == '/') t.remove_prefix(2);
    return t;
}

bool if_none_match_hits(std::string_view field, std::string_view etag) {
    if (trim_ows(field) == "*") return true;
    bool hit = false;
    for_each_list_item(field, [&](std::string_view item) {
        hit = opaque_tag(item) == etag;
        return !hit;
    });
    return hit;
}

bool if_range_holds(std::string_view field, std::string_view etag, std::time_t mtime) {
    field = trim_ows(field);
    if (field.starts_with("W/")) return false;
    if (field.starts_with('"')) return field == etag;
    auto d = parse_http_date(field);
    return d && *d == mtime;
}

}  // namespace

byte_range parse_range(std::string_view v, std::uint64_t size) {
    byte_range r;
    v = trim_ows(v);
    if (v.size() < 6 || !iequals(v.substr(0, 6), "bytes=")) return r;  // other units: ignore
    v = trim_ows(v.substr(6));
    if (v.find(',') != std::string_view::npos) return r;  // several ranges: send everything
    std::size_t dash = v.find('-');
    if (dash == std::string_view::npos) return r;
    std::string_view a = trim_ows(v.substr(0, dash)), b = trim_ows(v.substr(dash + 1));
    std::uint64_t first = 0, last = 0;
    if (a.empty()) {  // suffix-range "-n": the last n bytes
        if (!parse_u64(b, last)) return r;
        if (last == 0 || size == 0) return r.outcome = range_outcome::unsatisfiable, r;
        r.length = last < size ? last : size;
        r.first = size - r.length;
        r.outcome = range_outcome::satisfiable;
        return r;
    }
    if (!parse_u64(a, first)) return r;
    if (b.empty()) {
        last = size == 0 ? 0 : size - 1;
    } else if (!parse_u64(b, last) || last < first) {
        return r;  // invalid: ignored (RFC 9110 14.1.1)
    }
    if (first >= size) return r.outcome = range_outcome::unsatisfiable, r;
    if (last >= size) last = size - 1;
    r.first = first;
    r.length = last - first + 1;
    r.outcome = range_outcome::satisfiable;
    return r;
}

void serve_file(const request& req, response& res, opened_file file, const static_options& opts) {
    http::method m = req.method();
    if (m != http::method::get && m != http::method::head) {
        res.set_header("Allow", "GET, HEAD");
        res.send(405, "Method Not Allowed\n");
        return;
    }
    std::string etag = make_etag(file);
    char last_modified[http_date_len];
    format_http_date(file.mtime.tv_sec, last_modified);
    res.set_header("ETag", etag);
    res.set_header("Last-Modified", {last_modified, http_date_len});
    if (!opts.cache_control.empty()) res.set_header("Cache-Control", opts.cache_control);

    // RFC 9110 13.2.2 step 3/4: If-None-Match, else If-Modified-Since.
    if (auto inm = req.header("If-None-Match")) {
        if (if_none_match_hits(*inm, etag)) return res.send(304);
    } else if (auto ims = req.header("If-Modified-Since")) {
        auto since = parse_http_date(trim_ows(*ims));
        if (since && file.mtime.tv_sec <= *since) return res.send(304);
    }

    res.set_header("Accept-Ranges", "bytes");
    res.set_header("Content-Type", file.content_type);
    int status = 200;
    std::uint64_t offset = 0, length = file.size;
    auto range = m == http::method::get ? req.header("Range") : std::nullopt;
    auto if_range = req.header("If-Range");
    if (range && (!if_range || if_range_holds(*if_range, etag, file.mtime.tv_sec))) {
        byte_range br = parse_range(*range, file.size);
        if (br.outcome == range_outcome::unsatisfiable) {
            res.set_header("Content-Range", "bytes */" + std::to_string(file.size));
            return res.send(416, std::string_view{}, std::string_view{});
        }
        if (br.outcome == range_outcome::satisfiable) {
            status = 206;
            offset = br.first;
            length = br.length;
            res.set_header("Content-Range", "bytes " + std::to_string(offset) + "-" +
                                                std::to_string(offset + length - 1) + "/" +
                                                std::to_string(file.size));
        }
    }
    if (m == http::method::head || length == 0) {
        res.begin(status, {}, length);
        res.end();
        return;
    }
    res.send_file(status, file_body{std::move(file.fd), offset, length}, {});
}

handler static_files(const std::string& root_dir, static_options opts) {
    auto root = std::make_shared<const static_root>(root_dir, std::move(opts));
    return [root](request& req, response& res) {
        std::string_view path = req.path();
        std::string_view rel =
            req.param_count() > 0 ? req.param_at(req.param_count() - 1).value : path;
        bool want_index = !path.empty() && path.back() == '/';
        auto f = root->resolve(rel, want_index);
        if (f) return serve_file(req, res, std::move(*f), root->options());
        static_error e = f.error();
        if (e == static_error::is_directory) {
            std::string loc;
            percent_encode_path(path, loc);
            loc += '/';
            if (!req.query_string().empty()) {
                loc += '?';
                loc += req.query_string();
            }
            return res.redirect(301, loc);
        }
        int status = status_for(e);
        res.send(status, std::string(status_reason(status)) + "\n");
    };
}

}  // namespace sy::http
