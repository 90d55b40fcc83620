"""The TLS reverse-proxy recipe of docs/caregiver-page.md, run as written: nginx in front of a real AckServer.

The nginx block is read from the page's fenced ``nginx`` block (doc and test cannot drift); only
the host-specific values are replaced (port, certificate, log and the upstream's port), each one
checked to be in the block first. A self-signed certificate is made with ``openssl req -x509`` in
tmp_path; nginx runs as the current user with every path in tmp_path, on a free port of 127.0.0.1.
Skipped when nginx or openssl is not installed.
"""

from __future__ import annotations

import getpass
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
from test_caregiver_page import Home

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

DOC = Path(__file__).resolve().parents[1] / "docs" / "caregiver-page.md"
_SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
NGINX, OPENSSL = shutil.which("nginx", path=_SBIN), shutil.which("openssl", path=_SBIN)
NAME = "home.example.org"


def doc_block(lang: str) -> str:
    (block,) = re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), re.DOTALL | re.MULTILINE)
    return block


def replace(text: str, old: str, new: str) -> str:
    assert old in text, f"the recipe in {DOC.name} no longer has {old!r}: update this test with it"
    return text.replace(old, new)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def proxied(tmp_path):
    """(Home, https port, ssl context trusting the certificate, access log path) with nginx running."""
    if NGINX is None or OPENSSL is None:
        pytest.skip(f"needs nginx and openssl (found nginx={NGINX}, openssl={OPENSSL}; Debian: apt-get install "
                    "nginx-light openssl)")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME},IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    home = Home(tmp_path)
    port = free_port()
    log = tmp_path / "eegmon.access.log"
    server = doc_block("nginx")
    server = replace(server, "listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
    server = replace(server, f"/etc/letsencrypt/live/{NAME}/fullchain.pem", str(cert))
    server = replace(server, f"/etc/letsencrypt/live/{NAME}/privkey.pem", str(key))
    server = replace(server, "/var/log/nginx/eegmon.access.log", str(log))
    server = replace(server, "proxy_pass http://127.0.0.1:8765;", f"proxy_pass http://127.0.0.1:{home.port};")
    (tmp_path / "eegmon.conf").write_text(server)
    temp = "\n".join(f"    {kind}_temp_path {tmp_path / kind};" for kind in ("client_body", "proxy"))
    # a root test run (CI containers) would otherwise hand the workers to 'nobody', who cannot read tmp_path
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"{user}worker_processes 1;\npid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'} "
                    f"info;\nevents {{ worker_connections 64; }}\nhttp {{\n{temp}\n    access_log off;\n"
                    f"    include {tmp_path / 'eegmon.conf'};\n}}\n")
    check = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log"),
                             "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ctx = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 60
        while True:  # until nginx accepts TLS connections (no fixed sleep: the machine may be busy)
            assert proc.poll() is None, (tmp_path / "error.log").read_text()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                        ctx.wrap_socket(raw, server_hostname=NAME):
                    break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start listening within 60 s"
                time.sleep(0.1)
        yield home, port, ctx, log
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        home.stop()


def https(port: int, ctx: ssl.SSLContext, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
    con = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=30)
    try:
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Host": NAME} | ({"Content-Type": "application/x-www-form-urlencoded"} if body else {})
        con.request(method, path, body=body, headers=headers)
        r = con.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        con.close()


def test_page_and_acknowledgement_through_the_nginx_recipe(proxied):
    home, port, ctx, log = proxied
    token = home.link("mum")
    code, page = https(port, ctx, "GET", f"/home?t={token}")
    assert code == 200 and "<h1>Sam</h1>" in page and "I am on it" in page
    code, page = https(port, ctx, "POST", "/home", {"t": token, "e": home.open.id})
    assert code == 200 and "Acknowledged: thank you." in page
    assert home.event(home.open.id)["acked_by"] == "link:mum"
    # an alert's own link through the proxy too, and a refusal passed on as eegmon gave it
    assert https(port, ctx, "GET", f"/ack?t={home.signer.make(home.acked.id, 'mum')}")[0] == 200
    code, page = https(port, ctx, "GET", "/home?t=forged.link")
    assert code == 403 and "This link cannot be used" in page
    # paths other than eegmon's three stop at nginx; a body over the recipe's 4k limit too
    assert https(port, ctx, "GET", f"/status?t={token}")[0] == 404
    assert https(port, ctx, "POST", "/home", {"t": token, "e": "x" * 8000})[0] == 413
    # the access log holds the requests but never a link's key
    deadline = time.monotonic() + 30
    while log.read_text().count("\n") < 6 and time.monotonic() < deadline:
        time.sleep(0.1)
    logged = log.read_text()
    assert '"GET /home" 200' in logged and '"POST /home" 200' in logged
    assert token not in logged and "t=" not in logged


def test_the_tls_is_real(proxied):
    home, port, _, _ = proxied
    untrusting = ssl.create_default_context()  # the system's CAs: the self-signed certificate is refused
    with pytest.raises(ssl.SSLCertVerificationError):
        https(port, untrusting, "GET", f"/home?t={home.link('mum')}")
