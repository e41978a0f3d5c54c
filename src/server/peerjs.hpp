// PeerJS signaling at /peerjs (webrtc.cpp installs it; not public).
#pragma once

#include "switchyard/server/app.hpp"

namespace sy::server {

/// GET /peerjs (WebSocket: ?key=&id=&token=) and GET /<webrtc.peerjs_key>/id on the HTTP
/// listeners' route table, when webrtc.peerjs is on. Before app.run().
void install_peerjs(app& a);

}  // namespace sy::server
