// sd_notify: the service manager's readiness protocol (systemd's sd_notify(3)), written directly
// on its socket so the server needs no libsystemd. packaging/switchyard.service is Type=notify.
//
// Contract: when NOTIFY_SOCKET is unset (not started by systemd), every call does nothing.
// Main thread only (start-up, the signal loop). A failed send is logged once and ignored: the
// server keeps serving whatever the service manager thinks.
#pragma once

#include <string_view>

namespace sy::server::notify {

/// READY=1: every listener is open (sent right after the "listening on" lines).
void ready();
/// RELOADING=1 with MONOTONIC_USEC (SIGHUP received; ready() follows when the hooks ran).
void reloading();
/// STOPPING=1: SIGTERM/SIGINT received, draining begins.
void stopping();
/// Sends `state` ("KEY=VALUE" lines) to $NOTIFY_SOCKET; false when unset or the send failed.
bool send(std::string_view state);
/// A forked child must not speak for the service (systemd accepts only the main PID by
/// default): drops NOTIFY_SOCKET from this process's environment.
void forget();

}  // namespace sy::server::notify
