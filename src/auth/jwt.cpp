// verifier: compact JWS (RFC 7515 7.1) -> checked claims (RFC 7519 4.1) -> principal.
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>

#include "json_member.hpp"
#include "key_internal.hpp"
#include "switchyard/base/text.hpp"

namespace sy::auth {

std::string_view to_string(verify_error e) {
    switch (e) {
        case verify_error::malformed:
            return "malformed token";
        case verify_error::too_large:
            return "token too large";
        case verify_error::alg_refused:
            return "algorithm refused";
        case verify_error::unknown_kid:
            return "unknown kid";
        case verify_error::bad_signature:
            return "bad signature";
        case verify_error::expired:
            return "token expired";
        case verify_error::not_yet_valid:
            return "token not yet valid";
        case verify_error::issued_in_future:
            return "token issued in the future";
        case verify_error::bad_audience:
            return "wrong audience";
        case verify_error::bad_issuer:
            return "wrong issuer";
    }
    return "?";
}

namespace {

using json_value = rapidjson::Value;

bool parse_object(std::string_view b64, rapidjson::Document& doc) {
    std::string text;
    if (!base64url_decode(b64, text)) return false;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    return !doc.HasParseError() && doc.IsObject();
}

std::string_view sv(const json_value& v) {
    return {v.GetString(), v.GetStringLength()};
}

// A string or an array of strings (aud, scope, topic lists); false for anything else.
bool strings_of(const json_value& v, std::vector<std::string>& out, bool split_spaces) {
    if (v.IsString()) {
        std::string_view s = sv(v);
        if (!split_spaces) {
            out.emplace_back(s);
            return true;
        }
        while (!s.empty()) {
            const std::size_t sp = s.find(' ');
            if (sp != 0) out.emplace_back(s.substr(0, sp));
            if (sp == std::string_view::npos) break;
            s.remove_prefix(sp + 1);
        }
        return true;
    }
    if (!v.IsArray()) return false;
    for (const auto& e : v.GetArray()) {
        if (!e.IsString()) return false;
        out.emplace_back(sv(e));
    }
    return true;
}

// A NumericDate (RFC 7519 2): seconds, possibly fractional; present must mean a number.
bool numeric_date(const json_value& claims, const char* name, std::int64_t& out, bool& present) {
    const json_value* v = member(claims, name);
    present = v != nullptr;
    if (!present) return true;
    if (!v->IsNumber()) return false;
    const double d = v->GetDouble();
    if (!std::isfinite(d) || d < 0 || d > 1e15) return false;
    out = static_cast<std::int64_t>(std::floor(d));
    return true;
}

result<void, verify_error> check_times(const json_value& c, std::int64_t now, std::int64_t leeway,
                                       std::int64_t& exp) {
    std::int64_t nbf = 0, iat = 0;
    bool has_exp = false, has_nbf = false, has_iat = false;
    if (!numeric_date(c, "exp", exp, has_exp) || !numeric_date(c, "nbf", nbf, has_nbf) ||
        !numeric_date(c, "iat", iat, has_iat))
        return unexpected(verify_error::malformed);
    if (has_exp && now >= exp + leeway) return unexpected(verify_error::expired);
    if (has_nbf && now < nbf - leeway) return unexpected(verify_error::not_yet_valid);
    if (has_iat && iat > now + leeway) return unexpected(verify_error::issued_in_future);
    if (!has_exp) exp = 0;
    return {};
}

result<void, verify_error> check_parties(const json_value& c, const verify_settings& s) {
    if (!s.issuer.empty()) {
        const json_value* iss = member(c, "iss");
        if (!iss || !iss->IsString() || sv(*iss) != s.issuer)
            return unexpected(verify_error::bad_issuer);
    }
    if (!s.audience.empty()) {
        const json_value* v = member(c, "aud");
        std::vector<std::string> aud;
        if (!v || !strings_of(*v, aud, false) ||
            std::find(aud.begin(), aud.end(), s.audience) == aud.end())
            return unexpected(verify_error::bad_audience);
    }
    return {};
}

// switchyard and mercure claims: {"publish": [...], "subscribe": [...]}. Mercure's "*" selector
// is every topic; selectors that are not hub patterns (URI templates) grant nothing.
bool read_topic_claim(const json_value& c, const char* name, bool mercure, principal::grants& g) {
    const json_value* claim = member(c, name);
    if (!claim) return true;
    if (!claim->IsObject()) return false;
    const json_value& o = *claim;
    for (auto [key, out] : {std::pair{"publish", &g.publish}, {"subscribe", &g.subscribe}}) {
        const json_value* m = member(o, key);
        if (!m) continue;
        std::vector<std::string> list;
        if (!strings_of(*m, list, false)) return false;
        for (auto& p : list) out->push_back(mercure && p == "*" ? std::string(">") : p);
    }
    if (!mercure) {
        if (const json_value* a = member(o, "admin")) {
            if (!a->IsBool()) return false;
            g.admin = g.admin || a->GetBool();
        }
    }
    return true;
}

// A RabbitMQ routing-key glob as a hub pattern: "*" (any run of bytes) is every topic, a
// trailing ".*" is ".>", a whole-token "*" elsewhere stays "*" (narrower than RabbitMQ's glob:
// safe). Anything else that is not a hub pattern grants nothing.
std::string hub_pattern_of_glob(std::string_view glob) {
    if (glob.empty() || glob == "*") return ">";
    std::string p(glob);
    if (p.size() >= 2 && p.compare(p.size() - 2, 2, ".*") == 0) p.replace(p.size() - 1, 1, ">");
    return p;
}

// RFC 6749 3.3 scopes in RabbitMQ's form (rabbitmq.read:vhost/resource[/routing_key]).
void read_scopes(const std::vector<std::string>& scopes, principal::grants& g,
                 std::vector<scope_grant>& out, std::vector<std::string>& tags) {
    constexpr std::string_view k_prefix = "rabbitmq.";
    for (std::string_view s : scopes) {
        if (s.substr(0, k_prefix.size()) != k_prefix) continue;
        s.remove_prefix(k_prefix.size());
        if (s.substr(0, 4) == "tag:") {
            tags.emplace_back(s.substr(4));
            if (s.substr(4) == "administrator") g.admin = true;
            continue;
        }
        const std::size_t colon = s.find(':');
        if (colon == std::string_view::npos) continue;
        const std::string_view perm = s.substr(0, colon);
        std::string_view rest = s.substr(colon + 1);
        scope_grant sg;
        if (perm == "read")
            sg.what = scope_grant::kind::read;
        else if (perm == "write")
            sg.what = scope_grant::kind::write;
        else if (perm == "configure")
            sg.what = scope_grant::kind::configure;
        else
            continue;
        const std::size_t s1 = rest.find('/');
        if (s1 == std::string_view::npos) continue;
        sg.vhost.assign(rest.substr(0, s1));
        rest.remove_prefix(s1 + 1);
        const std::size_t s2 = rest.find('/');
        sg.resource.assign(rest.substr(0, s2));
        if (s2 != std::string_view::npos) sg.routing_key.assign(rest.substr(s2 + 1));
        // The hub is the amq.topic exchange of vhost "/" (the bridge): map grants that reach it.
        const bool hub = glob_matches(sg.vhost, "/") && glob_matches(sg.resource, "amq.topic");
        if (hub && sg.what == scope_grant::kind::read)
            g.subscribe.push_back(hub_pattern_of_glob(sg.routing_key));
        if (hub && sg.what == scope_grant::kind::write)
            g.publish.push_back(hub_pattern_of_glob(sg.routing_key));
        out.push_back(std::move(sg));
    }
}

result<principal_ptr, verify_error> principal_of(const json_value& c, std::int64_t exp) {
    std::string sub;
    if (const json_value* v = member(c, "sub")) {
        if (!v->IsString()) return unexpected(verify_error::malformed);
        sub.assign(sv(*v));
    }
    principal::grants g;
    if (!read_topic_claim(c, "switchyard", false, g) || !read_topic_claim(c, "mercure", true, g))
        return unexpected(verify_error::malformed);
    std::vector<scope_grant> scopes;
    std::vector<std::string> tags;
    if (const json_value* v = member(c, "scope")) {
        std::vector<std::string> list;
        if (!strings_of(*v, list, true)) return unexpected(verify_error::malformed);
        read_scopes(list, g, scopes, tags);
    }
    return principal::make(std::move(sub), exp, g, std::move(scopes), std::move(tags));
}

struct jws_parts {
    std::string_view header, payload, signature, signing_input;
};

bool split_jws(std::string_view token, jws_parts& out) {
    const std::size_t d1 = token.find('.');
    if (d1 == std::string_view::npos) return false;
    const std::size_t d2 = token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
        return false;
    out.header = token.substr(0, d1);
    out.payload = token.substr(d1 + 1, d2 - d1 - 1);
    out.signature = token.substr(d2 + 1);
    out.signing_input = token.substr(0, d2);
    return !out.header.empty() && !out.payload.empty();
}

}  // namespace

verifier::verifier(std::shared_ptr<const key_set> keys, verify_settings s)
    : keys_(std::move(keys)), settings_(std::move(s)) {}

result<principal_ptr, verify_error> verifier::verify(std::string_view token,
                                                     std::int64_t now_s) const {
    if (token.size() > settings_.max_token_bytes) return unexpected(verify_error::too_large);
    jws_parts parts;
    rapidjson::Document header;
    if (!split_jws(token, parts) || !parse_object(parts.header, header))
        return unexpected(verify_error::malformed);
    const json_value* alg_name = member(header, "alg");
    if (!alg_name || !alg_name->IsString()) return unexpected(verify_error::malformed);
    jws_alg alg{};
    // RFC 7515 4.1.11: a "crit" extension we do not implement must fail the token.
    if (!parse_alg(sv(*alg_name), alg) || header.HasMember("crit"))
        return unexpected(verify_error::alg_refused);
    std::string_view kid;
    bool has_kid = false;
    if (const json_value* v = member(header, "kid")) {
        if (!v->IsString()) return unexpected(verify_error::malformed);
        kid = sv(*v);
        has_kid = true;
    }
    if (has_kid && !keys_->has_kid(kid)) return unexpected(verify_error::unknown_kid);
    std::string sig;
    if (!base64url_decode(parts.signature, sig)) return unexpected(verify_error::malformed);
    bool candidate = false, verified = false;
    for (const auto& k : keys_->keys()) {
        if ((has_kid && k->kid != kid) || (k->algs & bit(alg)) == 0) continue;
        candidate = true;
        if (verify_signature(*k, alg, parts.signing_input, sig)) {
            verified = true;
            break;
        }
    }
    if (!candidate) return unexpected(verify_error::alg_refused);
    if (!verified) return unexpected(verify_error::bad_signature);
    rapidjson::Document claims;
    if (!parse_object(parts.payload, claims)) return unexpected(verify_error::malformed);
    std::int64_t exp = 0;
    if (auto t = check_times(claims, now_s, settings_.leeway_s, exp); !t)
        return unexpected(t.error());
    if (auto p = check_parties(claims, settings_); !p) return unexpected(p.error());
    return principal_of(claims, exp);
}

}  // namespace sy::auth
