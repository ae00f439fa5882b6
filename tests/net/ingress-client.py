"""Checks of ptenant-ingress as real bot traffic uses it, for
tests/net/test-ingress-stream.sh. Prints one TAP-style "ok - ..." or
"not ok - ... : detail" line per check (the shell numbers them).
    ingress-client.py CHECK PORT BACKEND_LOG
With INGRESS_TLS_CA=FILE in the environment every check runs over HTTPS
(SNI be.demo.test, or ws.demo.test for the WebSocket), that file the CA
to trust: the same traffic, through ptenant-ingress's TLS listener."""
import asyncio
import http.client
import json
import os
import socket
import ssl
import sys
import time

CHECK, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DOM = "demo.test"


def report(ok, what, detail=""):
    print(("ok - %s" if ok else "not ok - %s: %s") % (what, detail) if not ok else "ok - " + what)


def backend_requests():
    with open(LOG) as f:
        return [json.loads(l) for l in f]


TLS_CA = os.environ.get("INGRESS_TLS_CA")
TLS = ssl.create_default_context(cafile=TLS_CA) if TLS_CA else None


def connect(timeout=10, sni="be"):
    """A connection to the ingress: plain, or TLS with SNI <sni>.demo.test."""
    s = socket.create_connection(("127.0.0.1", PORT), timeout=timeout)
    return TLS.wrap_socket(s, server_hostname="%s.%s" % (sni, DOM)) if TLS else s


class Conn(http.client.HTTPConnection):
    def connect(self):
        self.sock = connect(self.timeout)


def conn():
    return Conn("127.0.0.1", PORT, timeout=10)


def get(c, path, host="be", method="GET", body=None, headers=None):
    h = {"Host": "%s.%s" % (host, DOM)}
    h.update(headers or {})
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r, r.read()


def raw(data, wait_close=True, timeout=10):
    s = connect(timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if not wait_close:
                break
    except socket.timeout:
        pass
    s.close()
    return out


def keepalive():
    c = conn()
    seen = []
    for _ in range(3):
        r, body = get(c, "/len")
        seen.append((r.status, body, c.sock.getsockname() if c.sock else None))
    names = {s[2] for s in seen}
    report(all(s[0] == 200 and s[1] == b"hello" for s in seen), "keep-alive: 3 requests answered",
           repr(seen))
    report(len(names) == 1 and None not in names, "keep-alive: one client connection for all 3",
           repr(names))
    reqs = [q for q in backend_requests() if q["target"] == "/len"]
    report(len({q["conn"] for q in reqs[-3:]}) == 1,
           "the three reached the tenant on one kept-alive connection (the ingress's pool)",
           repr(reqs[-3:]))
    r, body = get(c, "/headers", headers={"X-Forwarded-For": "6.6.6.6", "Connection": "keep-alive"})
    h = json.loads(body)
    report("connection" not in h and h.get("x-forwarded-for") == "127.0.0.1"
           and h.get("x-forwarded-host", "").startswith("be."),
           "the tenant sees no client Connection header and our X-Forwarded-* only", repr(h))
    c2 = conn()
    get(c2, "/len")
    r, body = get(c2, "/len", headers={"Connection": "close"})
    last = [q for q in backend_requests() if q["target"] == "/len"][-2:]
    report(last[0]["conn"] == last[1]["conn"] and "connection" not in last[1]["headers"],
           "another client's requests reuse the same idle tenant connection (its close is "
           "its own: not passed on)", repr(last))
    r, body = get(c, "/sse")
    report(r.status == 200 and body.count(b"data: tok") == 5, "a chunked stream is relayed whole",
           repr(body[:200]))
    r, body = get(c, "/len")
    report(body == b"hello" and c.sock is not None, "the connection is reused after a chunked response")
    r, body = get(c, "/continue", method="POST", body=b"xyz", headers={"Expect": "100-continue"})
    report(r.status == 200 and body == b"xyz", "an interim 100 Continue is passed on, then the answer",
           "%d %r" % (r.status, body))


def sse_timing():
    s = connect(10)
    t0 = time.monotonic()
    s.sendall(b"GET /sse HTTP/1.1\r\nHost: be.%s\r\n\r\n" % DOM.encode())
    buf, first = b"", None
    while True:
        b = s.recv(65536)
        if not b:
            break
        buf += b
        if first is None and b"data: tok0" in buf:
            first = time.monotonic() - t0
        if buf.endswith(b"\r\n0\r\n\r\n"):  # the last chunk (not a head ending in 0)
            break
    total = time.monotonic() - t0
    s.close()
    # The tenant sends tok0, then waits 1.5 s before the rest: a buffering
    # proxy would deliver tok0 with the others.
    report(first is not None and first < 1.0 and total >= 1.4,
           "SSE: the first token arrives before the tenant sends the next (first %.3f s, all %.3f s)"
           % (first or -1, total))
    out = raw(b"GET /close-sse HTTP/1.1\r\nHost: be.%s\r\n\r\n" % DOM.encode())
    head = out.split(b"\r\n\r\n", 1)[0].lower()
    report(b"connection: close" in head and out.count(b"data: tok") == 3,
           "a close-delimited stream is relayed whole, with Connection: close", repr(out[:300]))


def pipelining():
    req = (b"POST /echo HTTP/1.1\r\nHost: be.%s\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n0\r\n\r\n"
           b"GET /len HTTP/1.1\r\nHost: be.%s\r\nConnection: close\r\n\r\n") % (DOM.encode(), DOM.encode())
    out = raw(req)
    report(out.count(b"HTTP/1.1 200") == 2 and out.endswith(b"hello"),
           "pipelined: a chunked POST and the next request, two answers in order", repr(out[-200:]))
    echo = [q for q in backend_requests() if q["target"] == "/echo"][-1]
    report(echo["body"] == "hello" and "GET" not in echo["body"],
           "the tenant got exactly the chunked body, not the next request", repr(echo))
    c = conn()
    r, body = get(c, "/extra")
    r2, body2 = get(c, "/len")
    c3 = conn()
    r3, body3 = get(c3, "/len")
    report(body == b"hello" and body2 == b"hello" and body3 == b"hello",
           "bytes a tenant sends past its response never answer the next request "
           "(of this client or another)", "%r %r %r" % (body, body2, body3))
    ex = [q for q in backend_requests() if q["target"] in ("/extra", "/len")][-3:]
    report(ex[0]["target"] == "/extra" and ex[1]["conn"] != ex[0]["conn"] and
           ex[2]["conn"] != ex[0]["conn"],
           "the connection that carried extra bytes was not used again", repr(ex))


def bad_responses():
    for path, what in (("/bad-framing", "Content-Length and Transfer-Encoding"),
                       ("/garbage", "not HTTP")):
        out = raw(b"GET %s HTTP/1.1\r\nHost: be.%s\r\n\r\n" % (path.encode(), DOM.encode()))
        report(out.startswith(b"HTTP/1.1 502"), "a tenant's response with %s: 502" % what,
               repr(out[:120]))


async def ws_echo():
    import websockets
    uri = "%s://ws.%s:%d/chat" % ("wss" if TLS else "ws", DOM, PORT)
    extra = {"ssl": TLS, "server_hostname": "ws." + DOM} if TLS else {}
    async with websockets.connect(uri, host="127.0.0.1", port=PORT, max_size=2**21, **extra) as ws:
        await ws.send("ping")
        a = await ws.recv()
        big = bytes(range(256)) * 400
        await ws.send(big)
        b = await ws.recv()
    return a, b, big


def websocket():
    try:
        a, b, big = asyncio.run(asyncio.wait_for(ws_echo(), 10))
        report(a == "ping", "WebSocket through the ingress: a text message echoed", repr(a))
        report(b == big, "WebSocket: a 100 KiB binary message echoed intact")
    except Exception as e:  # noqa: BLE001 - any failure is the check's
        report(False, "WebSocket through the ingress", repr(e))
        report(False, "WebSocket: a 100 KiB binary message echoed intact", "no connection")


def slow_client():
    s = connect(10)
    t0 = time.monotonic()
    s.sendall(b"GET /len HTTP/1.1\r\nHost: be.%s\r\n" % DOM.encode())  # and nothing more
    out = s.recv(4096)
    took = time.monotonic() - t0
    report(out.startswith(b"HTTP/1.1 408"), "a head that never completes: 408 at the head timeout",
           repr(out[:80]))
    report(took < 8, "... cut within the timeout (1 s configured; took %.1f s)" % took)
    c = conn()
    get(c, "/len")
    time.sleep(2.5)
    try:
        c.sock.settimeout(3)
        gone = c.sock.recv(1) == b""
    except OSError:
        gone = True
    report(gone, "an idle keep-alive connection is closed at the keep-alive timeout")


def caps():
    # --max-conns 4 --max-per-tenant 1 on this ingress.
    hold = connect(10)
    hold.sendall(b"GET /hold HTTP/1.1\r\nHost: be.%s\r\n\r\n" % DOM.encode())
    hold.recv(4096)
    out = raw(b"GET /len HTTP/1.1\r\nHost: be.%s\r\n\r\n" % DOM.encode())
    report(out.startswith(b"HTTP/1.1 503") and b"Retry-After:" in out and b"in flight" in out,
           "over the per-tenant cap: 503 with Retry-After", repr(out[:200]))
    out = raw(b"GET /len HTTP/1.1\r\nHost: be2.%s\r\nConnection: close\r\n\r\n" % DOM.encode())
    report(out.startswith(b"HTTP/1.1 200") and out.endswith(b"hello"),
           "another tenant is served meanwhile", repr(out[:120]))
    idle = [connect(5) for _ in range(3)]
    time.sleep(0.3)
    out = raw(b"GET /len HTTP/1.1\r\nHost: be2.%s\r\n\r\n" % DOM.encode())
    report(out.startswith(b"HTTP/1.1 503") and b"too many connections" in out,
           "over the total cap: 503", repr(out[:120]))
    for s in idle:
        s.close()
    hold.close()
    time.sleep(0.5)
    out = raw(b"GET /len HTTP/1.1\r\nHost: be.%s\r\nConnection: close\r\n\r\n" % DOM.encode())
    report(out.startswith(b"HTTP/1.1 200"), "below the caps again: served", repr(out[:120]))


def asleep_no_channel():
    out = raw(b"GET /len HTTP/1.1\r\nHost: sleepy.%s\r\n\r\n" % DOM.encode())
    report(out.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in out and b"asleep" in out,
           "an asleep tenant with no wake channel: 503 with Retry-After", repr(out[:300]))


def sse_count():
    """Not a check: reads a whole SSE stream (Connection: close) and prints
    how many tokens came, for a test that changes something meanwhile."""
    s = connect(10)
    s.sendall(b"GET /sse HTTP/1.1\r\nHost: be.%s\r\nConnection: close\r\n\r\n" % DOM.encode())
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    print(out.count(b"data: tok"))


{"sse-count": sse_count, "keepalive": keepalive, "sse": sse_timing, "pipelining": pipelining, "bad": bad_responses,
 "websocket": websocket, "slow": slow_client, "caps": caps,
 "asleep": asleep_no_channel}[CHECK]()
