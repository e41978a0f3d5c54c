// redis_presence: presence and per-node topic figures on Redis (the design is in the header and
// docs/scaling.md). Every script reads Redis' own clock (TIME), so nodes whose clocks differ
// agree on what has expired.
#include "switchyard/backplane/presence.hpp"

#include <algorithm>
#include <charconv>

#include "switchyard/backplane/backplane.hpp"
#include "switchyard/base/json.hpp"
#include "switchyard/base/log.hpp"

namespace sy::backplane {

namespace {

constexpr std::string_view k_presence_prefix = "sy:p:";
constexpr std::string_view k_nodes_prefix = "sy:n:";
constexpr std::string_view k_meta_prefix = "sy:m:";  // the topic's epoch and seq (backplane.cpp)

// Every script starts from `now`, in milliseconds on Redis' clock (TIME).

// KEYS: sy:p:<topic>. ARGV: ttl ms, instance, names to (re)write. Removes expired members and
// returns the names that left with them (no live member of that name remains).
constexpr std::string_view k_touch_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i] .. '\n' .. ARGV[2])
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
local left = {}
if #gone > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local live = {}
  for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    live[string.match(m, '^(.*)\n')] = true
  end
  for _, m in ipairs(gone) do
    local n = string.match(m, '^(.*)\n')
    if n and not live[n] then
      live[n] = true
      table.insert(left, n)
    end
  end
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return left
)lua";

// KEYS: sy:p:<topic>. Returns the live members "<name>\n<instance>".
constexpr std::string_view k_members_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
)lua";

// KEYS: sy:n:<topic>. ARGV: ttl ms, instance, subscribers.
constexpr std::string_view k_count_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3] .. ' ' .. (now + tonumber(ARGV[1])))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return 1
)lua";

// KEYS: sy:n:<topic>, sy:m:<topic>. Returns {epoch, last offset, {instance, subscribers, ...}}
// with the unexpired fields only.
constexpr std::string_view k_figures_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #h, 2 do
  local c, e = string.match(h[i + 1], '^(%d+) (%d+)$')
  if e and tonumber(e) > now then
    table.insert(out, h[i])
    table.insert(out, c)
  end
end
return {redis.call('HGET', KEYS[2], 'epoch') or '0', redis.call('HGET', KEYS[2], 'seq') or '0', out}
)lua";

std::string key_of(std::string_view prefix, std::string_view topic) {
    std::string k(prefix);
    return k.append(topic);
}

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

// "<name>\n<instance>": the name is everything before the last newline.
std::string_view name_of(std::string_view member) {
    const std::size_t nl = member.rfind('\n');
    return nl == std::string_view::npos ? member : member.substr(0, nl);
}

}  // namespace

redis_presence::redis_presence(backplane& bp, millis ttl, std::string instance)
    : bp_(bp),
      ttl_(std::max<millis>(ttl, millis(3))),
      instance_(std::move(instance)),
      ttl_text_(std::to_string(ttl_.count())) {}

void redis_presence::start(core::loop& l) {
    loop_ = &l;
    timer_ = loop_->add_timer(ttl_ / 3, [this] { tick(); });
}

void redis_presence::stop() {
    if (loop_ && loop_->timer_pending(timer_)) loop_->cancel_timer(timer_);
    loop_ = nullptr;
}

void redis_presence::join(const std::string& topic, const std::string& name) {
    if (mine_.add(topic, name)) touch(topic, {name});
}

void redis_presence::leave(const std::string& topic, const std::string& name) {
    if (!mine_.remove(topic, name)) return;
    const std::string key = key_of(k_presence_prefix, topic);
    const std::string member = name + '\n' + instance_;
    const std::string_view args[] = {"ZREM", key, member};
    bp_.command(topic, args, {});  // Redis down: the entry expires after the ttl
}

void redis_presence::members(const std::string& topic, hub::members_callback done) {
    const std::string key = key_of(k_presence_prefix, topic);
    const std::string_view args[] = {"1", key};
    auto shared = std::make_shared<hub::members_callback>(std::move(done));
    auto reply = [shared](const resp::value* v) {
        if (!v || !v->is(resp::type::array)) return (*shared)(std::nullopt);
        std::vector<std::string> names;
        names.reserve(v->size());
        for (std::size_t i = 0; i < v->size(); ++i) names.emplace_back(name_of((*v)[i].str()));
        std::sort(names.begin(), names.end());
        names.erase(std::unique(names.begin(), names.end()), names.end());
        (*shared)(std::move(names));
    };
    if (!bp_.eval(topic, k_members_script, args, reply)) reply(nullptr);
}

void redis_presence::topic_figures(const std::string& topic, nodes_callback done) {
    const std::string nodes = key_of(k_nodes_prefix, topic);
    const std::string meta = key_of(k_meta_prefix, topic);
    const std::string_view args[] = {"2", nodes, meta};
    auto shared = std::make_shared<nodes_callback>(std::move(done));
    auto reply = [shared](const resp::value* v) {
        if (!v || !v->is(resp::type::array) || v->size() != 3) return (*shared)(std::nullopt);
        topic_nodes t;
        t.epoch = to_u64((*v)[0].str());
        t.last_id = to_u64((*v)[1].str());
        const resp::value fields = (*v)[2];
        for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
            t.nodes.emplace_back(std::string(fields[i].str()), to_u64(fields[i + 1].str()));
        }
        std::sort(t.nodes.begin(), t.nodes.end());
        (*shared)(std::move(t));
    };
    if (!bp_.eval(topic, k_figures_script, args, reply)) reply(nullptr);
}

// Every ttl/3: this node's names and subscriber counts are written again.
void redis_presence::tick() {
    timer_ = loop_->add_timer(ttl_ / 3, [this] { tick(); });
    std::vector<std::string> names;
    for (const auto& [topic, held] : mine_.entries()) {
        names.clear();
        for (const auto& [name, sockets] : held) names.push_back(name);
        touch(topic, names);
    }
    std::vector<std::string> now = bp_.literal_topics();
    std::sort(now.begin(), now.end());
    for (const std::string& topic : counted_) {
        if (!std::binary_search(now.begin(), now.end(), topic)) write_count(topic, 0);
    }
    for (const std::string& topic : now) {
        bp_.hub_ref().shard(0).count_subscribers(
            topic, [this, topic](std::uint64_t n) { write_count(topic, n); });
    }
    counted_ = std::move(now);
}

void redis_presence::touch(const std::string& topic, const std::vector<std::string>& names) {
    const std::string key = key_of(k_presence_prefix, topic);
    std::vector<std::string_view> args = {"1", key, ttl_text_, instance_};
    args.insert(args.end(), names.begin(), names.end());
    bp_.eval(topic, k_touch_script, args, [this, topic](const resp::value* v) {
        if (!v || !v->is(resp::type::array)) return;
        for (std::size_t i = 0; i < v->size(); ++i) publish_leave(topic, (*v)[i].str());
    });
}

void redis_presence::write_count(const std::string& topic, std::uint64_t subscribers) {
    if (!loop_) return;  // stopped
    const std::string key = key_of(k_nodes_prefix, topic);
    if (subscribers == 0) {
        const std::string_view args[] = {"HDEL", key, instance_};
        bp_.command(topic, args, {});
        return;
    }
    const std::string n = std::to_string(subscribers);
    const std::string_view args[] = {"1", key, ttl_text_, instance_, n};
    bp_.eval(topic, k_count_script, args, {});
}

// The leave message a socket's close publishes (server/routes.cpp), for a name whose node
// stopped refreshing it.
void redis_presence::publish_leave(const std::string& topic, std::string_view name) {
    std::string j;
    json::writer(j).begin_object().member("type", "leave").member("name", name).end_object();
    log::info("backplane: presence of {} on {} expired", name, topic);
    bp_.hub_ref().shard(0).publish(topic, "application/json", shared_bytes::copy_of(j), {},
                                   hub::publish_origin::server);
}

}  // namespace sy::backplane
