// message_log: segmented append-only log with group commit. See message_log.hpp.
#include "switchyard/store/message_log.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace sy::store {

namespace {

enum rec_type : std::uint8_t { rec_queue = 1, rec_queue_del = 2, rec_msg = 3, rec_ack = 4 };

std::uint32_t fnv1a(const char* p, std::size_t n) {
    std::uint32_t h = 2166136261u;
    for (std::size_t i = 0; i < n; ++i) {
        h ^= static_cast<std::uint8_t>(p[i]);
        h *= 16777619u;
    }
    return h;
}

void put_u32(std::string& s, std::uint32_t v) {
    char b[4];
    std::memcpy(b, &v, 4);
    s.append(b, 4);
}
void put_u64(std::string& s, std::uint64_t v) {
    char b[8];
    std::memcpy(b, &v, 8);
    s.append(b, 8);
}
void put_str(std::string& s, std::string_view v) {
    put_u32(s, static_cast<std::uint32_t>(v.size()));
    s.append(v);
}
void put_opt(std::string& s, const std::optional<std::uint64_t>& v) {
    s.push_back(v ? 1 : 0);
    put_u64(s, v.value_or(0));
}
void put_optstr(std::string& s, const std::optional<std::string>& v) {
    s.push_back(v ? 1 : 0);
    put_str(s, v.value_or(""));
}

// A message record. Fields added later go at the end and are read only when present, so logs
// written before them stay readable: priority (one byte).
std::string message_record(std::uint64_t id, std::string_view vh, std::string_view queue,
                           const hub::broker_message& m, const hub::property_codec& codec) {
    const sy::shared_bytes& header = m.encoded(codec);
    std::string p;
    p.reserve(64 + header.size() + m.body.size() + queue.size());
    p.push_back(static_cast<char>(rec_msg));
    put_u64(p, id);
    put_str(p, vh);
    put_str(p, queue);
    put_str(p, m.exchange);
    put_str(p, m.routing_key);
    put_str(p, header.view());
    put_str(p, m.body.view());
    put_opt(p, m.ttl_ms);
    p.push_back(static_cast<char>(m.priority));
    return p;
}

std::string frame_record(const std::string& payload) {
    std::string r;
    put_u32(r, static_cast<std::uint32_t>(payload.size()));
    put_u32(r, fnv1a(payload.data(), payload.size()));
    r += payload;
    return r;
}

struct reader {
    const char* p;
    const char* end;
    bool ok = true;
    bool more() const { return ok && p < end; }  // an optional trailing field follows
    bool need(std::size_t n) {
        if (static_cast<std::size_t>(end - p) < n) ok = false;
        return ok;
    }
    std::uint8_t u8() {
        if (!need(1)) return 0;
        return static_cast<std::uint8_t>(*p++);
    }
    std::uint32_t u32() {
        std::uint32_t v = 0;
        if (!need(4)) return 0;
        std::memcpy(&v, p, 4);
        p += 4;
        return v;
    }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        if (!need(8)) return 0;
        std::memcpy(&v, p, 8);
        p += 8;
        return v;
    }
    std::string str() {
        std::uint32_t n = u32();
        if (!need(n)) return {};
        std::string s(p, n);
        p += n;
        return s;
    }
    std::optional<std::uint64_t> opt() {
        bool has = u8() != 0;
        std::uint64_t v = u64();
        return has ? std::optional<std::uint64_t>(v) : std::nullopt;
    }
    std::optional<std::string> optstr() {
        bool has = u8() != 0;
        std::string v = str();
        return has ? std::optional<std::string>(v) : std::nullopt;
    }
};

bool read_file(const std::string& path, std::string& out) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fd);
    return true;
}

}  // namespace

message_log::message_log(log_options o, synced_fn synced)
    : opts_(std::move(o)), synced_(std::move(synced)) {
    if (!opts_.codec) throw std::runtime_error("amqp store: no property codec");
    ::mkdir(opts_.dir.c_str(), 0755);
    struct stat st {};
    if (::stat(opts_.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw std::runtime_error("amqp store: cannot use directory " + opts_.dir);
    }
}

message_log::~message_log() {
    close();
}

std::string message_log::path_of(std::uint32_t seg) const {
    char name[32];
    std::snprintf(name, sizeof name, "/seg-%08u.log", seg);
    return opts_.dir + name;
}

std::string message_log::queue_record(const std::string& vh, const std::string& name,
                                      bool auto_delete, const hub::queue_args& a) const {
    std::string p;
    p.push_back(static_cast<char>(rec_queue));
    put_str(p, vh);
    put_str(p, name);
    p.push_back(auto_delete ? 1 : 0);
    put_opt(p, a.message_ttl_ms);
    put_opt(p, a.expires_ms);
    put_opt(p, a.max_length);
    put_opt(p, a.max_length_bytes);
    p.push_back(static_cast<char>(a.overflow));
    put_optstr(p, a.dead_letter_exchange);
    put_optstr(p, a.dead_letter_routing_key);
    // Later fields (read only when present: older logs lack them): x-max-priority.
    put_opt(p, a.max_priority ? std::optional<std::uint64_t>(*a.max_priority) : std::nullopt);
    return p;
}

void message_log::recover(const std::function<void(const recovered_queue&)>& fn) {
    std::vector<std::uint32_t> segs;
    if (DIR* d = ::opendir(opts_.dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            unsigned n = 0;
            if (std::sscanf(e->d_name, "seg-%08u.log", &n) == 1) segs.push_back(n);
        }
        ::closedir(d);
    }
    std::sort(segs.begin(), segs.end());
    std::map<std::string, recovered_queue> queues;  // key vh\0name
    struct stored {
        std::string qkey;
        hub::broker_message_ptr msg;
    };
    std::map<std::uint64_t, stored> msgs;
    std::uint64_t max_id = 0;
    for (auto seg : segs) {
        std::string data;
        if (!read_file(path_of(seg), data)) continue;
        reader r{data.data(), data.data() + data.size()};
        while (r.p < r.end) {
            std::uint32_t len = r.u32();
            std::uint32_t sum = r.u32();
            if (!r.ok || !r.need(len) || fnv1a(r.p, len) != sum) break;  // torn tail
            reader pr{r.p, r.p + len};
            r.p += len;
            auto type = pr.u8();
            if (type == rec_queue) {
                recovered_queue q;
                q.vhost = pr.str();
                q.name = pr.str();
                q.auto_delete = pr.u8() != 0;
                q.args.message_ttl_ms = pr.opt();
                q.args.expires_ms = pr.opt();
                q.args.max_length = pr.opt();
                q.args.max_length_bytes = pr.opt();
                q.args.overflow = static_cast<hub::overflow_policy>(pr.u8());
                q.args.dead_letter_exchange = pr.optstr();
                q.args.dead_letter_routing_key = pr.optstr();
                if (pr.more()) {
                    auto mp = pr.opt();
                    if (mp) q.args.max_priority = static_cast<std::uint8_t>(*mp);
                }
                if (!pr.ok) break;
                auto key = q.vhost + '\0' + q.name;
                auto it = queues.find(key);
                if (it == queues.end()) queues.emplace(key, std::move(q));
            } else if (type == rec_queue_del) {
                auto vh = pr.str();
                auto name = pr.str();
                auto key = vh + '\0' + name;
                queues.erase(key);
                std::erase_if(msgs, [&](const auto& kv) { return kv.second.qkey == key; });
            } else if (type == rec_msg) {
                auto id = pr.u64();
                auto vh = pr.str();
                auto qn = pr.str();
                auto m = std::make_shared<hub::broker_message>();
                m->exchange = pr.str();
                m->routing_key = pr.str();
                m->set_encoded(shared_bytes::copy_of(pr.str()), *opts_.codec);
                m->body = shared_bytes::copy_of(pr.str());
                m->persistent = true;
                m->ttl_ms = pr.opt();
                if (pr.more()) m->priority = pr.u8();
                if (!pr.ok) break;
                max_id = std::max(max_id, id);
                msgs[id] = {vh + '\0' + qn, std::move(m)};
            } else if (type == rec_ack) {
                msgs.erase(pr.u64());
            }
        }
    }
    next_id_ = max_id + 1;
    segment_ = segs.empty() ? 1 : segs.back() + 1;
    for (auto& [id, s] : msgs) {
        auto it = queues.find(s.qkey);
        if (it != queues.end()) it->second.messages.push_back({id, s.msg});
    }
    // Compact: the fresh segment holds the live state; old ones go once it is on disk.
    thread_ = std::thread([this] { writer(); });
    to_remove_ = segs;
    for (auto& [key, q] : queues) {
        auto rec = queue_record(q.vhost, q.name, q.auto_delete, q.args);
        queues_[key] = rec;
        append(rec);
        for (auto& m : q.messages) {
            std::string p = message_record(m.id, q.vhost, q.name, *m.msg, *opts_.codec);
            seg_of_[m.id] = segment_;
            live_[segment_]++;
            append(std::move(p));
        }
        fn(q);
    }
    if (!to_remove_.empty()) {
        std::lock_guard<std::mutex> g(mu_);
        if (pending_.empty()) pending_.push_back({segment_, {}, token_, {}});
        pending_.back().remove = std::move(to_remove_);
        to_remove_.clear();
        cv_.notify_one();
    }
}

void message_log::append(std::string payload) {
    std::string rec = frame_record(payload);
    segment_size_ += rec.size();
    std::lock_guard<std::mutex> g(mu_);
    ++token_;
    if (!pending_.empty() && pending_.back().segment == segment_) {
        pending_.back().bytes += rec;
        pending_.back().token = token_;
    } else {
        pending_.push_back({segment_, std::move(rec), token_, {}});
    }
    cv_.notify_one();
}

void message_log::rotate() {
    std::vector<std::uint32_t> dead;
    for (auto it = live_.begin(); it != live_.end();) {
        if (it->second == 0 && it->first != segment_) {
            dead.push_back(it->first);
            it = live_.erase(it);
        } else {
            ++it;
        }
    }
    segment_++;
    segment_size_ = 0;
    for (auto& [k, rec] : queues_) append(rec);  // each segment re-declares the durable queues
    if (!dead.empty()) {
        std::lock_guard<std::mutex> g(mu_);
        pending_.back().remove.insert(pending_.back().remove.end(), dead.begin(), dead.end());
    }
}

void message_log::on_queue_declared(const hub::broker_vhost& vh, const hub::broker_queue& q) {
    if (!thread_.joinable()) thread_ = std::thread([this] { writer(); });
    auto rec = queue_record(vh.name, q.name(), q.auto_delete, q.args);
    queues_[vh.name + '\0' + q.name()] = rec;
    append(std::move(rec));
}

void message_log::on_queue_deleted(const hub::broker_vhost& vh, const hub::broker_queue& q) {
    queues_.erase(vh.name + '\0' + q.name());
    std::string p;
    p.push_back(static_cast<char>(rec_queue_del));
    put_str(p, vh.name);
    put_str(p, q.name());
    append(std::move(p));
}

std::uint64_t message_log::on_persist(const hub::broker_vhost& vh, const hub::broker_queue& q,
                                      const hub::broker_message& m) {
    if (!thread_.joinable()) thread_ = std::thread([this] { writer(); });
    if (segment_size_ > opts_.segment_bytes) rotate();
    std::uint64_t id = next_id_++;
    std::string p = message_record(id, vh.name, q.name(), m, *opts_.codec);
    seg_of_[id] = segment_;
    live_[segment_]++;
    append(std::move(p));
    return id;
}

void message_log::on_settled(std::uint64_t id) {
    auto it = seg_of_.find(id);
    if (it == seg_of_.end()) return;
    live_[it->second]--;
    seg_of_.erase(it);
    std::string p;
    p.push_back(static_cast<char>(rec_ack));
    put_u64(p, id);
    append(std::move(p));
}

void message_log::writer() {
    int fd = -1;
    std::uint32_t open_seg = 0;
    std::vector<chunk> batch;
    for (;;) {
        {
            std::unique_lock<std::mutex> g(mu_);
            cv_.wait(g, [&] { return stop_ || !pending_.empty(); });
            if (pending_.empty() && stop_) break;
            batch.swap(pending_);
        }
        std::uint64_t token = 0;
        std::vector<std::uint32_t> remove;
        for (auto& c : batch) {
            if (c.segment != open_seg || fd < 0) {
                if (fd >= 0) {
                    if (opts_.fsync != "never") ::fdatasync(fd);
                    ::close(fd);
                }
                fd = ::open(path_of(c.segment).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                            0644);
                open_seg = c.segment;
            }
            const char* p = c.bytes.data();
            std::size_t left = c.bytes.size();
            while (left > 0 && fd >= 0) {
                ssize_t n = ::write(fd, p, left);
                if (n <= 0) break;
                p += n;
                left -= static_cast<std::size_t>(n);
            }
            token = std::max(token, c.token);
            remove.insert(remove.end(), c.remove.begin(), c.remove.end());
        }
        batch.clear();
        if (fd >= 0 && opts_.fsync != "never") ::fdatasync(fd);
        for (auto seg : remove) {
            if (seg != open_seg) ::unlink(path_of(seg).c_str());
        }
        if (token && synced_) synced_(token);
    }
    if (fd >= 0) {
        if (opts_.fsync != "never") ::fdatasync(fd);
        ::close(fd);
    }
}

void message_log::close() {
    {
        std::lock_guard<std::mutex> g(mu_);
        stop_ = true;
        cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
}

}  // namespace sy::store
