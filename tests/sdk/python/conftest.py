"""Starts the real kmsd binary once per session and hands out SDK clients pointed at it.

KMSD_BIN (default <repo>/target/debug/kmsd) must already be built; nothing here builds it.
"""

from __future__ import annotations

import atexit
import datetime
import ipaddress
import json
import os
import re
import signal
import subprocess
import threading
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from helpers import ACCESS_KEY_ID, ACCESS_KEY_SECRET, DATE_RE, GATEWAY_EXTRA_HOSTS
from kms_clients import MODES, Endpoint, KmsCaller, make_caller

REPO = Path(__file__).resolve().parents[3]
KMSD_BIN = os.environ.get("KMSD_BIN") or str(REPO / "target" / "debug" / "kmsd")

STARTUP_TIMEOUT_S = 30
SHUTDOWN_TIMEOUT_S = 15
READY_LINE = re.compile(r"^kmsd listening on (https?://\S+)$")
# with --instance-listen: the second stdout line, right after READY_LINE
GATEWAY_LINE = re.compile(r"^kmsd instance gateway listening on (https://\S+)$")


@dataclass
class KmsServer:
    endpoint: Endpoint
    process: subprocess.Popen
    stderr_path: Path
    ca: Optional[str] = None  # PEM file the client must trust (https only)
    data_dir: Optional[Path] = None
    store_args: tuple = ()
    gateway: Optional[Endpoint] = None  # the KMS instance gateway (--instance-listen), https

    def admin(self, *args: str, group: str = "access-key") -> str:
        """`kmsd admin <group> <args>` (group `access-key` unless told, e.g. `instance`) on this
        server's data dir and store; its stdout."""
        kmsd = str(Path(KMSD_BIN).with_name("kmsd"))  # also when KMSD_BIN is kms-cluster
        env = {k: v for k, v in os.environ.items() if k not in ("KMSD_STORE", "KMSD_DATA_DIR")}
        out = subprocess.run([kmsd, "admin", group, *args, "--data-dir", str(self.data_dir),
                              *self.store_args], capture_output=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr.decode(errors="replace")
        return out.stdout.decode()

    def stderr_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.stderr_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def client(self, mode: str, ak: str = ACCESS_KEY_ID, secret: str = ACCESS_KEY_SECRET,
               token: Optional[str] = None) -> KmsCaller:
        return make_caller(mode, self.endpoint, ak, secret, self.ca, token)

    def advance_clock(self, seconds: int) -> dict:
        """--dev-clock only: plain unsigned POST /-/clock/advance?seconds=N; kmsd runs the jobs
        that became due before answering {"RequestId", "Now", "Destroyed", "Rotated"}."""
        request = urllib.request.Request(f"{self.endpoint.url}/-/clock/advance?seconds={seconds}", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200, response.status
            body = json.loads(response.read())
        assert set(body) == {"RequestId", "Now", "Destroyed", "Rotated"}, body
        assert isinstance(body["RequestId"], str) and body["RequestId"], body
        assert DATE_RE.match(body["Now"]), body
        assert all(type(body[n]) is int and body[n] >= 0 for n in ("Destroyed", "Rotated")), body
        return body


def _store_args() -> list[str]:
    """KMSD_TEST_STORE=postgres: every server gets a fresh database on KMSD_TEST_POSTGRES_URL."""
    if os.environ.get("KMSD_TEST_STORE") != "postgres":
        return []
    admin = os.environ["KMSD_TEST_POSTGRES_URL"]
    name = f"kmsd_sdk_{uuid.uuid4().hex}"
    subprocess.run(["psql", admin, "-q", "-v", "ON_ERROR_STOP=1", "-c", f"CREATE DATABASE {name}"], check=True)
    return ["--store", admin.split("?")[0].rsplit("/", 1)[0] + "/" + name]


def _root_args() -> list[str]:
    """KMSD_TEST_ROOT_URI_PREFIX/_SUFFIX (tests/sdk/run.sh with KMSD_TEST_ROOT=pkcs11): every
    server keeps its root key in the SoftHSM2 token run.sh made, under a key label of its own."""
    prefix = os.environ.get("KMSD_TEST_ROOT_URI_PREFIX")
    if not prefix:
        return []
    return ["--root-key-pkcs11", f"{prefix}root-{uuid.uuid4().hex}{os.environ['KMSD_TEST_ROOT_URI_SUFFIX']}"]


def _start_kmsd(workdir: Path, extra_args: list[str] = (), gateway: bool = False,
                restored: Optional[tuple] = None) -> KmsServer:
    """Starts KMSD_BIN and waits for its ready line; with `gateway` (the caller passes
    --instance-listen) also for the instance gateway's line that follows it. `restored` is a
    deployment to start on instead of a fresh one: (its data dir, its store and root-key args)."""
    if not os.access(KMSD_BIN, os.X_OK):
        pytest.fail(f"kmsd binary not found or not executable: {KMSD_BIN} (build it, or set KMSD_BIN)",
                    pytrace=False)
    if restored is None:
        data_dir = workdir / "data"
        data_dir.mkdir()
        # what `kmsd admin` needs besides the data dir to reach this deployment
        store_args = tuple(_store_args()) + tuple(_root_args())
    else:
        data_dir, store_args = restored
    stderr_path = workdir / "kmsd.stderr.log"
    env = dict(os.environ,
               KMSD_BOOTSTRAP_ACCESS_KEY_ID=ACCESS_KEY_ID,
               KMSD_BOOTSTRAP_ACCESS_KEY_SECRET=ACCESS_KEY_SECRET)
    cmd = [KMSD_BIN, "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), *store_args, *extra_args]
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=stderr, env=env)
    # safety net: never leave a server behind if the session ends without the fixture teardown
    atexit.register(lambda: proc.poll() is None and proc.kill())

    # Read the ready line(s) on a thread so a silent server cannot hang the session.
    wanted = 2 if gateway else 1
    lines: list[bytes] = []
    got_lines = threading.Event()

    def pump() -> None:
        while len(lines) < wanted:
            line = proc.stdout.readline()
            lines.append(line)
            if not line:
                break
        got_lines.set()
        for _ in iter(proc.stdout.readline, b""):  # keep draining; nothing more is expected
            pass

    threading.Thread(target=pump, name="kmsd-stdout", daemon=True).start()
    got_lines.wait(STARTUP_TIMEOUT_S)
    seen = [raw.decode(errors="replace").strip() for raw in list(lines)]
    line = seen[0] if seen else ""
    server_stub = KmsServer(Endpoint("http://unset"), proc, stderr_path)
    if not READY_LINE.match(line):
        proc.kill()
        proc.wait()
        pytest.fail(f"kmsd did not print 'kmsd listening on <url>' (waited up to {STARTUP_TIMEOUT_S}s; "
                    f"stdout line: {line!r}, exit code: {proc.returncode})\ncommand: {cmd}\n"
                    f"--- stderr ---\n{server_stub.stderr_tail()}", pytrace=False)
    gateway_endpoint = None
    if gateway:
        second = seen[1] if len(seen) > 1 else ""
        if not GATEWAY_LINE.match(second):
            proc.kill()
            proc.wait()
            pytest.fail(f"kmsd did not print 'kmsd instance gateway listening on https://<addr>' as its second "
                        f"line (waited up to {STARTUP_TIMEOUT_S}s; stdout lines: {seen!r}, exit code: "
                        f"{proc.returncode})\ncommand: {cmd}\n--- stderr ---\n{server_stub.stderr_tail()}",
                        pytrace=False)
        gateway_endpoint = Endpoint(GATEWAY_LINE.match(second).group(1))
    url = re.search(r"(https?://\S+)", line).group(1)
    return KmsServer(Endpoint(url), proc, stderr_path, data_dir=data_dir, store_args=store_args,
                     gateway=gateway_endpoint)


def _stop_kmsd(server: KmsServer) -> None:
    proc = server.process
    if proc.poll() is not None:
        pytest.fail(f"kmsd died during the session (exit code {proc.returncode})\n"
                    f"--- stderr ---\n{server.stderr_tail()}", pytrace=False)
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(SHUTDOWN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"kmsd did not exit within {SHUTDOWN_TIMEOUT_S}s of SIGTERM\n"
                    f"--- stderr ---\n{server.stderr_tail()}", pytrace=False)
    assert rc == 0, f"kmsd exited with {rc} after SIGTERM\n--- stderr ---\n{server.stderr_tail()}"


@pytest.fixture(scope="session")
def kmsd(tmp_path_factory) -> KmsServer:
    """The kmsd process under test, plain HTTP on 127.0.0.1:<random port>."""
    server = _start_kmsd(tmp_path_factory.mktemp("kmsd"))
    assert server.endpoint.scheme == "http", server.endpoint.url
    yield server
    _stop_kmsd(server)


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kmsd sdk test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="session")
def kmsd_tls(tmp_path_factory) -> KmsServer:
    """A second kmsd serving HTTPS with a fresh self-signed certificate (clients trust it as CA)."""
    pytest.importorskip("cryptography")
    workdir = tmp_path_factory.mktemp("kmsd-tls")
    cert_path, key_path = _self_signed_cert(workdir)
    server = _start_kmsd(workdir, ["--tls-cert", str(cert_path), "--tls-key", str(key_path)])
    assert server.endpoint.scheme == "https", server.endpoint.url
    server.ca = str(cert_path)
    yield server
    _stop_kmsd(server)


@pytest.fixture(scope="session")
def kmsd_gateway(tmp_path_factory) -> KmsServer:
    """A kmsd with the KMS instance gateway on (--instance-listen 127.0.0.1:0): `endpoint` is the
    classic API (plain HTTP, for setup with the Tea SDK), `gateway` the instance API (HTTPS,
    certificate issued by the instance CA of GetKmsInstance's CaCertificateChainPem)."""
    extra = ["--instance-listen", "127.0.0.1:0"]
    for host in GATEWAY_EXTRA_HOSTS:
        extra += ["--instance-host", host]
    server = _start_kmsd(tmp_path_factory.mktemp("kmsd-gateway"), extra, gateway=True)
    assert server.endpoint.scheme == "http", server.endpoint.url
    assert server.gateway.scheme == "https", server.gateway.url
    yield server
    _stop_kmsd(server)


@pytest.fixture
def dev_kmsd(tmp_path_factory) -> KmsServer:
    """A fresh kmsd started with --dev-clock, per test: the job counts it reports are exact."""
    server = _start_kmsd(tmp_path_factory.mktemp("kmsd-dev-clock"), ["--dev-clock"])
    yield server
    _stop_kmsd(server)


@pytest.fixture(scope="module")
def quota_kmsd(tmp_path_factory) -> KmsServer:
    """A kmsd that allows each access key 2 cryptographic calls a second (--quota-crypto-qps)."""
    server = _start_kmsd(tmp_path_factory.mktemp("kmsd-quota"), ["--quota-crypto-qps", "2"])
    yield server
    _stop_kmsd(server)


@pytest.fixture(params=MODES)
def mode(request) -> str:
    return request.param


@pytest.fixture
def kms(kmsd, mode) -> KmsCaller:
    """A client of the mode under test, with the valid bootstrap credentials."""
    return kmsd.client(mode)


@pytest.fixture
def unique() -> str:
    """A short random token for names that must not collide within the session."""
    return uuid.uuid4().hex[:12]
