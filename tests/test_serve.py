"""`berth serve` itself: first start, configuration sources, TLS, health, logs, shutdown."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import requests

from conftest import BERTH


def test_first_start_prints_account_and_a_working_key_pair_once(make_server):
    s = make_server(extra_env={"BERTH_ROOT_ACCESS_KEY_ID": "", "BERTH_ROOT_SECRET_ACCESS_KEY": ""})
    assert re.search(r"account \(registry\): \d{12}\n", s.stdout)
    assert "region:             us-east-1" in s.stdout
    key = re.search(r"root access key id: (AKIA[A-Z2-7]{16})", s.stdout).group(1)
    secret = re.search(r"root secret key:    (\S+)   \(shown once", s.stdout).group(1)
    # The login line pastes as it is: run it through a shell, with only the binary's path changed.
    login = re.search(r"  docker login:       (.+)\n", s.stdout).group(1)
    assert login.startswith(f"AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} berth login-password")
    assert login.endswith(f"| docker login --username AWS --password-stdin {s.host}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "AWS_"))}
    r = subprocess.run(["bash", "-c", login.replace(" berth ", f" {BERTH} ", 1)], capture_output=True,
                       text=True, env=env, timeout=60)
    assert r.returncode == 0 and "Login Succeeded" in r.stdout, r.stderr
    subprocess.run(["docker", "logout", s.host], capture_output=True)
    token = s.berth("login-password", env=s.env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)).stdout.strip()
    assert requests.get(s.url + "/v2/", auth=("AWS", token)).status_code == 200
    s.restart()
    assert key in s.stdout and secret not in s.stdout
    assert "(shown at first start)" in s.stdout


def test_with_no_configuration_it_serves_127_0_0_1_5000_from_berth_data(tmp_path):
    with socket.socket() as probe:
        busy = probe.connect_ex(("127.0.0.1", 5000)) == 0
    assert not busy, "port 5000 is taken on this machine; this test checks berth's default listener"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "AWS_"))}
    proc = subprocess.Popen([BERTH, "serve"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        import threading
        lines = []
        threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
        deadline = time.time() + 30
        while not any(l.startswith("listening on") for l in lines):
            assert proc.poll() is None, "berth exited: " + "".join(lines)
            assert time.time() < deadline, "berth did not start within 30 s: " + "".join(lines)
            time.sleep(0.05)
        out = "".join(lines)
        assert "listening on 127.0.0.1:5000" in out
        assert "http://127.0.0.1:5000" in out
        assert requests.get("http://127.0.0.1:5000/healthz").status_code == 200
        data = tmp_path / "berth-data"
        assert data.is_dir() and (data / "berth.db").is_file()
        # SQLite in WAL mode: the write-ahead log sits beside the database while it is open.
        assert (data / "berth.db-wal").is_file()
        with open(data / "berth.db", "rb") as f:
            header = f.read(20)
        assert header[:16] == b"SQLite format 3\x00" and header[18:20] == b"\x02\x02"  # WAL
    finally:
        proc.terminate()
        proc.wait(30)


def test_config_file_then_environment_then_flags(make_server, tmp_path):
    cfg = tmp_path / "berth.toml"
    cfg.write_text('region = "eu-west-1"\nauto_create_repositories = true\n')
    s = make_server(extra_env={"BERTH_CONFIG": str(cfg)})
    assert "region:             eu-west-1" in s.stdout
    s.restart(BERTH_REGION="ap-south-1")
    assert "region:             ap-south-1" in s.stdout
    s.extra_args = ["--region", "us-west-2"]
    s.restart(BERTH_REGION="ap-south-1")
    assert "region:             us-west-2" in s.stdout
    # auto_create_repositories came from the file. The CLI signs for the server's region.
    s.extra_env["AWS_REGION"] = "us-west-2"
    from oci import push_blob
    push_blob(s, "auto/made", b"x")


def test_bad_configuration_is_refused_with_a_clear_message(tmp_path):
    cfg = tmp_path / "berth.toml"
    cfg.write_text('regoin = "typo"\n')
    r = subprocess.run([BERTH, "serve", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "unknown field `regoin`" in r.stderr
    r = subprocess.run([BERTH, "serve", "--metadata", "mysql://x"], capture_output=True, text=True,
                       timeout=30, cwd=tmp_path)
    assert r.returncode != 0 and "unsupported metadata URL" in r.stderr


def test_health_and_readiness(server):
    assert requests.get(server.url + "/healthz").status_code == 200
    assert requests.get(server.url + "/readyz").status_code == 200


def test_json_logs(make_server):
    s = make_server(extra_args=["--log-format", "json"])
    s.request("GET", "/v2/")
    s.stop()
    lines = [l for l in s.server_log().splitlines() if l.strip()]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert "level" in entry and "fields" in entry


def test_tls_from_certificate_files(make_server, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    s = make_server(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    assert f"https://{s.host}" in s.stdout
    url = f"https://{s.host}"
    r = requests.get(url + "/v2/", verify=str(cert))
    assert r.status_code == 401
    env = s.env()
    import base64
    import boto3
    ecr = boto3.client("ecr", endpoint_url=url, region_name="us-east-1", verify=str(cert),
                       aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    data = ecr.get_authorization_token()["authorizationData"][0]
    token = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)[1]
    assert requests.get(url + "/v2/", auth=("AWS", token), verify=str(cert)).status_code == 200
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", str(cert),
                        url + "/healthz"], capture_output=True, text=True)
    assert r.stdout == "200"
    # URLs the ECR API hands out keep the scheme the client came in on.
    assert data["proxyEndpoint"] == url


def test_sigterm_drains_an_in_flight_upload(server):
    server.create_repo("drain")
    loc = server.request("POST", "/v2/drain/blobs/uploads/").headers["Location"]
    import base64
    auth = base64.b64encode(f"AWS:{server.token()}".encode()).decode()
    body = b"x" * 100_000
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall((f"PATCH {loc} HTTP/1.1\r\nHost: {server.host}\r\nAuthorization: Basic {auth}\r\n"
                  f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body[:50_000])
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert server.proc.poll() is None, "the server exited with a request in flight"
    # New connections are no longer accepted while draining.
    sock.sendall(body[50_000:])
    sock.settimeout(10)
    answer = b""
    while chunk := sock.recv(4096):
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
    assert b"range: 0-99999" in answer.lower()
    assert server.proc.wait(30) == 0


def test_a_changed_root_secret_variable_is_reported_not_silently_ignored(server):
    server.restart(BERTH_ROOT_SECRET_ACCESS_KEY="a-different-secret-than-the-stored-one-000")
    assert "differs from the stored secret" in server.server_log()
    # The stored secret stays in force.
    assert requests.get(server.url + "/v2/", auth=server.auth()).status_code == 200


def test_rust_log_sets_levels_per_target_and_a_bad_filter_is_reported(make_server):
    s = make_server(extra_env={"RUST_LOG": "warn,berth_server=debug"})
    s.request("GET", "/v2/")
    deadline = time.time() + 10
    while " DEBUG " not in s.server_log() and time.time() < deadline:
        time.sleep(0.05)  # the access log line is written once the response is sent
    log = s.server_log()
    assert "\x1b[" not in log  # a log file gets no terminal colours
    assert " INFO " not in log  # the default level is warn...
    assert " DEBUG " in log and "berth_server" in log  # ...and berth_server's is debug
    before = len(s.server_log())
    s.restart(RUST_LOG="berth=loudest")
    requests.get(s.url + "/v2/", auth=("AWS", "forged"))  # refused: logged at INFO
    deadline = time.time() + 10
    while " INFO " not in s.server_log()[before:] and time.time() < deadline:
        time.sleep(0.05)
    fresh = s.server_log()[before:]
    assert 'ignoring RUST_LOG="berth=loudest"' in fresh
    assert " INFO " in fresh and "request refused" in fresh  # the fallback level is info
