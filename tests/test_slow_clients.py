"""Slow and idle clients cannot hold the server (issue 15, point 2).

Clients that send half their headers, or HTTP/2 streams that declare a body and send none,
must not keep /healthz or an authenticated pull from answering, and the server closes them
within its timeouts. The timeouts are shortened here so the test runs in seconds.
"""

import socket
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import requests

from oci import push_image

TIMEOUTS = ["--header-read-timeout-seconds", "3", "--body-read-timeout-seconds", "3",
            "--http2-keep-alive-seconds", "2"]


def timed_get(url, **kw):
    started = time.monotonic()
    r = requests.get(url, timeout=5, **kw)
    return r, time.monotonic() - started


def assert_serving(server, digest):
    r, took = timed_get(server.url + "/healthz")
    assert r.status_code == 200 and took < 1.0, took
    r, took = timed_get(server.url + f"/v2/slow/manifests/{digest}", auth=server.auth())
    assert r.status_code == 200 and took < 1.0, took
    return took


def closed_within(sock, seconds):
    """True when the server closes `sock` (EOF or reset) within `seconds`."""
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_half_sent_headers_do_not_hold_the_server(make_server):
    server = make_server(extra_args=TIMEOUTS)
    server.create_repo("slow")
    digest, _ = push_image(server, "slow", "v1")
    stalled = []
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(f"GET /v2/ HTTP/1.1\r\nHost: {server.host}\r\nAuthoriz".encode())
        stalled.append(s)
    assert_serving(server, digest)
    started = time.monotonic()
    assert all(closed_within(s, 6) for s in stalled)
    # Closed by the header timeout (3 s), not left open.
    assert time.monotonic() - started < 8
    for s in stalled:
        s.close()
    assert_serving(server, digest)


def open_h2(server):
    s = socket.create_connection(("127.0.0.1", server.port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    s.sendall(conn.data_to_send())
    s.settimeout(5)
    # Read the server's SETTINGS, so its stream limit is known.
    while conn.remote_settings.max_concurrent_streams > 10_000:
        data = s.recv(65536)
        assert data, "server closed the HTTP/2 connection at once"
        conn.receive_data(data)
        s.sendall(conn.data_to_send())
    return s, conn


def test_http2_streams_declaring_bodies_they_never_send_do_not_hold_the_server(make_server):
    server = make_server(extra_args=TIMEOUTS)
    server.create_repo("slow")
    digest, _ = push_image(server, "slow", "v1")
    connections = []
    opened = refused = 0
    for i in range(22):
        s, conn = open_h2(server)
        limit = conn.remote_settings.max_concurrent_streams
        assert limit <= 256, limit
        for _ in range(195):
            path = "/v2/slow/blobs/uploads/" if i % 2 else "/"
            try:
                conn.send_headers(conn.get_next_available_stream_id(), [
                    (":method", "POST" if i % 2 == 0 else "PATCH"), (":scheme", "http"),
                    (":authority", server.host), (":path", path),
                    ("content-length", str(10 * 1024 * 1024)),
                ])
                opened += 1
            except h2.exceptions.TooManyStreamsError:
                refused += 1
        s.sendall(conn.data_to_send())
        connections.append((s, conn))
    assert opened >= 22 * 100 and refused > 0
    for _ in range(3):
        assert_serving(server, digest)
    # The clients never answer the server's keep-alive pings: it closes every connection.
    started = time.monotonic()
    assert all(closed_within(s, 10) for s, _ in connections)
    assert time.monotonic() - started < 12
    for s, _ in connections:
        s.close()
    assert_serving(server, digest)
