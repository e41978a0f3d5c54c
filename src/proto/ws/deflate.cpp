// permessage-deflate, RFC 7692.
#include "switchyard/proto/ws/deflate.hpp"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <vector>

#include "token_list.hpp"

namespace sy::ws {
namespace {

constexpr std::string_view k_name = "permessage-deflate";

bool parse_bits(std::string_view v, int& out) {
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    if (v.empty() || v.size() > 2) return false;
    int n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || n < 8 || n > 15) return false;
    out = n;
    return true;
}

// One offer/response element, parameters as seen on the wire (RFC 7692 7.1).
struct parsed_params {
    bool server_nct = false, client_nct = false;
    bool has_smwb = false, has_cmwb = false;
    int smwb = 15;
    int cmwb = 15;  // 15 when client_max_window_bits had no value
    bool cmwb_has_value = false;
};

// Parses "permessage-deflate; a; b=c" (already split on ','). Returns false for another extension
// or invalid/unknown/repeated parameters.
bool parse_element(std::string_view element, parsed_params& out) {
    bool first = true;
    bool ok = true;
    for_each_token(element, ';', [&](std::string_view part) {
        if (!ok) return;
        if (first) {
            first = false;
            ok = part == k_name;
            return;
        }
        std::string_view name = part, value;
        bool has_value = false;
        if (auto eq = part.find('='); eq != std::string_view::npos) {
            name = trim_ows(part.substr(0, eq));
            value = trim_ows(part.substr(eq + 1));
            has_value = true;
        }
        if (name == "server_no_context_takeover" && !has_value && !out.server_nct) {
            out.server_nct = true;
        } else if (name == "client_no_context_takeover" && !has_value && !out.client_nct) {
            out.client_nct = true;
        } else if (name == "server_max_window_bits" && has_value && !out.has_smwb) {
            out.has_smwb = true;
            ok = parse_bits(value, out.smwb);
        } else if (name == "client_max_window_bits" && !out.has_cmwb) {
            out.has_cmwb = true;
            out.cmwb_has_value = has_value;
            if (has_value) ok = parse_bits(value, out.cmwb);
        } else {
            ok = false;
        }
    });
    return ok && !first;
}

int clamp_bits(int b) {
    return std::clamp(b, 9, 15);
}

}  // namespace

std::string deflate_params::to_header() const {
    std::string s{k_name};
    if (server_no_context_takeover) s += "; server_no_context_takeover";
    if (client_no_context_takeover) s += "; client_no_context_takeover";
    if (server_max_window_bits < 15)
        s += "; server_max_window_bits=" + std::to_string(server_max_window_bits);
    if (client_max_window_bits < 15)
        s += "; client_max_window_bits=" + std::to_string(client_max_window_bits);
    return s;
}

std::optional<deflate_params> negotiate_deflate(std::string_view extensions,
                                                const deflate_config& cfg) {
    if (!cfg.enabled) return std::nullopt;
    std::optional<deflate_params> chosen;
    for_each_token(extensions, ',', [&](std::string_view element) {
        parsed_params pp;
        if (chosen || !parse_element(element, pp)) return;
        // zlib cannot deflate with an 8-bit window: decline rather than break the peer.
        int smwb = std::min(pp.smwb, cfg.server_max_window_bits);
        if (smwb < 9) return;
        deflate_params p;
        p.server_no_context_takeover = pp.server_nct || cfg.server_no_context_takeover;
        p.client_no_context_takeover = pp.client_nct || cfg.client_no_context_takeover;
        p.server_max_window_bits = smwb;
        // Only limit the client's window when it said it can be limited (7.1.2.2).
        p.client_max_window_bits =
            pp.has_cmwb ? std::min(pp.cmwb, std::max(cfg.client_max_window_bits, 8)) : 15;
        chosen = p;
    });
    return chosen;
}

std::string deflate_offer(const deflate_config& cfg) {
    std::string s{k_name};
    if (cfg.server_no_context_takeover) s += "; server_no_context_takeover";
    if (cfg.client_no_context_takeover) s += "; client_no_context_takeover";
    if (cfg.server_max_window_bits < 15)
        s += "; server_max_window_bits=" + std::to_string(clamp_bits(cfg.server_max_window_bits));
    s += "; client_max_window_bits";
    if (cfg.client_max_window_bits < 15)
        s += "=" + std::to_string(clamp_bits(cfg.client_max_window_bits));
    return s;
}

bool accept_deflate_response(std::string_view extensions, const deflate_config& cfg,
                             std::optional<deflate_params>& out) {
    out.reset();
    if (trim_ows(extensions).empty()) return true;
    bool ok = true;
    int count = 0;
    for_each_token(extensions, ',', [&](std::string_view element) {
        parsed_params pp;
        ++count;
        if (!cfg.enabled || !parse_element(element, pp)) {
            ok = false;
            return;
        }
        const int offered_smwb =
            cfg.server_max_window_bits < 15 ? clamp_bits(cfg.server_max_window_bits) : 15;
        if (pp.smwb > offered_smwb) ok = false;
        if (cfg.server_no_context_takeover && !pp.server_nct) ok = false;
        if (pp.has_cmwb && !pp.cmwb_has_value) ok = false;  // a response must carry a value
        deflate_params p;
        p.server_no_context_takeover = pp.server_nct;
        p.client_no_context_takeover = pp.client_nct || cfg.client_no_context_takeover;
        p.server_max_window_bits = pp.smwb;
        p.client_max_window_bits = std::min(
            pp.cmwb, cfg.client_max_window_bits < 15 ? clamp_bits(cfg.client_max_window_bits) : 15);
        out = p;
    });
    if (count != 1) ok = false;  // one permessage-deflate at most, nothing else we did not offer
    if (!ok) out.reset();
    return ok;
}

// ---- deflater ----

struct deflater::impl {
    z_stream z{};
    std::vector<std::uint8_t> spill;
};

deflater::deflater(int window_bits, bool no_context_takeover, int level, int mem_level)
    : p_(std::make_unique<impl>()), no_context_takeover_(no_context_takeover) {
    // Raw deflate (negative window bits); a failure here leaves z.state null and compress fails.
    deflateInit2(&p_->z, level, Z_DEFLATED, -clamp_bits(window_bits), mem_level,
                 Z_DEFAULT_STRATEGY);
}

deflater::~deflater() {
    if (p_->z.state) deflateEnd(&p_->z);
}

result<void, error> deflater::compress(byte_view message, byte_buffer& out) {
    z_stream& z = p_->z;
    if (!z.state) return unexpected(error::out_of_memory);
    // deflateBound covers the data; the sync flush adds an empty stored block (<= 6 bytes).
    const std::size_t bound = deflateBound(&z, static_cast<uLong>(message.size())) + 16;
    auto span = out.prepare(bound);
    z.next_in = const_cast<Bytef*>(message.data());
    z.avail_in = static_cast<uInt>(message.size());
    z.next_out = span.data();
    z.avail_out = static_cast<uInt>(span.size());
    int rc = deflate(&z, Z_SYNC_FLUSH);
    std::size_t produced = span.size() - z.avail_out;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return unexpected(error::out_of_memory);
    if (z.avail_out == 0) {
        // Not expected given the bound; finish in a side vector so no byte is lost.
        auto& spill = p_->spill;
        spill.assign(span.data(), span.data() + produced);
        do {
            std::size_t old = spill.size();
            spill.resize(old + 4096);
            z.next_out = spill.data() + old;
            z.avail_out = 4096;
            rc = deflate(&z, Z_SYNC_FLUSH);
            spill.resize(old + 4096 - z.avail_out);
        } while (z.avail_out == 0 && (rc == Z_OK || rc == Z_BUF_ERROR));
        if (spill.size() >= 4) spill.resize(spill.size() - 4);
        out.append(spill.data(), spill.size());
    } else {
        // Strip the 00 00 FF FF that ends every sync flush (RFC 7692 7.2.1). With no new input
        // zlib emits nothing at all; the empty message is then the single byte 0x00 (7.2.3.6),
        // which with the receiver's appended tail forms an empty stored block.
        if (produced >= 4) {
            out.commit(produced - 4);
        } else {
            span[0] = 0x00;
            out.commit(1);
        }
    }
    if (no_context_takeover_) deflateReset(&z);
    return {};
}

// ---- inflater ----

struct inflater::impl {
    z_stream z{};
};

inflater::inflater(int window_bits, bool no_context_takeover)
    : p_(std::make_unique<impl>()), no_context_takeover_(no_context_takeover) {
    // A window larger than the peer's is always safe for inflating; 8 is not accepted by zlib.
    inflateInit2(&p_->z, -clamp_bits(window_bits));
}

inflater::~inflater() {
    if (p_->z.state) inflateEnd(&p_->z);
}

result<void, error> inflater::feed(byte_view in, byte_buffer& out, std::size_t limit) {
    z_stream& z = p_->z;
    if (!z.state) return unexpected(error::out_of_memory);
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    for (;;) {
        const std::size_t room = limit > out.size() ? limit - out.size() : 0;
        // One byte past the limit tells "too big" from "exactly at the limit".
        const std::size_t want = std::min<std::size_t>(room + 1, 64 * 1024);
        auto span = out.prepare(want);
        const std::size_t give = std::min(span.size(), room + 1);
        z.next_out = span.data();
        z.avail_out = static_cast<uInt>(give);
        int rc = inflate(&z, Z_SYNC_FLUSH);
        out.commit(give - z.avail_out);
        if (out.size() > limit) return unexpected(error::message_too_big);
        if (rc == Z_STREAM_END) {
            // The peer ended the deflate stream (BFINAL); what follows starts a new one.
            inflateReset(&z);
            if (z.avail_in == 0) return {};
            continue;
        }
        if (rc == Z_MEM_ERROR) return unexpected(error::out_of_memory);
        if (rc != Z_OK && rc != Z_BUF_ERROR) return unexpected(error::inflate_failed);
        if (z.avail_in == 0 && z.avail_out != 0) return {};
        if (rc == Z_BUF_ERROR && z.avail_out != 0) return {};
    }
}

result<void, error> inflater::finish(byte_buffer& out, std::size_t limit) {
    static constexpr std::uint8_t tail[4] = {0x00, 0x00, 0xFF, 0xFF};
    auto r = feed(byte_view{tail, 4}, out, limit);
    if (!r) return r;
    // The message must end on a block boundary (zlib sets 128 in data_type there); otherwise the
    // peer's data was truncated and the next message would be read as its continuation.
    if (!(p_->z.data_type & 128)) return unexpected(error::inflate_failed);
    if (no_context_takeover_) inflateReset(&p_->z);
    return r;
}

}  // namespace sy::ws
