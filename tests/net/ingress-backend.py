"""A tenant stand-in for tests/net/test-ingress-stream.sh: one HTTP/1.1
server whose paths misbehave on purpose (streams, bad framing, bytes past
its response), and a WebSocket echo server. Every request it receives is
appended to LOG as one JSON line, with the connection it came on.
    ingress-backend.py HTTP_PORT WS_PORT LOG"""
import asyncio
import json
import sys

import websockets

HTTP_PORT, WS_PORT, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = 0


async def read_request(r):
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        if line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = await r.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await r.readline()).split(b";")[0], 16)
            if size == 0:
                while await r.readline() != b"\r\n":
                    pass
                break
            body += await r.readexactly(size)
            await r.readline()
    return method, target, headers, body


def fixed(status, body, extra=b""):
    return (b"HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
            % (status, len(body), body)) + extra


async def chunked_tokens(w, tokens, first_pause):
    w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    for i, tok in enumerate(tokens):
        data = b"data: %s\n\n" % tok
        w.write(b"%x\r\n%s\r\n" % (len(data), data))
        await w.drain()
        await asyncio.sleep(first_pause if i == 0 else 0.01)
    w.write(b"0\r\n\r\n")


# Paths after which the connection is closed whatever the request said:
# streams that end by the close, and the misbehaving ones.
CLOSE_AFTER = {"/close-sse", "/hold", "/bad-framing", "/garbage"}


async def handle(r, w):
    """Requests on one connection for as long as the ingress keeps it
    (keep-alive), each logged with the connection's number."""
    global conns
    conns += 1
    me = conns
    while True:
        try:
            method, target, headers, body = await read_request(r)
        except (asyncio.IncompleteReadError, ValueError, ConnectionError):
            break
        with open(LOG, "a") as f:
            f.write(json.dumps({"conn": me, "method": method, "target": target,
                                "headers": headers, "body": body.decode("latin-1")}) + "\n")
        await answer(w, target, headers, body)
        try:
            await w.drain()
        except ConnectionError:
            break
        if target in CLOSE_AFTER or headers.get("connection", "").lower() == "close":
            break
    w.close()


async def answer(w, target, headers, body):
    if target == "/len":
        w.write(fixed(200, b"hello"))
    elif target == "/echo":
        w.write(fixed(200, body))
    elif target == "/headers":
        w.write(fixed(200, json.dumps(headers).encode()))
    elif target == "/sse":
        await chunked_tokens(w, [b"tok0", b"tok1", b"tok2", b"tok3", b"tok4"], 1.5)
    elif target == "/close-sse":
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
        for i in range(3):
            w.write(b"data: tok%d\n\n" % i)
            await w.drain()
            await asyncio.sleep(0.2)
    elif target == "/hold":
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await w.drain()
        await asyncio.sleep(30)
    elif target == "/bad-framing":
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nhello")
    elif target == "/garbage":
        w.write(b"HELLO THERE\r\n\r\n")
    elif target == "/extra":
        # Past its response, an answer to whatever is sent next on this
        # connection: the ingress must not send anything more on it.
        w.write(fixed(200, b"hello", b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"))
    elif target == "/continue":
        w.write(b"HTTP/1.1 100 Continue\r\n\r\n" + fixed(200, body))
    else:
        w.write(fixed(404, b"no such path"))


async def echo(ws):
    async for msg in ws:
        await ws.send(msg)


async def main():
    http = await asyncio.start_server(handle, "127.0.0.1", HTTP_PORT)
    async with websockets.serve(echo, "127.0.0.1", WS_PORT, max_size=2**21):
        open(LOG + ".ready", "w").close()
        await http.serve_forever()


asyncio.run(main())
