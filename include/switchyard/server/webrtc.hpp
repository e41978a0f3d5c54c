// WebRTC's backend services (docs/webrtc.md): STUN (and TURN) on `stun.listen`, and PeerJS
// signaling at /peerjs on the HTTP listeners (`webrtc.peerjs`).
#pragma once

#include "switchyard/server/app.hpp"

namespace sy::server {

/// Registers the STUN listeners, each loop's stun_server (a loop slot) and the sy_stun_*
/// metric families. No-op for STUN without stun.listen. Call before app.run().
void install_webrtc(app& app);

}  // namespace sy::server
