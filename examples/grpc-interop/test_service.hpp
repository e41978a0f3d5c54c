// grpc.testing.TestService (proto/src/proto/grpc/testing/test.proto) on sy::rpc::service: the
// server side of gRPC's interop cases (grpc/grpc doc/interop-test-descriptions.md, "Server").
//
//   EmptyCall            the empty message
//   UnaryCall            payload of response_size zeros; response_status echoed as the call's
//                        status; response_compressed chooses gzip or identity for the response;
//                        expect_compressed checks the request's compressed flag
//   StreamingOutputCall  one response per ResponseParameters (size, interval_us, compressed)
//   StreamingInputCall   aggregated_payload_size of every request once the client half-closes
//   FullDuplexCall       each request's responses as it arrives; OK after half-close
//   HalfDuplexCall       requests buffered until half-close, then served in order
//   (UnimplementedCall)  not registered: the service's UNIMPLEMENTED fallback answers it
// Every method echoes x-grpc-test-echo-initial as a response header and
// x-grpc-test-echo-trailing-bin (base64 text, as received) as a trailer.
//
// Thread: handlers run on the loop that received the call; there is no shared state.
#pragma once

#include <cstddef>

#include "switchyard/rpc/service.hpp"

namespace interop {

/// Limits on what a client can make the server build (flags of grpc-interop-server).
struct test_service_options {
    /// Largest response payload a request may ask for (gRPC's default receive limit).
    std::size_t max_response_size = 4 * 1024 * 1024;
    /// Responses a streaming call may have queued and not yet sent (a client can ask for many
    /// per request while not reading); beyond: RESOURCE_EXHAUSTED.
    std::size_t max_pending_responses = 1024;
};

/// The TestService, ready to install on a router.
sy::rpc::service make_test_service(const test_service_options& o = {});

}  // namespace interop
