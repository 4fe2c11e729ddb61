"""Crash safety: SIGKILL during concurrent pushes loses nothing acknowledged and exposes
nothing half-written."""

import hashlib
import os
import random
import threading
import time

import requests

from oci import image_manifest, put_manifest, sha256

KILLS = 20
WORKERS = 6


def push_blob_chunked(server, repo, data, session):
    """POST, two PATCHes, PUT: exercises resumable upload state as well as commit."""
    r = session.post(server.url + f"/v2/{repo}/blobs/uploads/", auth=server.auth())
    if r.status_code != 202:
        return False
    loc = r.headers["Location"]
    half = len(data) // 2
    r = session.patch(server.url + loc, data=data[:half], auth=server.auth(),
                      headers={"Content-Range": f"0-{half - 1}"})
    if r.status_code != 202:
        return False
    r = session.put(server.url + r.headers["Location"], params={"digest": sha256(data)},
                    data=data[half:], auth=server.auth())
    return r.status_code == 201


def worker(server, stop, acknowledged, attempted, lock, seed):
    rng = random.Random(seed)
    session = requests.Session()
    n = 0
    while not stop.is_set():
        n += 1
        layer = os.urandom(rng.randint(1, 400) * 1024)
        config = f'{{"worker":{seed},"n":{n}}}'.encode()
        tag = f"w{seed}-{n}-{rng.randint(0, 1 << 30)}"
        try:
            with lock:
                attempted.update({sha256(layer): layer, sha256(config): config})
            if not (push_blob_chunked(server, "crash", layer, session)
                    and push_blob_chunked(server, "crash", config, session)):
                continue
            body = image_manifest(config, [layer])
            r = session.put(server.url + f"/v2/crash/manifests/{tag}", data=body, auth=server.auth(),
                            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            if r.status_code == 201:
                with lock:
                    acknowledged[tag] = (body, {sha256(layer): layer, sha256(config): config})
        except requests.RequestException:
            time.sleep(0.05)


def verify(server, acknowledged, attempted, walk_tags=False):
    session = requests.Session()
    get = lambda path: session.get(server.url + path, auth=server.auth())
    for tag, (body, blobs) in acknowledged.items():
        r = get(f"/v2/crash/manifests/{tag}")
        assert r.status_code == 200, f"acknowledged manifest {tag} lost: {r.status_code}"
        assert r.content == body
        for digest, data in blobs.items():
            r = get(f"/v2/crash/blobs/{digest}")
            assert r.status_code == 200, f"blob {digest} of {tag} lost"
            assert sha256(r.content) == digest
    # Every visible tag, acknowledged or not, resolves to a whole manifest whose blobs are all
    # there and hash to their digests: no manifest is visible before its blobs, nor half-stored.
    tags = get("/v2/crash/tags/list?n=100000").json()["tags"] or []
    assert set(acknowledged) <= set(tags)
    for tag in tags if walk_tags else []:
        r = get(f"/v2/crash/manifests/{tag}")
        assert r.status_code == 200, f"visible tag {tag} has no manifest"
        assert sha256(r.content) == r.headers["Docker-Content-Digest"]
        manifest = r.json()
        for d in [manifest["config"], *manifest["layers"]]:
            blob = get(f"/v2/crash/blobs/{d['digest']}")
            assert blob.status_code == 200, f"blob {d['digest']} of visible tag {tag} is missing"
            assert sha256(blob.content) == d["digest"] and len(blob.content) == d["size"]
    # Anything visible is whole, acknowledged or not.
    for digest in attempted:
        r = get(f"/v2/crash/blobs/{digest}")
        if r.status_code == 200:
            assert sha256(r.content) == digest, f"half-written blob {digest} is visible"
        else:
            assert r.status_code == 404


def stored_blobs_hash_to_their_names(data_dir):
    root = os.path.join(data_dir, "blobs")
    count = 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as f:
                assert hashlib.sha256(f.read()).hexdigest() == name, f"corrupt blob file {name}"
            count += 1
    return count


def test_sigkill_during_concurrent_pushes_loses_nothing_acknowledged(server):
    server.create_repo("crash")
    acknowledged, attempted, lock = {}, {}, threading.Lock()
    rng = random.Random(7)
    checked = {}
    for round_ in range(KILLS):
        stop = threading.Event()
        threads = [threading.Thread(target=worker, args=(server, stop, acknowledged, attempted, lock, round_ * 100 + i))
                   for i in range(WORKERS)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.3, 0.9))
        server.kill()
        stop.set()
        for t in threads:
            t.join()
        server.start()
        # Everything acknowledged so far is checked every fifth restart; in between, only what
        # this round added, to keep the test short.
        if round_ % 5 == 4:
            verify(server, acknowledged, attempted, walk_tags=True)
        else:
            verify(server, {t: acknowledged[t] for t in acknowledged if t not in checked},
                   {d: attempted[d] for d in attempted if d not in checked})
        checked.update(acknowledged)
        checked.update(attempted)
    assert len(acknowledged) >= KILLS, "too few pushes were acknowledged to mean anything"
    assert stored_blobs_hash_to_their_names(server.data_dir) >= len(acknowledged)
