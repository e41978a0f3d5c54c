"""sy_http_requests_total counts each exchange under the status it was answered with: an SSE
stream over HTTP/1.1 takes the connection over but answers 200, a WebSocket upgrade 101."""
import asyncio
import http.client
import re

import websockets

from conftest import curl, server


def codes(port):
    """One /metrics scrape: {code: count} of sy_http_requests_total."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    found = dict(re.findall(r'^sy_http_requests_total\{code="(\d+)"\} (\d+)$', text, re.M))
    return {code: int(found.get(str(code), 0)) for code in (101, 200)}


def test_sse_stream_is_counted_as_200_and_websocket_as_101():
    s = server(["--listen", "127.0.0.1:0", "--workers", "1"])
    try:
        before = codes(s.port)
        # curl stops the stream after a second (exit 28), after the 200 head arrived.
        rc, out, err = curl("-N", "-i", "--max-time", "1", "-H", "Accept: text/event-stream",
                            f"{s.url}/sub/metrics.sse")
        assert out.startswith(b"HTTP/1.1 200"), (rc, out, err)
        after_sse = codes(s.port)
        # the SSE stream, and the first scrape (counted after it was rendered)
        assert after_sse[200] - before[200] == 2, (before, after_sse)
        assert after_sse[101] == before[101] == 0, after_sse

        async def ws():
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/sub/metrics.ws") as c:
                await c.close()
        asyncio.run(ws())
        after_ws = codes(s.port)
        assert after_ws[101] == 1, after_ws
        assert after_ws[200] - after_sse[200] == 1, (after_sse, after_ws)  # the scrape before
    finally:
        s.close()
