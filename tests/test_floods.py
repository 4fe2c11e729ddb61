"""Floods: nothing is buffered before the caller is known (issue 15, point 3), and one
tenant's stalled uploads cannot starve another's (point 4)."""

import base64
import json
import os
import socket
import threading
import time

import requests

from ecr import aws, ecr_client
from oci import sha256

TEN_MIB = 10 * 1024 * 1024


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def anonymous_ecr_post(server, results):
    """POST / with a 10 MiB body and no signature; records the status the server answered."""
    head = (f"POST / HTTP/1.1\r\nHost: {server.host}\r\n"
            "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.DescribeRepositories\r\n"
            "Content-Type: application/x-amz-json-1.1\r\n"
            f"Content-Length: {TEN_MIB}\r\n\r\n").encode()
    answer = []
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
            def read():
                data = b""
                try:
                    while b"\r\n" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                answer.append(data)
            reader = threading.Thread(target=read)
            reader.start()
            s.sendall(head)
            block = b"\0" * 65536
            try:
                for _ in range(TEN_MIB // len(block)):
                    s.sendall(block)
            except OSError:
                pass  # The server refused and closed: what the test wants.
            reader.join(30)
    except OSError as e:
        results.append(f"error {e}")
        return
    line = answer[0].split(b"\r\n", 1)[0] if answer else b""
    results.append(int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else f"no answer {line!r}")


def test_anonymous_10_mib_bodies_are_refused_before_they_are_read(server):
    aws(server, "ecr", "create-repository", "--repository-name", "flooded")
    ecr = ecr_client(server)
    pid = server.proc.pid
    results, peak = [], [rss_mib(pid)]
    threads = [threading.Thread(target=anonymous_ecr_post, args=(server, results)) for _ in range(250)]
    for t in threads:
        t.start()
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak.append(rss_mib(pid))
            time.sleep(0.02)
    sampler = threading.Thread(target=sample)
    sampler.start()
    # An authenticated request is served meanwhile.
    started = time.monotonic()
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert names == ["flooded"]
    assert time.monotonic() - started < 5
    for t in threads:
        t.join(60)
    done.set()
    sampler.join()
    assert len(results) == 250
    assert all(isinstance(r, int) and 400 <= r < 500 for r in results), results[:5]
    print(f"peak RSS under the anonymous flood: {max(peak):.1f} MiB")
    assert max(peak) < 200, max(peak)
    assert requests.get(server.url + "/healthz").status_code == 200


def stalled_patch(server, location, token):
    """Starts a PATCH that declares 10 MiB, sends 64 KiB and stalls; returns the socket."""
    s = socket.create_connection(("127.0.0.1", server.port))
    auth = base64.b64encode(f"AWS:{token}".encode()).decode()
    s.sendall((f"PATCH {location} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: Basic {auth}\r\n"
               f"Content-Type: application/octet-stream\r\nContent-Length: {TEN_MIB}\r\n\r\n").encode()
              + b"s" * 65536)
    return s


def test_one_tenants_stalled_uploads_do_not_starve_another(server):
    server.create_repo("hog")
    # More stalled bodies than tokio's blocking pool has threads (512).
    stalled = []
    for _ in range(520):
        loc = server.request("POST", "/v2/hog/blobs/uploads/").headers["Location"]
        stalled.append(stalled_patch(server, loc, server.token()))
    time.sleep(1)
    other = json.loads(server.berth("account", "create").stdout)
    account = other["Account"]["Id"]
    key, secret = other["AccessKey"]["AccessKeyId"], other["AccessKey"]["SecretAccessKey"]
    aws(server, "ecr", "create-repository", "--repository-name", "tenant", key=key, secret=secret)
    password = aws(server, "ecr", "get-login-password", key=key, secret=secret).strip()
    session = requests.Session()
    session.auth = ("AWS", password)
    session.headers["Host"] = f"{account}.{server.host}"
    data = os.urandom(256 * 1024)
    started = time.monotonic()
    r = session.post(server.url + "/v2/tenant/blobs/uploads/", timeout=10)
    assert r.status_code == 202, r.text
    r = session.put(server.url + r.headers["Location"], params={"digest": sha256(data)}, data=data,
                    headers={"Content-Type": "application/octet-stream"}, timeout=10)
    assert r.status_code == 201, r.text
    r = session.get(server.url + f"/v2/tenant/blobs/{sha256(data)}", timeout=10)
    assert r.status_code == 200 and r.content == data
    took = time.monotonic() - started
    print(f"another account's push and pull beside 520 stalled uploads: {took * 1000:.0f} ms")
    assert took < 2, took
    for s in stalled:
        s.close()
