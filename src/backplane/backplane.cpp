// backplane: the Redis log of every topic, per-topic channel subscriptions, catch-up after a
// reconnection (design in the header and docs/scaling.md).
#include "switchyard/backplane/backplane.hpp"

#include <charconv>

#include <unistd.h>

#include "switchyard/backplane/presence.hpp"
#include "switchyard/base/log.hpp"
#include "switchyard/base/utf8.hpp"
#include "switchyard/hub/topic.hpp"

namespace sy::backplane {

namespace {

constexpr std::string_view k_channel_prefix = "sy:t:";
constexpr std::string_view k_meta_prefix = "sy:m:";
constexpr std::string_view k_stream_prefix = "sy:s:";

// hub.history_age_ms on a stream: its entry ids are offsets, not times, so XTRIM MINID takes
// the id of the oldest entry whose 't' (publish time, ms) is not older than the cutoff, found by
// scanning from the head: the head entry alone first (the common case, a young head, costs one
// O(1) XRANGE), then batches of 64 (at most 1,025 entries per call: a long-idle topic is
// trimmed over a few calls). Reads trim first too, so an idle topic serves no expired entry.
#define SY_TRIM_AGE_LUA                                                              \
    "local function trim_age(key, cutoff)\n"                                         \
    "  if cutoff <= 0 then return end\n"                                             \
    "  local batch = 1\n"                                                            \
    "  for _ = 1, 17 do\n"                                                           \
    "    local old = redis.call('XRANGE', key, '-', '+', 'COUNT', batch)\n"          \
    "    if #old == 0 then return end\n"                                             \
    "    for i = 1, #old do\n"                                                       \
    "      local f, t = old[i][2], 0\n"                                              \
    "      for j = 1, #f, 2 do if f[j] == 't' then t = tonumber(f[j + 1]) end end\n" \
    "      if t >= cutoff then\n"                                                    \
    "        if i > 1 then redis.call('XTRIM', key, 'MINID', old[i][1]) end\n"       \
    "        return\n"                                                               \
    "      end\n"                                                                    \
    "    end\n"                                                                      \
    "    local last = tonumber(string.match(old[#old][1], '^%d+'))\n"                \
    "    redis.call('XTRIM', key, 'MINID', string.format('%d-0', last + 1))\n"       \
    "    batch = 64\n"                                                               \
    "  end\n"                                                                        \
    "end\n"

// KEYS: meta hash, stream. ARGV: channel, time, content type, payload, maxlen, new epoch,
// age cutoff (ms; 0: no age limit). Returns {epoch, offset}. One script, so numbering,
// history and publish are one atomic step.
constexpr std::string_view k_publish_script = SY_TRIM_AGE_LUA R"lua(
local e = redis.call('HGET', KEYS[1], 'epoch')
if not e then
  e = ARGV[6]
  redis.call('HSET', KEYS[1], 'epoch', e)
end
local n = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if tonumber(ARGV[5]) > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[5], n .. '-0',
             'e', e, 't', ARGV[2], 'c', ARGV[3], 'd', ARGV[4])
  trim_age(KEYS[2], tonumber(ARGV[7]))
end
redis.call('PUBLISH', ARGV[1], e .. ' ' .. n .. ' ' .. ARGV[2] .. ' ' .. #ARGV[3] .. '\n' ..
           ARGV[3] .. ARGV[4])
return {e, n}
)lua";

// KEYS: meta hash, stream. ARGV: newest ("1"/"0"), first id to return, count (0: all), age
// cutoff (ms; 0: none). Returns {epoch, last offset, oldest retained entry id or "0", entries}.
constexpr std::string_view k_read_script = SY_TRIM_AGE_LUA R"lua(
trim_age(KEYS[2], tonumber(ARGV[4]))
local e = redis.call('HGET', KEYS[1], 'epoch') or '0'
local n = redis.call('HGET', KEYS[1], 'seq') or '0'
local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
local r
if ARGV[1] == '1' then
  r = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
elseif tonumber(ARGV[3]) > 0 then
  r = redis.call('XRANGE', KEYS[2], ARGV[2], '+', 'COUNT', ARGV[3])
else
  r = redis.call('XRANGE', KEYS[2], ARGV[2], '+')
end
local f = '0'
if #first > 0 then f = first[1][1] end
return {e, n, f, r}
)lua";

#undef SY_TRIM_AGE_LUA
constexpr std::string_view k_scripts[2] = {k_publish_script, k_read_script};

/// The oldest publish time a topic's history keeps at now_ms ("0": no age limit).
std::string age_cutoff(const hub::topic_policy* p, std::int64_t now_ms) {
    if (!p || p->history_age_ms <= 0) return "0";
    return std::to_string(std::max<std::int64_t>(1, now_ms - p->history_age_ms));
}

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);  // "12-0" reads 12; junk reads 0
    return v;
}

std::uint64_t number_of(const resp::value& v) {
    if (v.is(resp::type::integer)) return static_cast<std::uint64_t>(v.integer());
    return to_u64(v.str());
}

std::string meta_key(std::string_view topic) {
    return std::string(k_meta_prefix) + std::string(topic);
}
std::string stream_key(std::string_view topic) {
    return std::string(k_stream_prefix) + std::string(topic);
}

// A stream entry [id, [field, value, ...]] as a hub message.
hub::message_ptr entry_message(const hub::hub& h, const std::string& topic,
                               const resp::value& entry) {
    auto m = std::make_shared<hub::message>();
    m->topic = topic;
    m->id = to_u64(entry[0].str());
    const resp::value fields = entry[1];
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
        const std::string_view k = fields[i].str();
        const resp::value v = fields[i + 1];
        if (k == "e") m->epoch = to_u64(v.str());
        if (k == "t") m->time_ms = static_cast<std::int64_t>(to_u64(v.str()));
        if (k == "c") m->content_type = std::string(v.str());
        if (k == "d") m->payload = shared_bytes::copy_of(v.str());
    }
    m->utf8 = is_valid_utf8(m->payload.bytes());
    m->policy = &h.policy_for(topic);
    return m;
}

}  // namespace

std::string channel_of(std::string_view pattern) {
    std::string out(k_channel_prefix);
    if (hub::is_literal(pattern)) return out.append(pattern);
    // Tokens "*" and a last ">" both become the glob '*' (which also spans dots): the hub
    // matches exactly afterwards.
    std::size_t start = 0;
    while (start <= pattern.size()) {
        std::size_t end = pattern.find('.', start);
        if (end == std::string_view::npos) end = pattern.size();
        const std::string_view tok = pattern.substr(start, end - start);
        if (start > 0) out.push_back('.');
        out.append(tok == ">" ? std::string_view("*") : tok);
        start = end + 1;
    }
    return out;
}

// ---- the per-shard log -------------------------------------------------------------------------

namespace {

/// The owner side of the topics one shard owns: every call goes to the backplane's loop and
/// its answer comes back to this shard. top() answers from what this shard's calls have seen.
class remote_log final : public hub::topic_log {
  public:
    remote_log(backplane& bp, hub::hub& h, unsigned shard)
        : bp_(bp), local_(h), shard_(shard), hub_settings_(h.settings()) {}
    bool delivers() const override { return true; }
    bool available(std::string_view topic) const override {
        return bp_.config().fallback_local || bp_.topic_up(topic);
    }

    void append(const std::shared_ptr<hub::message>& m, hub::append_callback done) override {
        if (own(m->topic)) return fall_back(m, std::move(done));
        auto back = [this, m, done = std::move(done)](
                        result<hub::log_position, hub::publish_error> r) mutable {
            if (!r && r.error() == hub::publish_error::log_unavailable &&
                bp_.config().fallback_local) {
                return fall_back(m, std::move(done));
            }
            if (r) note(m->topic, r->epoch, r->offset);
            done(r);
        };
        bp_.post(0, [bp = &bp_, m, shard = shard_, back = std::move(back)]() mutable {
            bp->publish(m, shard, std::move(back));
        });
    }

    void read(const std::string& topic, std::uint64_t since, std::size_t limit, bool newest_only,
              hub::read_callback done) override {
        if (own(topic)) return local_.read(topic, since, limit, newest_only, std::move(done));
        auto back = [this, topic, done = std::move(done)](hub::log_slice s) mutable {
            if (!s.failed && s.top.epoch != 0) note(topic, s.top.epoch, s.top.last);
            done(std::move(s));
        };
        bp_.post(0, [bp = &bp_, topic, since, limit, newest_only, shard = shard_,
                     back = std::move(back)]() mutable {
            bp->read(topic, since, limit, newest_only, shard, std::move(back));
        });
    }

    hub::log_top top(std::string_view topic) override {
        if (own(topic)) return local_.top(topic);
        auto it = tops_.find(topic);
        return it == tops_.end() ? hub::log_top{} : it->second;
    }

  private:
    /// The server's own topics (sys.*: this node's figures, jobs.*: its jobs) stay on this node.
    bool own(std::string_view topic) const { return hub_settings_.reserved(topic); }
    void note(const std::string& topic, std::uint64_t epoch, std::uint64_t offset) {
        hub::log_top& t = tops_[topic];
        if (t.epoch != epoch || offset > t.last) {
            t.epoch = epoch;
            t.last = offset;
            t.first_available = 1;
        }
    }
    // fallback = local: numbered by this node alone (epoch 0) and delivered here only.
    void fall_back(const std::shared_ptr<hub::message>& m, hub::append_callback done) {
        local_.append(m, [](result<hub::log_position, hub::publish_error>) {});
        bp_.hub_ref().shard(shard_).deliver_remote(m);
        done(hub::log_position{0, m->id});
    }

    backplane& bp_;
    hub::local_topic_log local_;
    unsigned shard_;
    const hub::hub_settings& hub_settings_;
    std::unordered_map<std::string, hub::log_top, hub::string_hash, std::equal_to<>> tops_;
};

}  // namespace

// ---- backplane ---------------------------------------------------------------------------------

backplane::backplane(settings s) : settings_(std::move(s)) {}
backplane::~backplane() = default;

std::size_t backplane::shard_index(std::string_view topic, std::size_t shards) {
    if (shards <= 1) return 0;
    std::uint64_t key = 14695981039346656037ull;  // FNV-1a 64
    for (char ch : topic) {
        key ^= static_cast<unsigned char>(ch);
        key *= 1099511628211ull;
    }
    // Jump consistent hash (Lamping and Veach, 2014): adding a Redis moves 1/n of the topics.
    std::int64_t b = -1;
    std::int64_t j = 0;
    while (j < static_cast<std::int64_t>(shards)) {
        b = j;
        key = key * 2862933555777941757ull + 1;
        j = static_cast<std::int64_t>(
            static_cast<double>(b + 1) *
            (static_cast<double>(1ll << 31) / static_cast<double>((key >> 33) + 1)));
    }
    return static_cast<std::size_t>(b);
}

void backplane::install(hub::hub_settings& hs, post_fn post) {
    post_ = std::move(post);
    hs.make_log = [this](hub::hub& h, unsigned shard) -> std::unique_ptr<hub::topic_log> {
        return std::make_unique<remote_log>(*this, h, shard);
    };
    hs.on_interest = [this](unsigned, const std::string& pattern, bool gained) {
        post_(0, [this, pattern, gained] { interest(pattern, gained); });
    };
}

void backplane::start(core::loop& l) {
    loop_ = &l;
    link_settings ls;
    ls.connect_timeout = settings_.connect_timeout;
    ls.retry_max = settings_.retry_max;
    for (const redis_endpoint& ep : settings_.endpoints) {
        auto r = std::make_unique<redis_shard>();
        redis_shard* rp = r.get();
        rp->endpoint = &ep;
        ls.pubsub = false;
        rp->cmd = std::make_unique<redis_link>(
            l, ep, ls,
            link_hooks{[this, rp] { command_up(*rp); }, [this, rp] { links_down(*rp); }, {}});
        ls.pubsub = true;
        rp->sub = std::make_unique<redis_link>(
            l, ep, ls,
            link_hooks{[this, rp] { pubsub_up(*rp); }, [this, rp] { links_down(*rp); },
                       [this, rp](const resp::value& v) { on_push(*rp, v); }});
        shards_.push_back(std::move(r));
    }
    for (auto& r : shards_) {
        r->cmd->start();
        r->sub->start();
    }
    // The instance names this process (prefork children share a node id).
    presence_ = std::make_unique<redis_presence>(
        *this, settings_.presence_ttl, settings_.node_id + "/" + std::to_string(::getpid()));
    presence_->start(l);
}

void backplane::stop() {
    if (presence_) presence_->stop();
    for (auto& r : shards_) {
        r->cmd->stop();
        r->sub->stop();
        for (auto& [key, c] : r->channels) {
            if (loop_->timer_pending(c.unsub_timer)) loop_->cancel_timer(c.unsub_timer);
        }
    }
    counters_.links_up.store(0, std::memory_order_relaxed);
    up_bits_.store(0, std::memory_order_relaxed);
}

bool backplane::topic_up(std::string_view topic) const {
    return (up_bits_.load(std::memory_order_relaxed) >>
            shard_index(topic, settings_.endpoints.size())) &
           1u;
}

bool backplane::healthy() const {
    return counters_.links_up.load(std::memory_order_relaxed) == 2 * settings_.endpoints.size();
}

void backplane::count_links() {
    std::uint64_t n = 0;
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < shards_.size(); ++i) {
        const redis_shard& r = *shards_[i];
        n += (r.cmd->up() ? 1 : 0) + (r.sub->up() ? 1 : 0);
        if (r.cmd->up() && r.sub->up() && i < 64) bits |= std::uint64_t{1} << i;
    }
    counters_.links_up.store(n, std::memory_order_relaxed);
    up_bits_.store(bits, std::memory_order_relaxed);
}

void backplane::command_up(redis_shard& r) {
    count_links();
    if (r.cmd->connects() > 1) counters_.reconnects.fetch_add(1, std::memory_order_relaxed);
    log::info("backplane: connected to {} (node {})", r.endpoint->display, settings_.node_id);
    // Load both scripts; until the SHA1s are back, EVAL carries the text.
    for (int i = 0; i < 2; ++i) {
        r.sha[i].clear();
        r.cmd->command({"SCRIPT", "LOAD", k_scripts[i]}, [&r, i](const resp::value* v) {
            if (v && v->is(resp::type::bulk)) r.sha[i] = std::string(v->str());
        });
    }
}

void backplane::pubsub_up(redis_shard& r) {
    count_links();
    for (auto& [key, c] : r.channels) {
        if (c.subscribed) counters_.channels.fetch_sub(1, std::memory_order_relaxed);
        c.subscribed = false;
        c.catch_up = c.pattern ? !c.seen.empty() : c.last > 0;
        subscribe(r, key, c);
    }
}

void backplane::links_down(redis_shard& r) {
    const bool was = healthy();
    count_links();
    if (!r.sub->up()) {
        for (auto& [key, c] : r.channels) {
            if (c.subscribed) counters_.channels.fetch_sub(1, std::memory_order_relaxed);
            c.subscribed = false;
        }
    }
    if (was) log::warn("backplane: lost {}; retrying", r.endpoint->display);
}

bool backplane::run_script(redis_shard& r, int which, std::span<const std::string_view> args,
                           redis_link::reply_fn done) {
    // args: the script's numkeys, keys and argv, after the script (or its SHA1).
    std::vector<std::string_view> cmd;
    cmd.reserve(args.size() + 2);
    const bool by_sha = !r.sha[which].empty();
    cmd.push_back(by_sha ? "EVALSHA" : "EVAL");
    cmd.push_back(by_sha ? std::string_view(r.sha[which]) : k_scripts[which]);
    cmd.insert(cmd.end(), args.begin(), args.end());
    return r.cmd->command(cmd, std::move(done));
}

void backplane::publish(const std::shared_ptr<hub::message>& m, unsigned shard,
                        hub::append_callback done) {
    auto answer = [this, shard](hub::append_callback cb,
                                result<hub::log_position, hub::publish_error> r) {
        post_(shard, [cb = std::move(cb), r]() mutable { cb(r); });
    };
    redis_shard& rs = shard_of(m->topic);
    const std::string meta = meta_key(m->topic);
    const std::string stream = stream_key(m->topic);
    const std::string chan = channel_of(m->topic);
    const std::string time = std::to_string(m->time_ms);
    const std::string maxlen = std::to_string(m->policy ? m->policy->history_count : 1000);
    const std::string epoch = std::to_string(std::max<std::int64_t>(1, hub_->now()));
    const std::string cutoff = age_cutoff(m->policy, m->time_ms);
    const std::string_view args[] = {
        "2", meta, stream, chan, time, m->content_type, m->payload.view(), maxlen, epoch, cutoff};
    auto shared_done = std::make_shared<hub::append_callback>(std::move(done));
    const bool sent =
        run_script(rs, 0, args, [this, &rs, answer, shared_done](const resp::value* v) {
            if (!v || !v->is(resp::type::array) || v->size() != 2) {
                if (v && v->is_error()) log::warn("backplane: publish script: {}", v->str());
                // NOSCRIPT after a Redis restart on the same connection: forget the SHA1.
                if (v && v->is_error() && v->str().starts_with("NOSCRIPT")) rs.sha[0].clear();
                counters_.publish_failures.fetch_add(1, std::memory_order_relaxed);
                answer(std::move(*shared_done), unexpected(hub::publish_error::log_unavailable));
                return;
            }
            counters_.publishes.fetch_add(1, std::memory_order_relaxed);
            answer(std::move(*shared_done),
                   hub::log_position{number_of((*v)[0]), number_of((*v)[1])});
        });
    if (!sent) {
        counters_.publish_failures.fetch_add(1, std::memory_order_relaxed);
        answer(std::move(*shared_done), unexpected(hub::publish_error::log_unavailable));
    }
}

void backplane::read(const std::string& topic, std::uint64_t since, std::size_t limit, bool newest,
                     unsigned shard, hub::read_callback done) {
    const std::string meta = meta_key(topic);
    const std::string stream = stream_key(topic);
    const std::string from = std::to_string(since + 1) + "-0";
    const std::string count = std::to_string(limit > 0 ? limit + 1 : 0);  // +1: is there more?
    const std::string cutoff = age_cutoff(&hub_->policy_for(topic), hub_->now());
    const std::string_view args[] = {"2", meta, stream, newest ? "1" : "0", from, count, cutoff};
    auto shared_done = std::make_shared<hub::read_callback>(std::move(done));
    counters_.reads.fetch_add(1, std::memory_order_relaxed);
    auto reply = [this, topic, limit, shard, shared_done](const resp::value* v) {
        hub::log_slice s;
        if (v && v->is(resp::type::array) && v->size() == 4) {
            s.top.epoch = number_of((*v)[0]);
            s.top.last = number_of((*v)[1]);
            const std::uint64_t first = number_of((*v)[2]);
            s.top.first_available = first == 0 ? s.top.last + 1 : first;
            const resp::value entries = (*v)[3];
            for (std::size_t i = 0; i < entries.size(); ++i) {
                if (limit > 0 && s.messages.size() == limit) {
                    s.more = true;
                    break;
                }
                s.messages.push_back(entry_message(*hub_, topic, entries[i]));
            }
            s.top.retained = s.top.last + 1 - s.top.first_available;
        } else {
            s.failed = true;
        }
        post_(shard, [shared_done, s = std::move(s)]() mutable { (*shared_done)(std::move(s)); });
    };
    if (!run_script(shard_of(topic), 1, args, reply)) reply(nullptr);
}

bool backplane::command(std::string_view topic, std::span<const std::string_view> args,
                        redis_link::reply_fn done) {
    return shard_of(topic).cmd->command(args, std::move(done));
}

bool backplane::eval(std::string_view topic, std::string_view script,
                     std::span<const std::string_view> args, redis_link::reply_fn done) {
    std::vector<std::string_view> cmd;
    cmd.reserve(args.size() + 2);
    cmd.push_back("EVAL");
    cmd.push_back(script);
    cmd.insert(cmd.end(), args.begin(), args.end());
    return command(topic, cmd, std::move(done));
}

std::vector<std::string> backplane::literal_topics() const {
    std::vector<std::string> out;
    for (const auto& r : shards_) {
        for (const auto& [key, c] : r->channels) {
            if (!c.pattern) out.push_back(key.substr(k_channel_prefix.size()));
        }
    }
    return out;
}

// ---- channels ----------------------------------------------------------------------------------

void backplane::interest(const std::string& pattern, bool gained) {
    if (hub_->settings().reserved(pattern)) return;  // sys.*, jobs.*: this node only
    const std::string key = channel_of(pattern);
    // A topic's channel is on its shard; a pattern may match topics of every shard.
    if (hub::is_literal(pattern)) return interest_on(shard_of(pattern), key, false, gained);
    for (auto& r : shards_) interest_on(*r, key, true, gained);
}

void backplane::interest_on(redis_shard& r, const std::string& key, bool pattern, bool gained) {
    if (gained) {
        channel& c = r.channels[key];
        c.pattern = pattern;
        if (loop_->timer_pending(c.unsub_timer)) loop_->cancel_timer(c.unsub_timer);
        c.unsub_timer = {};
        if (c.refs++ == 0 && !c.subscribed) subscribe(r, key, c);
        return;
    }
    auto it = r.channels.find(key);
    if (it == r.channels.end() || it->second.refs == 0) return;
    if (--it->second.refs > 0) return;
    // Kept for grace_ms: a subscriber that reconnects at once finds the channel still there.
    it->second.unsub_timer =
        loop_->add_timer(settings_.grace, [this, &r, key] { release(r, key); });
}

void backplane::subscribe(redis_shard& r, const std::string& key, channel& c) {
    if (!r.sub->up()) return;  // pubsub_up() subscribes everything
    r.sub->command({c.pattern ? "PSUBSCRIBE" : "SUBSCRIBE", key});
    c.subscribed = true;
    counters_.subscribe_commands.fetch_add(1, std::memory_order_relaxed);
    counters_.channels.fetch_add(1, std::memory_order_relaxed);
}

void backplane::release(redis_shard& r, const std::string& key) {
    auto it = r.channels.find(key);
    if (it == r.channels.end()) return;
    it->second.unsub_timer = {};
    if (it->second.refs > 0) return;
    if (it->second.subscribed) {
        r.sub->command({it->second.pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE", key});
        counters_.unsubscribe_commands.fetch_add(1, std::memory_order_relaxed);
        counters_.channels.fetch_sub(1, std::memory_order_relaxed);
    }
    r.channels.erase(it);
}

void backplane::on_push(redis_shard& r, const resp::value& v) {
    if (!v.is(resp::type::array) || v.size() < 3) return;
    const std::string_view kind = v[0].str();
    if (kind == "message") return on_channel_message(r, {}, v[1].str(), v[2].str());
    if (kind == "pmessage" && v.size() == 4)
        return on_channel_message(r, v[1].str(), v[2].str(), v[3].str());
    if (kind == "subscribe" || kind == "psubscribe") {
        auto it = r.channels.find(v[1].str());
        if (it != r.channels.end() && it->second.catch_up) catch_up(r, it->first, it->second);
    }
}

// "<epoch> <offset> <time> <content type length>\n<content type><payload>" (the script's).
void backplane::on_channel_message(redis_shard& r, std::string_view pattern, std::string_view chan,
                                   std::string_view payload) {
    if (!chan.starts_with(k_channel_prefix)) return;
    const std::string_view topic = chan.substr(k_channel_prefix.size());
    const std::size_t nl = payload.find('\n');
    if (nl == std::string_view::npos) return;
    std::uint64_t f[4] = {};
    std::string_view head = payload.substr(0, nl);
    for (auto& x : f) {
        const std::size_t sp = head.find(' ');
        x = to_u64(head.substr(0, sp));
        head = sp == std::string_view::npos ? std::string_view{} : head.substr(sp + 1);
    }
    std::string_view body = payload.substr(nl + 1);
    if (f[3] > body.size() || !hub::validate_topic(topic)) return;
    auto m = std::make_shared<hub::message>();
    m->topic = std::string(topic);
    m->epoch = f[0];
    m->id = f[1];
    m->time_ms = static_cast<std::int64_t>(f[2]);
    m->content_type = std::string(body.substr(0, f[3]));
    m->payload = shared_bytes::copy_of(body.substr(f[3]));
    m->utf8 = is_valid_utf8(m->payload.bytes());
    m->policy = &hub_->policy_for(m->topic);
    counters_.received.fetch_add(1, std::memory_order_relaxed);
    if (pattern.empty()) {
        if (auto it = r.channels.find(chan); it != r.channels.end()) {
            it->second.epoch = m->epoch;
            it->second.last = m->id;
        }
    } else if (auto it = r.channels.find(pattern); it != r.channels.end()) {
        // Remembered for catch-up; allocates only for a topic the pattern had not matched yet.
        auto& seen = it->second.seen;
        if (auto t = seen.find(topic); t != seen.end()) {
            t->second = m->id;
        } else if (seen.size() < settings_.catch_up_topics) {
            seen.emplace(m->topic, m->id);
        }
    }
    hub_->shard(0).deliver_remote(std::move(m));
}

// After a reconnection: what was published on the channel while this node was not subscribed
// comes from the stream (repeats are dropped by the owner; a stream that no longer reaches back
// shows as a jump, which the subscribers fill or report as a gap).
void backplane::catch_up(redis_shard&, const std::string& key, channel& c) {
    c.catch_up = false;
    auto deliver = [this](hub::log_slice s) {
        for (hub::message_ptr& m : s.messages) {
            counters_.catch_up.fetch_add(1, std::memory_order_relaxed);
            hub_->shard(0).deliver_remote(std::move(m));
        }
    };
    if (!c.pattern) return read(key.substr(k_channel_prefix.size()), c.last, 0, false, 0, deliver);
    // A pattern: every topic it matched before the link dropped (each on this Redis).
    for (const auto& [topic, last] : c.seen) read(topic, last, 0, false, 0, deliver);
}

}  // namespace sy::backplane
