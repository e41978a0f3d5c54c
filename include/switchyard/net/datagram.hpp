// datagram: what several protocols sharing one UDP port need, independent of any protocol.
//
// datagram_demux: the first-byte demultiplexer of RFC 7983 (updated by RFC 9443). Each protocol
// claims the first-byte ranges it owns; a datagram goes to the one handler whose range holds its
// first byte; an empty datagram or an unclaimed byte is dropped and counted. The ranges in use:
//   STUN  0..3      (RFC 8489 messages begin with two zero bits)
//   QUIC  64..127   (short header: fixed bit set, form bit clear; RFC 9000 17.3)
//         192..255  (long header: Initial, Handshake, Retry...; RFC 9000 17.2)
// A claim that overlaps an earlier one is refused, so two protocols never fight over a byte.
// QUIC stacks that grease the fixed bit (RFC 9287; ngtcp2 0.12 always offers it) send packets
// whose first byte is anywhere in 0..255, so one protocol may also be the fallback: it gets every
// byte nobody claimed, and what a claim's check refuses (STUN checks its magic cookie, so a
// greased QUIC packet starting with 0..3 still reaches QUIC).
//
// datagram_flow / datagram_flow_list: the per-loop registry of datagram "connections" (a QUIC
// connection, a TURN allocation): not net::connection (no fd of their own), but counted the same
// way. Joining takes a unit of the process's connection_limit (refused when none is left, so the
// protocol answers its own "busy"), adds to the loop's io_counters opened/closed (what the
// runtime's shutdown waits on), and puts the flow where shutdown (drain -> begin_shutdown, then
// close_all -> close_now) and introspection (/debug/connections) find it.
// Thread: a loop's demux and list are used on that loop's thread only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/counter.hpp"
#include "switchyard/net/connection.hpp"
#include "switchyard/net/socket.hpp"
#include "switchyard/net/udp_socket.hpp"

namespace sy::net {

/// An inclusive range of first bytes.
struct first_byte_range {
    std::uint8_t lo;
    std::uint8_t hi;
};
inline constexpr first_byte_range k_stun_bytes{0, 3};
inline constexpr first_byte_range k_quic_short_bytes{64, 127};
inline constexpr first_byte_range k_quic_long_bytes{192, 255};

class datagram_demux {
  public:
    /// Called for each datagram of a claimed range; the views live for the call (udp_socket).
    using handler = std::function<void(udp_socket&, const datagram&)>;
    /// Whether a datagram in a claimed range really is the claimant's (nullptr: always).
    using check = bool (*)(const datagram&);

    /// Claims ranges for h. false (and nothing claimed) if any byte is already claimed.
    bool claim(std::span<const first_byte_range> ranges, handler h, check c = nullptr);
    /// h takes the unclaimed bytes and what a check refused. false if there is one already.
    bool set_fallback(handler h);
    /// The handler of first byte b, nullptr if unclaimed.
    const handler* find(std::uint8_t b) const;
    /// Hands each datagram of a batch to its handler; drops are counted in s.counters()
    /// (rx_empty, rx_unclaimed).
    void dispatch(udp_socket& s, std::span<const datagram> batch);

  private:
    std::vector<handler> handlers_;
    std::vector<check> checks_;
    handler fallback_;
    std::array<std::uint8_t, 256> owner_{};  // 0 = unclaimed, else index + 1 into handlers_
};

class datagram_flow_list;

/// The base of a protocol's per-peer state over a shared UDP socket. The protocol owns the
/// object; joining a list does not transfer ownership. The destructor leaves the list.
class datagram_flow {
  public:
    datagram_flow() = default;
    datagram_flow(const datagram_flow&) = delete;
    datagram_flow& operator=(const datagram_flow&) = delete;
    virtual ~datagram_flow();

    /// Server shutdown: end the way the protocol says "going away" (QUIC: GOAWAY, then
    /// CONNECTION_CLOSE once streams end). The flow leaves the list when it is done.
    virtual void begin_shutdown() = 0;
    /// The grace period is over (or the server is torn down): close now and leave the list (the
    /// object may be freed later in the turn, never during this call's caller's iteration: the
    /// list iterates over a snapshot of next pointers).
    virtual void close_now() = 0;
    /// The protocol label introspection shows ("h3", "TURN").
    virtual std::string_view protocol() const = 0;
    /// The peer as introspection shows it ("127.0.0.1:50123": the current path).
    virtual std::string peer_text() const = 0;

    /// Joins l (loop thread): takes a unit of limit (may be null: unlimited) and counts the open
    /// in counters (may be null). false if the limit is reached: not joined.
    bool join(datagram_flow_list& l, connection_limit* limit, io_counters* counters);
    /// Leaves its list (counts the close, releases the unit); no-op if not joined.
    void leave();
    bool joined() const { return list_ != nullptr; }
    /// Payload bytes in/out for introspection (the protocol adds them).
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;

  private:
    friend class datagram_flow_list;
    datagram_flow_list* list_ = nullptr;
    datagram_flow* prev_ = nullptr;
    datagram_flow* next_ = nullptr;
    io_counters* counters_ = nullptr;
    connection_slot slot_;
};

/// Intrusive list of one loop's datagram flows. Loop thread only.
class datagram_flow_list {
  public:
    datagram_flow_list() = default;
    datagram_flow_list(const datagram_flow_list&) = delete;
    datagram_flow_list& operator=(const datagram_flow_list&) = delete;
    ~datagram_flow_list();

    std::size_t size() const { return size_; }
    /// fn on each flow; fn may make the flow leave (or free it).
    template <typename Fn>
    void for_each(Fn&& fn) {
        for (datagram_flow* f = head_; f;) {
            datagram_flow* next = f->next_;
            fn(*f);
            f = next;
        }
    }
    /// Server shutdown: begin_shutdown on each flow now; draining() tells protocols to refuse
    /// new flows from here on (a QUIC Initial gets CONNECTION_REFUSED).
    void drain();
    bool draining() const { return draining_; }
    /// close_now on each flow.
    void close_all();

  private:
    friend class datagram_flow;
    datagram_flow* head_ = nullptr;
    std::size_t size_ = 0;
    bool draining_ = false;
};

}  // namespace sy::net
