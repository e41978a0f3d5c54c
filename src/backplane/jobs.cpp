// redis_jobs (jobs.hpp): the jobs store on a Redis stream with a consumer group.
#include "switchyard/backplane/jobs.hpp"

#include <charconv>
#include <deque>
#include <map>
#include <set>
#include <vector>

#include "switchyard/backplane/backplane.hpp"
#include "switchyard/base/json.hpp"

namespace sy::backplane {

namespace {

using hub::job_answer;
using hub::job_outcome;

// The job fields every answer shows, in this order (HMGET).
#define SY_JOB_FIELDS \
    "'status','progress','result','version','attempts','created','updated','reason'"
constexpr std::size_t k_fields = 8;

// `now` on Redis' clock, and finish(): the finished list trimmed to `kept` (hashes deleted).
#define SY_JOB_PRELUDE                                                                             \
    "local t = redis.call('TIME')\n"                                                               \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                      \
    "local function finish(fin, kept, pre, jid)\n"                                                 \
    "  redis.call('RPUSH', fin, jid)\n"                                                            \
    "  while redis.call('LLEN', fin) > kept do redis.call('DEL', pre .. redis.call('LPOP', fin)) " \
    "end\n"                                                                                        \
    "end\n"

// KEYS: stream, counter. ARGV: hash prefix, content type, payload. Returns the id.
constexpr std::string_view k_submit_script = SY_JOB_PRELUDE
    "redis.pcall('XGROUP', 'CREATE', KEYS[1], 'sy', '0', 'MKSTREAM')\n"
    "local id = redis.call('INCR', KEYS[2])\n"
    "local h = ARGV[1] .. id\n"
    "redis.call('HSET', h, 'status', 'queued', 'progress', 0, 'result', 'null', 'version', 1,\n"
    "  'attempts', 0, 'created', now, 'updated', now, 'type', ARGV[2], 'payload', ARGV[3], "
    "'lease', 0)\n"
    "redis.call('HSET', h, 'entry', redis.call('XADD', KEYS[1], '*', 'id', id))\n"
    "return id\n";

// KEYS: stream. ARGV: hash prefix, consumer, visibility ms, max attempts, finished list, kept,
// dead-letter stream. Returns nil, or {id, lease, attempt, type, payload, fields...}; entries of
// finished or vanished jobs are acked on the way, jobs over max attempts dead-lettered.
constexpr std::string_view k_take_script = SY_JOB_PRELUDE
    "local s, pre, me = KEYS[1], ARGV[1], ARGV[2]\n"
    "local maxa, kept = tonumber(ARGV[4]), tonumber(ARGV[6])\n"
    "redis.pcall('XGROUP', 'CREATE', s, 'sy', '0', 'MKSTREAM')\n"
    "for round = 1, 16 do\n"
    "  local e\n"
    "  local c = redis.call('XAUTOCLAIM', s, 'sy', me, ARGV[3], '0-0', 'COUNT', 1)\n"
    "  if c[2][1] then e = c[2][1] else\n"
    "    local r = redis.call('XREADGROUP', 'GROUP', 'sy', me, 'COUNT', 1, 'STREAMS', s, '>')\n"
    "    if not r then return false end\n"
    "    e = r[1][2][1]\n"
    "  end\n"
    "  local eid, jid = e[1], e[2][2]\n"
    "  local n = redis.call('XPENDING', s, 'sy', eid, eid, 1)[1][4]\n"
    "  local h = pre .. jid\n"
    "  local st = redis.call('HGET', h, 'status')\n"
    "  if not st or st == 'done' or st == 'failed' then\n"
    "    redis.call('XACK', s, 'sy', eid) redis.call('XDEL', s, eid)\n"
    "  elseif maxa > 0 and n > maxa then\n"
    "    redis.call('XACK', s, 'sy', eid) redis.call('XDEL', s, eid)\n"
    "    redis.call('XADD', ARGV[7], '*', 'id', jid)\n"
    "    redis.call('HSET', h, 'status', 'failed', 'updated', now,\n"
    "      'reason', 'dead-lettered after ' .. maxa .. ' attempts')\n"
    "    redis.call('HINCRBY', h, 'version', 1)\n"
    "    finish(ARGV[5], kept, pre, jid)\n"
    "  else\n"
    "    local lease = redis.call('HINCRBY', h, 'lease', 1)\n"
    "    redis.call('HSET', h, 'status', 'running', 'attempts', n, 'updated', now)\n"
    "    redis.call('HINCRBY', h, 'version', 1)\n"
    "    local v = redis.call('HMGET', h, 'type', 'payload', " SY_JOB_FIELDS
    ")\n"
    "    return {jid, lease, n, unpack(v)}\n"
    "  end\n"
    "end\n"
    "return false\n";

// KEYS: stream. ARGV: hash prefix, id, beat|done|failed, lease ('' none), progress ('' none),
// result ('' none), consumer, finished list, kept. Returns {code, fields...}.
constexpr std::string_view k_report_script = SY_JOB_PRELUDE
    "local s, h = KEYS[1], ARGV[1] .. ARGV[2]\n"
    "local st = redis.call('HGET', h, 'status')\n"
    "if not st then return {'nojob'} end\n"
    "if st ~= 'running' then return {'notrunning', unpack(redis.call('HMGET', h, " SY_JOB_FIELDS
    "))} end\n"
    "if ARGV[4] ~= '' and ARGV[4] ~= redis.call('HGET', h, 'lease') then return {'leaselost'} end\n"
    "if ARGV[5] ~= '' then redis.call('HSET', h, 'progress', ARGV[5]) end\n"
    "if ARGV[6] ~= '' then redis.call('HSET', h, 'result', ARGV[6]) end\n"
    "local e = redis.call('HGET', h, 'entry')\n"
    "if ARGV[3] == 'beat' then\n"
    "  redis.call('XCLAIM', s, 'sy', ARGV[7], 0, e, 'JUSTID')\n"
    "else\n"
    "  redis.call('XACK', s, 'sy', e) redis.call('XDEL', s, e)\n"
    "  if ARGV[3] == 'done' then redis.call('HSET', h, 'status', 'done', 'progress', 100)\n"
    "  else redis.call('HSET', h, 'status', 'failed', 'reason', 'worker reported failure') end\n"
    "  finish(ARGV[8], tonumber(ARGV[9]), ARGV[1], ARGV[2])\n"
    "end\n"
    "redis.call('HSET', h, 'updated', now)\n"
    "redis.call('HINCRBY', h, 'version', 1)\n"
    "return {'ok', unpack(redis.call('HMGET', h, " SY_JOB_FIELDS "))}\n";

// KEYS: stream. ARGV: hash prefix, id, lease, consumer, idle ms. The offer's entry is claimable
// at once by any node, and the lost delivery is not counted. Returns 1 when given back.
constexpr std::string_view k_give_back_script = SY_JOB_PRELUDE
    "local s, h = KEYS[1], ARGV[1] .. ARGV[2]\n"
    "if redis.call('HGET', h, 'status') ~= 'running' or redis.call('HGET', h, 'lease') ~= ARGV[3]\n"
    "  then return 0 end\n"
    "local e = redis.call('HGET', h, 'entry')\n"
    "local p = redis.call('XPENDING', s, 'sy', e, e, 1)[1]\n"
    "if not p then return 0 end\n"
    "redis.call('XCLAIM', s, 'sy', ARGV[4], 0, e, 'IDLE', ARGV[5], 'RETRYCOUNT',\n"
    "  math.max(p[4] - 1, 0), 'JUSTID')\n"
    "redis.call('HSET', h, 'status', 'queued', 'updated', now)\n"
    "redis.call('HINCRBY', h, 'version', 1)\n"
    "return 1\n";

#undef SY_JOB_PRELUDE

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t n = 0;
    std::from_chars(s.data(), s.data() + s.size(), n);
    return n;
}

/// The job's JSON (the local store's shape) from the fields at v[at..at + k_fields).
std::string job_json(std::uint64_t id, const resp::value& v, std::size_t at) {
    const auto f = [&](std::size_t i) { return v[at + i].str(); };
    std::string out = "{\"id\":" + std::to_string(id) + ",\"status\":\"";
    json::escape(f(0), out);
    out += "\",\"progress\":" + std::to_string(to_u64(f(1)));
    out += ",\"result\":";
    out += f(2).empty() ? std::string_view("null") : f(2);
    out += ",\"version\":" + std::to_string(to_u64(f(3)));
    out += ",\"attempts\":" + std::to_string(to_u64(f(4)));
    out += ",\"created\":" + std::to_string(to_u64(f(5)));
    out += ",\"updated\":" + std::to_string(to_u64(f(6)));
    if (!v[at + 7].is_nil() && !f(7).empty()) {
        out += ",\"reason\":\"";
        json::escape(f(7), out);
        out += '"';
    }
    out += '}';
    return out;
}

job_answer unavailable() {
    return {job_outcome::unavailable, "{\"error\":\"the jobs store (Redis) is not available\"}"};
}

}  // namespace

struct redis_jobs::impl {
    struct waiter {
        std::uint64_t key = 0;
        std::uint64_t seen = 0;  // watchers: the version seen
        hub::job_reply to;
        std::uint64_t timer = 0;
    };

    impl(hub::jobs_settings s, hub::jobs_env e, backplane& b)
        : settings(std::move(s)),
          env(std::move(e)),
          clock(*env.clock),
          counters(*env.counters),
          bp(b),
          base("sy:j:" + settings.queue + ":"),
          stream(base + "s"),
          counter(base + "n"),
          hashes(base + "h:"),
          finished(base + "f"),
          dead(base + "dead"),
          consumer(bp.config().node_id.empty() ? "node" : bp.config().node_id) {}
    ~impl();

    void take(std::uint64_t key, std::int64_t timeout_ms, hub::job_reply to);
    void pump();
    void offered(const resp::value& v);
    void give_back(std::uint64_t id, std::uint64_t lease);
    void update(std::uint64_t id, std::string_view body, hub::job_reply to);
    void reported(std::uint64_t id, const resp::value& v, const hub::job_report& r,
                  hub::job_reply to);
    void watch(std::uint64_t id, std::optional<std::uint64_t> seen, std::int64_t wait_ms,
               hub::job_reply to);
    void read_watched();
    void changed(std::uint64_t id, std::uint64_t version, const std::string& json);
    void expire_watch(std::uint64_t id, std::uint64_t key);
    bool eval(std::string_view script, std::span<const std::string_view> args,
              unique_function<void(const resp::value*)> done) {
        std::weak_ptr<bool> w = alive;
        return bp.eval(settings.queue, script, args,
                       [w, d = std::move(done)](const resp::value* v) mutable {
                           if (!w.expired()) d(v);
                       });
    }
    void poll_later() {
        if (poll_timer || workers.empty()) return;
        poll_timer = clock.start_timer(k_poll_ms, [this] {
            poll_timer = 0;
            pump();
        });
    }

    hub::jobs_settings settings;
    hub::jobs_env env;
    hub::jobs_clock& clock;
    hub::jobs_counters& counters;
    backplane& bp;
    std::string base, stream, counter, hashes, finished, dead, consumer;
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);
    std::deque<waiter> workers;
    bool taking = false;
    std::uint64_t poll_timer = 0;
    std::multimap<std::uint64_t, waiter> watchers;  // job id -> long poll
    std::uint64_t watch_seq = 0, watch_timer = 0;
};

redis_jobs::impl::~impl() {
    clock.cancel_timer(poll_timer);
    clock.cancel_timer(watch_timer);
    for (auto& w : workers) clock.cancel_timer(w.timer);
    for (auto& [id, w] : watchers) clock.cancel_timer(w.timer);
}

void redis_jobs::impl::take(std::uint64_t key, std::int64_t timeout_ms, hub::job_reply to) {
    workers.push_back({key, 0, std::move(to), 0});
    workers.back().timer = clock.start_timer(timeout_ms, [this, key] {
        for (auto it = workers.begin(); it != workers.end(); ++it) {
            if (it->key != key) continue;
            it->timer = 0;
            it->to({job_outcome::no_job, {}});
            workers.erase(it);
            break;
        }
    });
    pump();
}

/// One take script in flight while workers wait; again at once after a job, after k_poll_ms
/// when the stream had none (or Redis is down).
void redis_jobs::impl::pump() {
    if (taking || workers.empty()) return;
    const std::string vis = std::to_string(std::max<std::int64_t>(settings.visibility_ms, 1));
    const std::string maxa = std::to_string(settings.max_attempts);
    const std::string kept = std::to_string(settings.kept);
    const std::string_view args[] = {"1",  stream,   hashes, consumer, vis,
                                     maxa, finished, kept,   dead};
    taking = eval(k_take_script, args, [this](const resp::value* v) {
        taking = false;
        if (v && v->is(resp::type::array) && v->size() == 5 + k_fields) {
            offered(*v);
            return pump();
        }
        poll_later();
    });
    if (!taking) poll_later();
}

void redis_jobs::impl::offered(const resp::value& v) {
    const std::uint64_t id = to_u64(v[0].str()), lease = static_cast<std::uint64_t>(v[1].integer());
    const std::uint64_t attempt = static_cast<std::uint64_t>(v[2].integer());
    if (workers.empty()) return give_back(id, lease);  // every waiter left meanwhile
    waiter w = std::move(workers.front());
    workers.pop_front();
    clock.cancel_timer(w.timer);
    hub::jobs_counters::bump(counters.taken);
    if (attempt > 1) hub::jobs_counters::bump(counters.reassigned);
    const std::string type(v[3].str());
    std::string body = "{\"id\":" + std::to_string(id) + ",\"lease\":" + std::to_string(lease) +
                       ",\"attempt\":" + std::to_string(attempt) + ",\"content_type\":\"";
    json::escape(type, body);
    body += "\",\"payload\":";
    bool b64 = false;
    env.json.append_data(body, type, shared_bytes::copy_of(v[4].str()), b64);
    if (b64) body += ",\"encoding\":\"base64\"";
    body += '}';
    const std::string state = job_json(id, v, 5);
    if (env.on_change) env.on_change("jobs." + std::to_string(id), shared_bytes::copy_of(state));
    changed(id, to_u64(v[5 + 3].str()), state);
    w.to({job_outcome::offer, std::move(body), id, 0, lease});
}

void redis_jobs::impl::give_back(std::uint64_t id, std::uint64_t lease) {
    const std::string id_s = std::to_string(id), lease_s = std::to_string(lease);
    const std::string idle = std::to_string(settings.visibility_ms + 1);
    const std::string_view args[] = {"1", stream, hashes, id_s, lease_s, consumer, idle};
    (void)eval(k_give_back_script, args, [](const resp::value*) {});
}

void redis_jobs::impl::update(std::uint64_t id, std::string_view body, hub::job_reply to) {
    std::optional<hub::job_report> r = hub::parse_job_report(body);
    if (!r) return to({job_outcome::bad_result, "{\"error\":\"the report is not a JSON object\"}"});
    const std::string id_s = std::to_string(id);
    const std::string action = r->done ? "done" : (r->failed ? "failed" : "beat");
    const std::string lease = !r->has_lease ? "" : (r->lease ? std::to_string(*r->lease) : "x");
    const std::string progress = r->progress ? std::to_string(*r->progress) : "";
    const std::string result = r->result.value_or("");
    const std::string kept = std::to_string(settings.kept);
    const std::string_view args[] = {"1",      stream, hashes,   id_s,     action, lease,
                                     progress, result, consumer, finished, kept};
    auto shared = std::make_shared<hub::job_reply>(std::move(to));
    const bool sent =
        eval(k_report_script, args, [this, id, rep = *r, shared](const resp::value* v) mutable {
            if (!v) return (*shared)(unavailable());
            reported(id, *v, rep, std::move(*shared));
        });
    if (!sent) (*shared)(unavailable());
}

void redis_jobs::impl::reported(std::uint64_t id, const resp::value& v, const hub::job_report& r,
                                hub::job_reply to) {
    const std::string_view code = v.size() ? v[0].str() : std::string_view{};
    if (code == "nojob") return to({job_outcome::no_such_job, "{\"error\":\"no such job\"}"});
    if (code == "leaselost") return to({job_outcome::lease_lost, "{\"error\":\"lease lost\"}"});
    if (v.size() != 1 + k_fields) return to(unavailable());
    std::string state = job_json(id, v, 1);
    if (code == "notrunning") {
        return to({job_outcome::not_running,
                   "{\"error\":\"job is " + std::string(v[1].str()) + "\",\"job\":" + state + "}"});
    }
    if (r.done) hub::jobs_counters::bump(counters.completed);
    if (r.failed) hub::jobs_counters::bump(counters.failed);
    const std::uint64_t version = to_u64(v[1 + 3].str());
    if (env.on_change) env.on_change("jobs." + std::to_string(id), shared_bytes::copy_of(state));
    changed(id, version, state);
    to({job_outcome::updated, std::move(state), id, version, 0});
}

void redis_jobs::impl::watch(std::uint64_t id, std::optional<std::uint64_t> seen,
                             std::int64_t wait_ms, hub::job_reply to) {
    if (seen && wait_ms > 0) {
        const std::uint64_t key = ++watch_seq;
        auto w = watchers.emplace(id, waiter{key, *seen, std::move(to), 0});
        w->second.timer = clock.start_timer(wait_ms, [this, id, key] { expire_watch(id, key); });
        if (!watch_timer) read_watched();  // answers at once when the version moved already
        return;
    }
    const std::string h = hashes + std::to_string(id);
    const std::string_view args[] = {"HMGET",   h,          "status",  "progress", "result",
                                     "version", "attempts", "created", "updated",  "reason"};
    auto shared = std::make_shared<hub::job_reply>(std::move(to));
    std::weak_ptr<bool> alive_w = alive;
    const bool sent = bp.command(settings.queue, args, [id, shared, alive_w](const resp::value* v) {
        if (alive_w.expired()) return;
        if (!v || v->size() != k_fields) return (*shared)(unavailable());
        if ((*v)[0].is_nil())
            return (*shared)({job_outcome::no_such_job, "{\"error\":\"no such job\"}"});
        const std::uint64_t version = to_u64((*v)[3].str());
        (*shared)({job_outcome::state, job_json(id, *v, 0), id, version, 0});
    });
    if (!sent) (*shared)(unavailable());
}

/// Reads every watched job's hash; answers the long polls whose version moved, then again
/// after k_poll_ms while any long poll waits.
void redis_jobs::impl::read_watched() {
    watch_timer = 0;
    std::set<std::uint64_t> ids;
    for (auto& [id, w] : watchers) ids.insert(id);
    for (std::uint64_t id : ids) {
        const std::string h = hashes + std::to_string(id);
        const std::string_view args[] = {"HMGET",   h,          "status",  "progress", "result",
                                         "version", "attempts", "created", "updated",  "reason"};
        std::weak_ptr<bool> alive_w = alive;
        bp.command(settings.queue, args, [this, id, alive_w](const resp::value* v) {
            if (alive_w.expired() || !v || v->size() != k_fields) return;
            if ((*v)[0].is_nil()) {  // gone (trimmed): every long poll on it ends
                auto [b, e] = watchers.equal_range(id);
                for (auto it = b; it != e; ++it) {
                    clock.cancel_timer(it->second.timer);
                    it->second.to({job_outcome::no_such_job, "{\"error\":\"no such job\"}"});
                }
                watchers.erase(b, e);
                return;
            }
            changed(id, to_u64((*v)[3].str()), job_json(id, *v, 0));
        });
    }
    if (!watchers.empty()) {
        watch_timer = clock.start_timer(k_poll_ms, [this] { read_watched(); });
    }
}

/// The job's state as of version: answers the long polls that saw less.
void redis_jobs::impl::changed(std::uint64_t id, std::uint64_t version, const std::string& json) {
    auto [b, e] = watchers.equal_range(id);
    for (auto it = b; it != e;) {
        if (it->second.seen >= version) {
            ++it;
            continue;
        }
        clock.cancel_timer(it->second.timer);
        it->second.to({job_outcome::state, json, id, version, 0});
        it = watchers.erase(it);
    }
    if (watchers.empty() && watch_timer) {
        clock.cancel_timer(watch_timer);
        watch_timer = 0;
    }
}

void redis_jobs::impl::expire_watch(std::uint64_t id, std::uint64_t key) {
    auto [b, e] = watchers.equal_range(id);
    for (auto it = b; it != e; ++it) {
        if (it->second.key != key) continue;
        it->second.to({job_outcome::not_modified, {}, id, it->second.seen, 0});
        watchers.erase(it);
        return;
    }
}

// ---- the facade ----

redis_jobs::redis_jobs(hub::jobs_settings s, hub::jobs_env env, backplane& bp)
    : impl_(std::make_unique<impl>(std::move(s), std::move(env), bp)) {}
redis_jobs::~redis_jobs() = default;

void redis_jobs::start(hub::broker*) {}

void redis_jobs::submit(std::string content_type, sy::shared_bytes payload, hub::job_reply to) {
    impl& o = *impl_;
    const std::string_view args[] = {"2",      o.stream,     o.counter,
                                     o.hashes, content_type, payload.view()};
    auto shared = std::make_shared<hub::job_reply>(std::move(to));
    const bool sent = o.eval(k_submit_script, args, [&o, shared](const resp::value* v) {
        if (!v || !v->is(resp::type::integer)) return (*shared)(unavailable());
        const auto id = static_cast<std::uint64_t>(v->integer());
        hub::jobs_counters::bump(o.counters.submitted);
        (*shared)(
            {job_outcome::created, "{\"id\":" + std::to_string(id) + ",\"version\":1}", id, 1, 0});
        o.pump();  // a worker waiting here takes it now
    });
    if (!sent) (*shared)(unavailable());
}

void redis_jobs::take(std::uint64_t key, std::int64_t timeout_ms, hub::job_reply to) {
    impl_->take(key, timeout_ms, std::move(to));
}

void redis_jobs::drop_worker(std::uint64_t key) {
    auto& ws = impl_->workers;
    for (auto it = ws.begin(); it != ws.end(); ++it) {
        if (it->key != key) continue;
        impl_->clock.cancel_timer(it->timer);
        ws.erase(it);
        return;
    }
}

void redis_jobs::release_worker(std::uint64_t key) {
    for (auto& w : impl_->workers) {
        if (w.key != key) continue;
        w.to({job_outcome::shutting_down, {}});
        break;
    }
    drop_worker(key);
}

void redis_jobs::release_watchers(std::uint64_t id) {
    auto [b, e] = impl_->watchers.equal_range(id);
    for (auto it = b; it != e; ++it) {
        impl_->clock.cancel_timer(it->second.timer);
        it->second.to({job_outcome::shutting_down, {}});
    }
    impl_->watchers.erase(b, e);
}

void redis_jobs::update(std::uint64_t id, std::string_view report, hub::job_reply to) {
    impl_->update(id, report, std::move(to));
}

void redis_jobs::watch(std::uint64_t id, std::optional<std::uint64_t> version_seen,
                       std::int64_t wait_ms, hub::job_reply to) {
    impl_->watch(id, version_seen, wait_ms, std::move(to));
}

void redis_jobs::give_back(std::uint64_t id, std::uint64_t lease) {
    impl_->give_back(id, lease);
}

}  // namespace sy::backplane
