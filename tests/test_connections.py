"""Connections as peers' HTTP clients see them: after every error response the keep-alive
connection stays usable, or the response says `Connection: close` and the server closes it.

Issue 15, point 1: berth answered a credential-less PATCH with 401 without reading its body,
then closed the keep-alive connection without saying so; the client's next request was lost.
"""

import base64
import socket

from oci import sha256


def read_response(sock):
    """Reads one HTTP/1.1 response: (status, lowercase headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a response: %r" % data[:200])
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-body")
        rest += chunk
    return status, headers, rest[:length]


def request_bytes(server, method, path, body=b"", headers=None, auth=True, declared=None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {server.host}"]
    if auth:
        token = base64.b64encode(f"AWS:{server.token()}".encode()).decode()
        lines.append(f"Authorization: Basic {token}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body) if declared is None else declared}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def assert_connection_usable_after(server, raw, expected_status):
    """Sends `raw` and then a second request on the same connection; the second must be
    answered, unless the first response said `Connection: close` and the server then closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
        s.sendall(raw)
        status, headers, _ = read_response(s)
        assert status == expected_status, (status, headers)
        if headers.get("connection", "").lower() == "close":
            try:
                rest = s.recv(1)
            except ConnectionResetError:
                rest = b""  # closed with unread bytes of ours: Linux resets, which is a close
            assert rest == b"", "said Connection: close but kept the connection open"
            return "closed"
        s.sendall(request_bytes(server, "GET", "/v2/"))
        status, _, body = read_response(s)
        assert status == 200, body
        return "kept"


def test_keep_alive_survives_each_kind_of_error_response(server):
    server.create_repo("ka")
    upload = server.request("POST", "/v2/ka/blobs/uploads/").headers["Location"]
    chunk = b"c" * 40_000
    cases = [
        # docker's and the conformance suite's first, credential-less request, with a body.
        (401, request_bytes(server, "PATCH", upload, chunk, auth=False)),
        (401, request_bytes(server, "PUT", "/v2/ka/manifests/v1", chunk, auth=False)),
        (404, request_bytes(server, "PUT", "/v2/ka/blobs/uploads/nonesuch?digest=" + sha256(chunk),
                            chunk)),
        (405, request_bytes(server, "POST", "/v2/ka/tags/list", chunk)),
        (416, request_bytes(server, "PATCH", upload, chunk,
                            headers={"Content-Range": "500-40499",
                                     "Content-Type": "application/octet-stream"})),
        (400, request_bytes(server, "PUT", "/v2/ka/manifests/v1", b"{not json" + chunk,
                            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})),
    ]
    for status, raw in cases:
        assert assert_connection_usable_after(server, raw, status) == "kept", status


def test_oversized_manifest_gets_a_readable_413_not_a_reset(server):
    server.create_repo("big")
    body = b" " * (5 * 1024 * 1024)
    raw = request_bytes(server, "PUT", "/v2/big/manifests/v1", body,
                        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    # The whole 5 MiB is written before the answer is read, as a client mid-upload does.
    assert assert_connection_usable_after(server, raw, 413) == "kept"


def test_a_large_unread_body_gets_connection_close(server):
    # 1 MiB sent with no credentials: more than the server discards for a stranger, so it
    # says it will close, and does.
    raw = request_bytes(server, "PATCH", "/v2/ka/blobs/uploads/x", b"z" * (1024 * 1024), auth=False)
    assert assert_connection_usable_after(server, raw, 401) == "closed"


def test_a_declared_body_that_never_comes_gets_connection_close(server):
    raw = request_bytes(server, "PATCH", "/v2/ka/blobs/uploads/x", b"", auth=False, declared=1000)
    assert assert_connection_usable_after(server, raw, 401) == "closed"
