// stun_server: answers STUN messages (RFC 8489) for one loop, whatever carried them (a TCP
// connection through stun_tcp_session, a datagram from the runtime's UDP endpoint). It holds no
// socket: handle() gets the message bytes and the sender's address and appends the reply.
//
// Binding: a success response with XOR-MAPPED-ADDRESS (MAPPED-ADDRESS for RFC 3489 clients,
// which send no magic cookie), SOFTWARE and FINGERPRINT, the transaction id echoed. A request
// with comprehension-required attributes it does not know: 420 with UNKNOWN-ATTRIBUTES
// (RFC 8489 6.3.1.1). Malformed messages are dropped and counted; indications and responses
// get no reply. TURN methods go to the loop's turn_server; without one they get 400.
//
// Threads: one per loop (a typed slot), used on that loop only. Counters are readable anywhere.
#pragma once

#include <cstdint>
#include <vector>

#include "switchyard/base/bytes.hpp"
#include "switchyard/core/counter.hpp"
#include "switchyard/net/address.hpp"
#include "switchyard/proto/stun/message.hpp"
#include "switchyard/session/turn_server.hpp"

namespace sy::session {

/// Per-loop STUN figures (sy_stun_* in /metrics). The owning loop writes, anyone reads.
struct stun_counters {
    core::counter requests;            ///< well-formed requests answered (any method)
    core::counter binding;             ///< binding success responses sent
    core::counter classic;             ///< of which to RFC 3489 clients (MAPPED-ADDRESS)
    core::counter unknown_attr;        ///< 420 answers
    core::counter bad_requests;        ///< 400 answers
    core::counter malformed;           ///< messages dropped: not STUN, bad length, bad fingerprint
    core::counter not_requests;        ///< indications and responses ignored
    core::counter tcp_connections;     ///< STUN TCP connections accepted
    core::counter tcp_framing_errors;  ///< TCP connections closed on bytes that are not STUN
};

enum class transport : std::uint8_t { udp, tcp, tls };

/// Who sent a message and how to reach them again.
struct stun_origin {
    stun::address from;
    transport via = transport::udp;
    client_key key;                       ///< names the client's TURN allocation
    const net::address* local = nullptr;  ///< where the client reached us (relay addresses)
    turn_link* link = nullptr;            ///< nullptr: no TURN over this transport
};

/// stun::address from a socket address (IPv4-mapped IPv6 stays IPv6, as the socket saw it).
stun::address to_stun_address(const net::address& a);
net::address to_net_address(const stun::address& a);

class stun_server {
  public:
    enum class verdict : std::uint8_t { answered, ignored, malformed };

    /// turn: this loop's TURN server (nullptr: TURN off; TURN requests get 400).
    explicit stun_server(stun_counters& counters, turn_server* turn = nullptr)
        : counters_(counters), turn_(turn) {}

    /// Answers one whole STUN message `in`; appends the reply to `out` when answered. TURN
    /// methods go to the turn_server when there is one and `o.link` is set. Never throws;
    /// every outcome is counted.
    verdict handle(byte_view in, const stun_origin& o, std::vector<std::uint8_t>& out);

    stun_counters& counters() { return counters_; }
    turn_server* turn() { return turn_; }

  private:
    verdict answer_binding(const stun::message& m, const stun::address& from,
                           std::vector<std::uint8_t>& out);
    stun_counters& counters_;
    turn_server* turn_;
};

}  // namespace sy::session
