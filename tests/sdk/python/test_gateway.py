"""The KMS instance gateway (issue 15): kmsd with --instance-listen, driven by the official KMS
instance SDK (`alibabacloud-dkms-gcs` 1.0.2, `sdk.client.Client`) exactly as an application uses
it: a ClientKey file (`{"KeyId", "PrivateKeyData"}`) + its password, the instance CA from
GetKmsInstance's `CaCertificateChainPem` as `ca_file_path`, HTTPS with verification.

Setup goes through the classic API (Tea SDK, `kmsd_gateway.endpoint`): instances, instance keys
and secrets, network rules, policies, application access points and ClientKeys
(docs/design/instances.md §4). Semantics and refusals: docs/design/gateway.md §3, §4, §7, §9, §10.

* every one of the SDK's 15 operations, with results checked independently (`cryptography`,
  the classic API, the Advance ciphertext layout byte for byte);
* the certificate: issuer, SANs, `openssl verify -x509_strict`, and that verification is real;
* every refusal of the issue, each through the SDK (code and HTTP status), each changing nothing;
  tampered requests made with the SDK's own signer and sent with `requests`;
* the audit trail.

The SDK has no `hmac` method (gateway.md §1), so Hmac is not tested here.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import hashlib
import ipaddress
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest
import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
# the official KMS instance SDK (alibabacloud-dkms-gcs 1.0.2)
from openapi.models import Config as DkmsConfig
from openapi_credential.client import Client as DkmsCredential
from openapi_credential.models import Config as DkmsCredentialConfig
from openapi_util.client import Client as DkmsUtil
from openapi_util.models import RuntimeOptions as DkmsRuntimeOptions
from openapi_util.protobuf import api_pb2
from sdk import models as gcs
from sdk.client import Client as DkmsClient
from Tea.exceptions import TeaException

import alibabacloud_tea_util.client
from helpers import DATE_RE, GATEWAY_EXTRA_HOSTS, b64, unb64

# the instance SDK loads PKCS#12 through pyOpenSSL's deprecated API
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:openapi_util.client")

KEY_USER = "RbacPermission/Template/CryptoServiceKeyUser"
SECRET_USER = "RbacPermission/Template/CryptoServiceSecretUser"
ADVANCE_PREFIX = b"$\x00\x02"  # '$', cipher version 0 / no padding, AES-GCM (gateway.md §7)
API_VERSION = "dkms-gcs-0.2"


# ---- the world: instances, keys, a secret and applications, made through the classic API ----

@dataclass
class App:
    """An application: its ClientKey file content, password and the SDK client built from them."""
    aap: str
    key: dict  # {"KeyId": ClientKeyId, "PrivateKeyData": base64 PKCS#12}
    password: str
    client: DkmsClient

    @property
    def id(self) -> str:
        return self.key["KeyId"]

    @property
    def content(self) -> str:
        return json.dumps(self.key)


@dataclass
class World:
    server: object
    tea: object  # classic API, tea-v3
    ca_path: str
    ca_pem: str
    instance: str
    other_instance: str
    unique: str
    keys: dict = field(default_factory=dict)  # name -> KeyMetadata
    secret: str = ""
    secret_v1: str = ""
    rule: str = ""
    app: Optional[App] = None

    @property
    def host_port(self) -> str:
        return self.server.gateway.host_port

    @property
    def port(self) -> int:
        return int(self.host_port.rsplit(":", 1)[1])

    def key(self, name: str) -> str:
        return self.keys[name]["KeyId"]

    def client(self, key: dict, password: str, endpoint: Optional[str] = None,
               ca_path: Optional[str] = None) -> DkmsClient:
        """The SDK client an application builds (sdk.client.Client over openapi.models.Config)."""
        return DkmsClient(DkmsConfig(endpoint=endpoint or self.host_port, protocol="https",
                                     ca_file_path=ca_path or self.ca_path,
                                     client_key_content=json.dumps(key), password=password))

    def new_app(self, name: str, permissions: list, resources: list, rules: list,
                kms_instance: Optional[str] = None, **client_key_params) -> App:
        """A policy + AAP + ClientKey, as Terraform's alicloud_kms_{policy,application_access_point,client_key}."""
        policy = f"{name}-pol"
        self.tea.call("CreatePolicy", {"Name": policy, "KmsInstance": kms_instance or self.instance,
                                       "Permissions": json.dumps(permissions), "Resources": json.dumps(resources),
                                       "AccessControlRules": json.dumps({"NetworkRules": rules})})
        self.tea.call("CreateApplicationAccessPoint", {"Name": name, "Policies": json.dumps([policy]),
                                                       "AuthenticationMethod": "ClientKey"})
        return self.new_client_key(name, **client_key_params)

    def new_client_key(self, aap: str, **params) -> App:
        password = f"Gw-{uuid.uuid4().hex[:16]}"
        made = self.tea.call("CreateClientKey", {"AapName": aap, "Password": password, **params})
        key = {"KeyId": made["ClientKeyId"], "PrivateKeyData": made["PrivateKeyData"]}
        return App(aap, key, password, self.client(key, password))

    def state(self) -> tuple:
        """What a refused request must not change: ClientKeys, AAPs, key states, the secret."""
        client_keys = sorted(k["ClientKeyId"] for k in self.tea.call("ListClientKeys", {})["ClientKeys"])
        aaps = sorted(a["Name"] for a in self.tea.call("ListApplicationAccessPoints", {"PageSize": 100})
                      ["ApplicationAccessPoints"]["ApplicationAccessPoint"])
        keys = tuple((n, self.tea.call("DescribeKey", {"KeyId": md["KeyId"]})["KeyMetadata"]["KeyState"])
                     for n, md in sorted(self.keys.items()))
        secret = self.tea.call("GetSecretValue", {"SecretName": self.secret})
        return client_keys, aaps, keys, (secret["VersionId"], secret["SecretData"])


def connected_instance(tea, server) -> str:
    instance_id = server.admin("create", "--vpc-num", "3", group="instance").splitlines()[0]
    assert instance_id.startswith("kst-"), instance_id
    tea.call("ConnectKmsInstance", {"KmsInstanceId": instance_id, "KMProvider": "Aliyun", "VpcId": "vpc-gw",
                                    "ZoneIds": "cn-hangzhou-k,cn-hangzhou-j", "VSwitchIds": "vsw-k,vsw-j"})
    deadline = time.monotonic() + 30
    while (status := tea.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]["Status"]) != "Connected":
        assert status != "Error" and time.monotonic() < deadline, status
        time.sleep(0.2)
    return instance_id


def instance_key(tea, instance_id: str, **params) -> dict:
    md = tea.call("CreateKey", {"DKMSInstanceId": instance_id, **params})["KeyMetadata"]
    assert md.get("DKMSInstanceId") == instance_id, md
    return md


@pytest.fixture(scope="module")
def world(kmsd_gateway, tmp_path_factory) -> World:
    return build_world(kmsd_gateway, tmp_path_factory.mktemp("gateway-ca"))


def build_world(server, ca_dir: Path) -> World:
    tea = server.client("tea-v3")
    unique = uuid.uuid4().hex[:10]
    instance = connected_instance(tea, server)
    other_instance = connected_instance(tea, server)
    ca_pem = tea.call("GetKmsInstance", {"KmsInstanceId": instance})["KmsInstance"]["CaCertificateChainPem"]
    assert ca_pem.startswith("-----BEGIN CERTIFICATE-----"), ca_pem
    # one deployment CA for every instance
    assert tea.call("GetKmsInstance", {"KmsInstanceId": other_instance})["KmsInstance"]["CaCertificateChainPem"] == ca_pem
    ca_path = ca_dir / f"PrivateKmsCA_{instance}.pem"
    ca_path.write_text(ca_pem)

    w = World(server, tea, str(ca_path), ca_pem, instance, other_instance, unique)
    w.keys = {
        "aes": instance_key(tea, instance),
        "rotating": instance_key(tea, instance),
        "disabled": instance_key(tea, instance),
        "rsa_sign": instance_key(tea, instance, KeySpec="RSA_2048", KeyUsage="SIGN/VERIFY"),
        "ec_sign": instance_key(tea, instance, KeySpec="EC_P256", KeyUsage="SIGN/VERIFY"),
        "rsa_enc": instance_key(tea, instance, KeySpec="RSA_2048", KeyUsage="ENCRYPT/DECRYPT"),
        "other_instance": instance_key(tea, other_instance),
        "hmac": instance_key(tea, instance, KeySpec="HMAC_SHA_256"),
        "hmac_sm3": instance_key(tea, instance, KeySpec="HMAC_SM3"),
    }
    w.keys["default"] = tea.call("CreateKey", {})["KeyMetadata"]  # a default (non-instance) key
    assert not w.keys["default"].get("DKMSInstanceId"), w.keys["default"]

    w.secret = f"gw/db-{unique}"
    w.secret_v1 = f"s3cr3t-{uuid.uuid4().hex}"
    made = tea.call("CreateSecret", {"SecretName": w.secret, "VersionId": "v1", "SecretData": w.secret_v1,
                                     "DKMSInstanceId": instance, "EncryptionKeyId": w.key("aes")})
    assert made["SecretName"] == w.secret

    w.rule = f"gw-local-{unique}"
    tea.call("CreateNetworkRule", {"Name": w.rule, "Type": "Private", "SourcePrivateIp": json.dumps(["127.0.0.1"])})
    w.app = w.new_app(f"gw-app-{unique}", [KEY_USER, SECRET_USER], ["key/*", "secret/*"], [w.rule])
    return w


def dedicated_runtime(response_headers: list) -> DkmsRuntimeOptions:
    return DkmsRuntimeOptions(response_headers=response_headers)


def refused(call, code: str, status: int, message: Optional[str] = None) -> TeaException:
    """The SDK raised the gateway's protobuf Error: ErrorCode as .code, HTTP status as data.httpCode."""
    with pytest.raises(TeaException) as info:
        call()
    e = info.value
    got = (e.code, (e.data or {}).get("httpCode") if isinstance(e.data, dict) else None)
    assert got == (code, status), f"expected {code} {status}, got {got}: {e}"
    assert e.data.get("requestId"), f"no RequestId in the Error body: {e}"
    assert isinstance(e.message, str) and e.message, e
    if message is not None:
        assert e.message == message, e
    return e


# ---- start-up and TLS -----------------------------------------------------------------------

def _leaf(port: int) -> x509.Certificate:
    import ssl
    # no verification here: this reads what is served (no SNI for an IP, like the SDK)
    return x509.load_pem_x509_certificate(ssl.get_server_certificate(("127.0.0.1", port)).encode())


def _sans(cert: x509.Certificate) -> tuple[set, set]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(san.get_values_for_type(x509.DNSName)), {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}


def test_gateway_certificate(world, tmp_path):
    gateway = world.server.gateway
    assert gateway.url == f"https://127.0.0.1:{world.port}", gateway.url
    assert world.server.endpoint.url != gateway.url

    ca = x509.load_pem_x509_certificate(world.ca_pem.encode())
    names = {f"{i}.cryptoservice.kms.aliyuncs.com" for i in (world.instance, world.other_instance)}
    extra_dns = {h for h in GATEWAY_EXTRA_HOSTS if not _is_ip(h)}
    extra_ips = {h for h in GATEWAY_EXTRA_HOSTS if _is_ip(h)}
    leaf = wait_for_names(world, names)
    dns, ips = _sans(leaf)
    assert names | {"localhost"} | extra_dns <= dns, f"DNS SANs {dns}"
    assert {"127.0.0.1"} | extra_ips <= ips, f"IP SANs {ips}"
    assert "127.0.0.1" not in dns  # an IP only counts as an IP SAN (gateway.md §3)

    # issued by the instance CA: issuer name, signature, key identifiers
    assert leaf.issuer == ca.subject, (leaf.issuer, ca.subject)
    assert leaf.subject != ca.subject
    ca_key = ca.public_key()
    if isinstance(ca_key, ec.EllipticCurvePublicKey):
        ca_key.verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
    else:
        ca_key.verify(leaf.signature, leaf.tbs_certificate_bytes, padding.PKCS1v15(), leaf.signature_hash_algorithm)
    basic = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca is False
    assert ExtendedKeyUsageOID.SERVER_AUTH in leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    now = datetime.datetime.now(datetime.timezone.utc)
    utc = datetime.timezone.utc
    start = getattr(leaf, "not_valid_before_utc", None) or leaf.not_valid_before.replace(tzinfo=utc)
    end = getattr(leaf, "not_valid_after_utc", None) or leaf.not_valid_after.replace(tzinfo=utc)
    assert start <= now < end, (start, end)

    # what Python 3.13's default context (VERIFY_X509_STRICT) insists on: AKI in the leaf, SKI in the CA
    leaf_path = tmp_path / "leaf.pem"
    leaf_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", world.ca_path,
                          str(leaf_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip().endswith(": OK"), (out.stdout, out.stderr)
    for host in ["localhost", "127.0.0.1", *names, *GATEWAY_EXTRA_HOSTS]:
        flag = "-verify_ip" if _is_ip(host) else "-verify_hostname"
        out = subprocess.run(["openssl", "verify", "-x509_strict", flag, host, "-CAfile", world.ca_path,
                              str(leaf_path)], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, (host, out.stdout, out.stderr)
    out = subprocess.run(["openssl", "verify", "-verify_hostname", "kst-hzz000000000000000000.cryptoservice.kms.aliyuncs.com",
                          "-CAfile", world.ca_path, str(leaf_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, "the certificate names an instance that does not exist"


def wait_for_names(world, names: set) -> x509.Certificate:
    """The leaf is re-issued when instances connect (each node reads the store every few
    seconds): waits until several fresh connections in a row (any node of a cluster) present
    all `names`; returns the last leaf."""
    deadline = time.monotonic() + 20
    in_a_row = 0
    while in_a_row < 6:
        leaf = _leaf(world.port)
        dns, _ = _sans(leaf)
        in_a_row = in_a_row + 1 if names <= dns else 0
        assert in_a_row or time.monotonic() < deadline, f"the gateway certificate never named {names - dns}"
        if not in_a_row:
            time.sleep(0.25)
    return leaf


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def test_names_in_the_certificate_work_with_the_sdk(world, monkeypatch):
    """The SDK verifies the hostname: localhost, the instance's own name (SNI sent), an
    --instance-host name; the last two resolved to 127.0.0.1 here as DNS would in a VPC."""
    mapped = {f"{world.instance}.cryptoservice.kms.aliyuncs.com", "gw.kmsd.test"}
    wait_for_names(world, mapped)
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host in mapped else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for host in ["localhost", *sorted(mapped)]:
        client = world.client(world.app.key, world.app.password, endpoint=f"{host}:{world.port}")
        enc = client.encrypt(gcs.EncryptRequest(key_id=world.key("aes"), plaintext=f"via {host}".encode()))
        dec = client.decrypt(gcs.DecryptRequest(key_id=world.key("aes"), ciphertext_blob=enc.ciphertext_blob,
                                                iv=enc.iv))
        assert dec.plaintext == f"via {host}".encode()


_TLS_PROBE = r"""
import json, os, sys, warnings
warnings.simplefilter("ignore")
from openapi.models import Config
from openapi_util.models import RuntimeOptions
from sdk.client import Client
from sdk.models import GenerateRandomRequest
config = Config(endpoint=sys.argv[1], protocol="https", client_key_content=os.environ["GW_CLIENT_KEY"],
                password=os.environ["GW_PASSWORD"])
if len(sys.argv) > 2:
    config.ca_file_path = sys.argv[2]
try:
    got = Client(config).generate_random_with_options(GenerateRandomRequest(length=16), RuntimeOptions(autoretry=False))
    print(json.dumps({"ok": len(got.random)}))
except Exception as e:
    print(json.dumps({"error": type(e).__name__, "text": str(e)}))
"""


def test_tls_verification_is_real(world, tmp_path):
    """A client that does not trust the instance CA refuses the gateway. Each probe is a fresh
    process: the SDK pools one connection per host:port for the whole process (gateway.md §3)."""
    other_ca = tmp_path / "other-ca.pem"  # a CA that did not issue the gateway's certificate
    other_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the instance CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    other_ca.write_bytes(
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(other_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(other_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    env = dict(os.environ, GW_CLIENT_KEY=world.app.content, GW_PASSWORD=world.app.password)
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("SSL_CERT_FILE", None)

    def probe(*args) -> dict:
        out = subprocess.run([sys.executable, "-c", _TLS_PROBE, world.host_port, *args], capture_output=True,
                             text=True, env=env, timeout=120, cwd=str(tmp_path))
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    for args in ((), (str(other_ca),)):  # the system roots; another CA
        got = probe(*args)
        assert "error" in got and "CERTIFICATE_VERIFY_FAILED" in got["text"], got
    assert probe(world.ca_path) == {"ok": 16}


def test_client_key_file(world, tmp_path):
    """The file the console (and Terraform's private_key_data_file) writes, as `client_key_file`."""
    path = tmp_path / f"clientKey_{world.app.id}.json"
    path.write_text(world.app.content)
    client = DkmsClient(DkmsConfig(endpoint=world.host_port, protocol="https", ca_file_path=world.ca_path,
                                   client_key_file=str(path), password=world.app.password))
    assert len(client.generate_random(gcs.GenerateRandomRequest(length=12)).random) == 12
    got = client.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret))
    assert got.secret_data == world.secret_v1


# ---- symmetric: Encrypt / Decrypt / GenerateDataKey ---------------------------------------

def test_encrypt_decrypt(world):
    app, key = world.app.client, world.key("aes")
    plaintext = b"hello gateway \x00\xff" + os.urandom(100)
    enc = app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=plaintext))
    assert enc.key_id == key
    assert enc.algorithm == "AES_GCM"
    assert len(enc.iv) == 12, enc.iv
    assert len(enc.ciphertext_blob) == len(plaintext) + 16  # ct || tag, no header
    assert enc.request_id
    dec = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=enc.iv))
    assert dec.plaintext == plaintext
    assert dec.key_id == key and dec.request_id
    # a server-made IV is fresh every time
    again = app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=plaintext))
    assert again.iv != enc.iv and again.ciphertext_blob != enc.ciphertext_blob

    # the caller's IV and AAD, the explicit algorithm
    iv, aad = os.urandom(12), b"tenant=a;purpose=test"
    enc = app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=plaintext, aad=aad, iv=iv, algorithm="AES_GCM"))
    assert enc.iv == iv
    assert len(enc.ciphertext_blob) == len(plaintext) + 16
    dec = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=iv, aad=aad,
                                         algorithm="AES_GCM"))
    assert dec.plaintext == plaintext

    # wrong AAD, no AAD, wrong IV, a flipped byte: InvalidParameter, and nothing leaks
    for request in (gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=iv, aad=aad + b"!"),
                    gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=iv),
                    gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=os.urandom(12), aad=aad),
                    gcs.DecryptRequest(key_id=key, ciphertext_blob=bytes([enc.ciphertext_blob[0] ^ 1]) +
                                       enc.ciphertext_blob[1:], iv=iv, aad=aad)):
        refused(lambda: app.decrypt(request), "InvalidParameter", 400)
    # a key the ciphertext was not made with
    refused(lambda: app.decrypt(gcs.DecryptRequest(key_id=world.key("rotating"), ciphertext_blob=enc.ciphertext_blob,
                                                   iv=iv, aad=aad)), "InvalidParameter", 400)
    # GCM only (software keys); 12-byte IVs only
    for algorithm, padding_mode in (("AES_CBC", None), ("AES_ECB", None), ("AES_GCM", "PKCS7_PADDING")):
        refused(lambda: app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=b"x", algorithm=algorithm,
                                                       padding_mode=padding_mode)), "UnsupportedOperation", 400)
    refused(lambda: app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=b"x", iv=os.urandom(16))),
            "InvalidParameter", 400)


def test_alias(world):
    """A KeyId may be an alias: the answer names the key, the policy is matched on the key."""
    alias = f"alias/gw-{world.unique}"
    world.tea.call("CreateAlias", {"AliasName": alias, "KeyId": world.key("aes")})
    app = world.app.client
    enc = app.encrypt(gcs.EncryptRequest(key_id=alias, plaintext=b"by alias"))
    assert enc.key_id == world.key("aes")
    assert app.decrypt(gcs.DecryptRequest(key_id=world.key("aes"), ciphertext_blob=enc.ciphertext_blob,
                                          iv=enc.iv)).plaintext == b"by alias"
    assert app.decrypt(gcs.DecryptRequest(key_id=alias, ciphertext_blob=enc.ciphertext_blob,
                                          iv=enc.iv)).plaintext == b"by alias"
    refused(lambda: app.encrypt(gcs.EncryptRequest(key_id=f"alias/gw-none-{world.unique}", plaintext=b"x")),
            "Forbidden.AliasNotFound", 404)


def test_generate_data_key(world):
    app, key = world.app.client, world.key("aes")
    made = app.generate_data_key(gcs.GenerateDataKeyRequest(key_id=key))
    assert len(made.plaintext) == 32  # default NumberOfBytes
    assert len(made.iv) == 12 and len(made.ciphertext_blob) == 32 + 16
    assert made.key_id == key and made.request_id
    dec = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=made.ciphertext_blob, iv=made.iv))
    assert dec.plaintext == made.plaintext

    aad = b"data key of file 7"
    made = app.generate_data_key(gcs.GenerateDataKeyRequest(key_id=key, number_of_bytes=16, aad=aad))
    assert len(made.plaintext) == 16 and len(made.ciphertext_blob) == 16 + 16
    dec = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=made.ciphertext_blob, iv=made.iv, aad=aad))
    assert dec.plaintext == made.plaintext
    refused(lambda: app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=made.ciphertext_blob, iv=made.iv)),
            "InvalidParameter", 400)

    # Advance: the blob names the primary version; AdvanceDecrypt gives the data key back
    primary = world.keys["aes"]["PrimaryKeyVersion"]
    adv = app.advance_generate_data_key(gcs.AdvanceGenerateDataKeyRequest(key_id=key, number_of_bytes=24, aad=aad))
    assert len(adv.plaintext) == 24 and adv.key_version_id == primary and adv.key_id == key
    check_advance_blob(adv.ciphertext_blob, primary, adv.iv, 24)
    back = app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=adv.ciphertext_blob, aad=aad))
    assert (back.plaintext, back.key_id, back.key_version_id) == (adv.plaintext, key, primary)
    adv = app.advance_generate_data_key(gcs.AdvanceGenerateDataKeyRequest(key_id=key))
    assert len(adv.plaintext) == 32
    check_advance_blob(adv.ciphertext_blob, primary, adv.iv, 32)


def check_advance_blob(blob: bytes, version: str, iv: bytes, plaintext_len: int) -> None:
    """'$' 0x00 0x02 || KeyVersionId (36 ASCII) || IV (12) || ct || tag (16) (gateway.md §7)."""
    assert blob[:3] == ADVANCE_PREFIX, blob[:3]
    assert blob[3:39] == version.encode("ascii"), blob[3:39]
    assert blob[39:51] == iv and len(iv) == 12
    assert len(blob) == 51 + plaintext_len + 16, len(blob)


def test_advance_encrypt_decrypt(world):
    app, key = world.app.client, world.key("aes")
    primary = world.keys["aes"]["PrimaryKeyVersion"]
    plaintext = b"advance plaintext"
    adv = app.advance_encrypt(gcs.AdvanceEncryptRequest(key_id=key, plaintext=plaintext))
    assert (adv.key_id, adv.key_version_id, adv.algorithm) == (key, primary, "AES_GCM")
    check_advance_blob(adv.ciphertext_blob, primary, adv.iv, len(plaintext))
    back = app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=adv.ciphertext_blob))
    assert (back.plaintext, back.key_id, back.key_version_id) == (plaintext, key, primary)

    # bytes 3.. are kmsd's classic CiphertextBlob: the classic Decrypt opens it (no AAD used;
    # classic Plaintext is base64 of the bytes)
    classic = world.tea.call("Decrypt", {"CiphertextBlob": b64(adv.ciphertext_blob[3:])})
    assert (unb64(classic["Plaintext"]), classic["KeyId"], classic["KeyVersionId"]) == (plaintext, key, primary)

    aad = b"advance aad"
    adv = app.advance_encrypt(gcs.AdvanceEncryptRequest(key_id=key, plaintext=plaintext, aad=aad))
    check_advance_blob(adv.ciphertext_blob, primary, adv.iv, len(plaintext))
    assert app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=adv.ciphertext_blob, aad=aad)).plaintext \
        == plaintext
    refused(lambda: app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=adv.ciphertext_blob, aad=b"other")),
            "InvalidParameter", 400)
    refused(lambda: app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=adv.ciphertext_blob)),
            "InvalidParameter", 400)
    tampered = bytearray(adv.ciphertext_blob)
    tampered[-1] ^= 1
    refused(lambda: app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=bytes(tampered), aad=aad)),
            "InvalidParameter", 400)


def test_rotation(world):
    """Encrypt/GenerateDataKey use the key's initial version, the Advance family the primary one;
    old ciphertexts of both kinds decrypt after CreateKeyVersion."""
    app, key = world.app.client, world.key("rotating")
    first = world.keys["rotating"]["PrimaryKeyVersion"]
    old = app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=b"before"))
    old_adv = app.advance_encrypt(gcs.AdvanceEncryptRequest(key_id=key, plaintext=b"before advance"))
    assert old_adv.key_version_id == first

    second = world.tea.call("CreateKeyVersion", {"KeyId": key})["KeyVersion"]["KeyVersionId"]
    assert second != first
    assert world.tea.call("DescribeKey", {"KeyId": key})["KeyMetadata"]["PrimaryKeyVersion"] == second

    assert app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=old.ciphertext_blob, iv=old.iv)).plaintext \
        == b"before"
    back = app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=old_adv.ciphertext_blob))
    assert (back.plaintext, back.key_version_id) == (b"before advance", first)

    new = app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=b"after"))
    assert app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=new.ciphertext_blob, iv=new.iv)).plaintext \
        == b"after"
    # the version used, as the transfer client reads it (x-kms-migrationkeyversionid, gateway.md §0.6):
    # the initial one for Encrypt, the primary one for AdvanceEncrypt
    wanted = dedicated_runtime(["x-kms-migrationkeyversionid"])
    got = app.encrypt_with_options(gcs.EncryptRequest(key_id=key, plaintext=b"after"), wanted)
    assert got.response_headers.get("x-kms-migrationkeyversionid") == first, got.response_headers
    got = app.advance_encrypt_with_options(gcs.AdvanceEncryptRequest(key_id=key, plaintext=b"after"), wanted)
    assert got.response_headers.get("x-kms-migrationkeyversionid") == second, got.response_headers
    # the transfer client's low-version Decrypt: no KeyId, the version in a signed request header
    by_header = app.decrypt(gcs.DecryptRequest(ciphertext_blob=old.ciphertext_blob, iv=old.iv,
                                               request_headers={"x-kms-migrationkeyversionid": first}))
    assert (by_header.plaintext, by_header.key_id) == (b"before", key)
    refused(lambda: app.decrypt(gcs.DecryptRequest(ciphertext_blob=old.ciphertext_blob, iv=old.iv,
                                                   request_headers={"x-kms-migrationkeyversionid": second})),
            "InvalidParameter", 400)

    # still the initial version: with it in front, the classic Decrypt opens the new ciphertext
    classic = world.tea.call("Decrypt", {"CiphertextBlob": b64(first.encode() + new.iv + new.ciphertext_blob)})
    assert (unb64(classic["Plaintext"]), classic["KeyVersionId"]) == (b"after", first)
    made = app.generate_data_key(gcs.GenerateDataKeyRequest(key_id=key, number_of_bytes=32))
    assert app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=made.ciphertext_blob, iv=made.iv)).plaintext \
        == made.plaintext

    new_adv = app.advance_encrypt(gcs.AdvanceEncryptRequest(key_id=key, plaintext=b"after advance"))
    assert new_adv.key_version_id == second
    check_advance_blob(new_adv.ciphertext_blob, second, new_adv.iv, len(b"after advance"))
    back = app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=new_adv.ciphertext_blob))
    assert (back.plaintext, back.key_id, back.key_version_id) == (b"after advance", key, second)
    adv_dk = app.advance_generate_data_key(gcs.AdvanceGenerateDataKeyRequest(key_id=key))
    assert adv_dk.key_version_id == second
    check_advance_blob(adv_dk.ciphertext_blob, second, adv_dk.iv, 32)


# ---- data key pairs ----------------------------------------------------------------------------

PAIR_OPS = {
    "GenerateDataKeyPair": (gcs.GenerateDataKeyPairRequest, "generate_data_key_pair", True, False),
    "GenerateDataKeyPairWithoutPlaintext": (gcs.GenerateDataKeyPairWithoutPlaintextRequest,
                                            "generate_data_key_pair_without_plaintext", False, False),
    "AdvanceGenerateDataKeyPair": (gcs.AdvanceGenerateDataKeyPairRequest, "advance_generate_data_key_pair", True, True),
    "AdvanceGenerateDataKeyPairWithoutPlaintext": (gcs.AdvanceGenerateDataKeyPairWithoutPlaintextRequest,
                                                   "advance_generate_data_key_pair_without_plaintext", False, True),
}


def _load_public(data: bytes, fmt: str):
    if fmt == "PEM":
        assert data.startswith(b"-----BEGIN PUBLIC KEY-----"), data[:40]
        return serialization.load_pem_public_key(data)
    assert data[:1] == b"\x30", data[:8]
    return serialization.load_der_public_key(data)


def _load_private(data: bytes, fmt: str):
    if fmt == "PEM":
        assert data.startswith(b"-----BEGIN PRIVATE KEY-----"), data[:40]  # PKCS#8
        return serialization.load_pem_private_key(data, None)
    # PKCS#8 PrivateKeyInfo: SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }
    # (PKCS#1 has an INTEGER second, SEC1 an OCTET STRING)
    tag, length, at = _der(data, 0)
    assert tag == 0x30 and at + length == len(data), "not one DER SEQUENCE"
    tag, length, at = _der(data, at)
    assert tag == 0x02 and data[at:at + length] in (b"\x00", b"\x01"), "no PKCS#8 version"
    assert _der(data, at + length)[0] == 0x30, "not PKCS#8 (no AlgorithmIdentifier)"
    return serialization.load_der_private_key(data, None)


def _der(buf: bytes, at: int) -> tuple[int, int, int]:
    """(tag, length, offset of the contents) of the DER element at `at`."""
    tag, first = buf[at], buf[at + 1]
    at += 2
    if first & 0x80:
        count = first & 0x7F
        return tag, int.from_bytes(buf[at:at + count], "big"), at + count
    return tag, first, at


def _check_pair(private, public, spec: str) -> None:
    assert private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) == \
        public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    message = b"signed with a generated key pair"
    if spec.startswith("RSA"):
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == int(spec[4:])
        signature = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    else:
        curve = {"EC_P256": ec.SECP256R1, "EC_P256K": ec.SECP256K1}[spec]
        assert isinstance(public, ec.EllipticCurvePublicKey) and isinstance(public.curve, curve)
        signature = private.sign(message, ec.ECDSA(hashes.SHA256()))
        public.verify(signature, message, ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("op", list(PAIR_OPS))
@pytest.mark.parametrize("spec,fmt", [("RSA_2048", "PEM"), ("EC_P256", "DER"), ("EC_P256", None),
                                      ("RSA_3072", "DER"), ("EC_P256K", "PEM")])
def test_data_key_pairs(world, op, spec, fmt):
    model, method, with_plaintext, advance = PAIR_OPS[op]
    app, key = world.app.client, world.key("aes")
    primary = world.keys["aes"]["PrimaryKeyVersion"]
    aad = f"{op} {spec}".encode()
    params = {"key_id": key, "key_pair_spec": spec, "aad": aad}
    if fmt is not None:
        params["key_format"] = fmt
    fmt = fmt or "PEM"  # the default
    made = getattr(app, method)(model(**params))
    assert (made.key_id, made.key_pair_spec) == (key, spec)
    assert made.request_id
    public = _load_public(made.public_key, fmt)

    if advance:
        assert made.key_version_id == primary
        assert made.private_key_ciphertext_blob[:3] == ADVANCE_PREFIX
        assert made.private_key_ciphertext_blob[3:39] == primary.encode()
        opened = app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=made.private_key_ciphertext_blob,
                                                               aad=aad))
        assert opened.key_version_id == primary
    else:
        assert len(made.iv) == 12
        opened = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=made.private_key_ciphertext_blob,
                                                iv=made.iv, aad=aad))
    assert opened.key_id == key
    if with_plaintext:
        assert opened.plaintext == made.private_key_plaintext
    else:
        assert not getattr(made, "private_key_plaintext", None)
    _check_pair(_load_private(opened.plaintext, fmt), public, spec)


def test_data_key_pair_sm2_and_refusals(world):
    app, key = world.app.client, world.key("aes")
    made = app.generate_data_key_pair(gcs.GenerateDataKeyPairRequest(key_id=key, key_pair_spec="EC_SM2",
                                                                     key_format="PEM"))
    assert made.key_pair_spec == "EC_SM2"
    assert made.public_key.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert made.private_key_plaintext.startswith(b"-----BEGIN PRIVATE KEY-----")
    opened = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=made.private_key_ciphertext_blob, iv=made.iv))
    assert opened.plaintext == made.private_key_plaintext
    for spec, fmt in (("RSA_1024", "PEM"), ("EC_P384", "PEM"), ("RSA_2048", "JWK")):
        refused(lambda: app.generate_data_key_pair(gcs.GenerateDataKeyPairRequest(
            key_id=key, key_pair_spec=spec, key_format=fmt)), "InvalidParameter", 400)


# ---- asymmetric keys ---------------------------------------------------------------------------

SIGNING = [("rsa_sign", "RSA_PSS_SHA_256"), ("rsa_sign", "RSA_PKCS1_SHA_256"), ("ec_sign", "ECDSA_SHA_256")]


def _verify_locally(pem: str, algorithm: str, signature: bytes, digest: bytes) -> None:
    public = serialization.load_pem_public_key(pem.encode())
    prehashed = utils.Prehashed(hashes.SHA256())
    if algorithm == "ECDSA_SHA_256":
        public.verify(signature, digest, ec.ECDSA(prehashed))  # DER (r, s)
    else:
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) \
            if algorithm == "RSA_PSS_SHA_256" else padding.PKCS1v15()
        public.verify(signature, digest, pad, prehashed)


@pytest.mark.parametrize("name,algorithm", SIGNING)
def test_sign_verify(world, name, algorithm):
    app, key = world.app.client, world.key(name)
    got = app.get_public_key(gcs.GetPublicKeyRequest(key_id=key))
    assert got.key_id == key and got.request_id
    assert got.public_key.startswith("-----BEGIN PUBLIC KEY-----"), got.public_key
    classic = world.tea.call("GetPublicKey", {"KeyId": key, "KeyVersionId": world.keys[name]["PrimaryKeyVersion"]})
    assert serialization.load_pem_public_key(got.public_key.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        serialization.load_pem_public_key(classic["PublicKey"].encode()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    message = f"signed through the gateway with {algorithm}".encode()
    digest = hashlib.sha256(message).digest()
    raw_default = app.sign(gcs.SignRequest(key_id=key, algorithm=algorithm, message=message))
    raw = app.sign(gcs.SignRequest(key_id=key, algorithm=algorithm, message=message, message_type="RAW"))
    by_digest = app.sign(gcs.SignRequest(key_id=key, algorithm=algorithm, message=digest, message_type="DIGEST"))
    for signed in (raw_default, raw, by_digest):
        assert (signed.key_id, signed.algorithm) == (key, algorithm)
        _verify_locally(got.public_key, algorithm, signed.signature, digest)
        with pytest.raises(InvalidSignature):
            _verify_locally(got.public_key, algorithm, signed.signature, hashlib.sha256(message + b"!").digest())

    for signed in (raw, by_digest):
        ok = app.verify(gcs.VerifyRequest(key_id=key, algorithm=algorithm, message=message, message_type="RAW",
                                          signature=signed.signature))
        assert ok.value is True and ok.key_id == key
        ok = app.verify(gcs.VerifyRequest(key_id=key, algorithm=algorithm, message=digest, message_type="DIGEST",
                                          signature=signed.signature))
        assert ok.value is True
    flipped = bytearray(raw.signature)
    flipped[len(flipped) // 2] ^= 1
    bad = app.verify(gcs.VerifyRequest(key_id=key, algorithm=algorithm, message=message, signature=bytes(flipped)))
    assert bad.value is False  # 200, not an error
    bad = app.verify(gcs.VerifyRequest(key_id=key, algorithm=algorithm, message=message + b"!",
                                       signature=raw.signature))
    assert bad.value is False

    # a DIGEST is a SHA-256 digest: 32 bytes
    refused(lambda: app.sign(gcs.SignRequest(key_id=key, algorithm=algorithm, message=digest[:20],
                                             message_type="DIGEST")), "InvalidParameter", 400)


def test_asymmetric_encrypt_decrypt(world):
    app, key = world.app.client, world.key("rsa_enc")
    plaintext = b"rsa through the gateway"
    enc = app.encrypt(gcs.EncryptRequest(key_id=key, plaintext=plaintext, algorithm="RSAES_OAEP_SHA_256"))
    assert len(enc.ciphertext_blob) == 256 and not enc.iv
    assert enc.key_id == key
    dec = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, algorithm="RSAES_OAEP_SHA_256"))
    assert dec.plaintext == plaintext and dec.key_id == key

    # a ciphertext made locally with GetPublicKey's key opens on the gateway
    pem = app.get_public_key(gcs.GetPublicKeyRequest(key_id=key)).public_key
    public = serialization.load_pem_public_key(pem.encode())
    local = public.encrypt(b"made locally", padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                         algorithm=hashes.SHA256(), label=None))
    dec = app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=local, algorithm="RSAES_OAEP_SHA_256"))
    assert dec.plaintext == b"made locally"


# ---- GenerateRandom, GetSecretValue -----------------------------------------------------------

def test_generate_random(world):
    app = world.app.client
    assert len(app.generate_random(gcs.GenerateRandomRequest()).random) == 32
    assert len(app.generate_random(gcs.GenerateRandomRequest(length=0)).random) == 32
    seen = set()
    for length in (1, 16, 33, 1024):
        got = app.generate_random(gcs.GenerateRandomRequest(length=length))
        assert len(got.random) == length and got.request_id
        seen.add(got.random)
    assert len(seen) == 4
    refused(lambda: app.generate_random(gcs.GenerateRandomRequest(length=1025)), "InvalidParameter", 400)
    refused(lambda: app.generate_random(gcs.GenerateRandomRequest(length=-1)), "InvalidParameter", 400)


def _hmac(world, key: str, message: bytes) -> requests.Response:
    """`Hmac` as the instance SDK's request machinery sends it (the SDK defines the messages but
    has no method for this operation): its protobuf body, its signing, the CA from GetKmsInstance."""
    body = api_pb2.HmacRequest(KeyId=key, Message=message).SerializeToString()
    return _post(world, _signed_headers(world, world.app, "Hmac", body), body)


@pytest.mark.parametrize("name,spec,length", [("hmac", "HMAC_SHA_256", 32), ("hmac_sm3", "HMAC_SM3", 32)])
def test_hmac(world, name, spec, length):
    """The gateway's Hmac and the classic GenerateMac/VerifyMac are one key's one MAC."""
    key = world.key(name)
    message = os.urandom(100)
    got = _hmac(world, key, message)
    assert got.status_code == 200, (got.status_code, got.content)
    answer = api_pb2.HmacResponse()
    answer.ParseFromString(got.content)
    assert (answer.KeyId, len(answer.Signature)) == (key, length)
    assert answer.RequestId
    again = api_pb2.HmacResponse()
    again.ParseFromString(_hmac(world, key, message).content)
    assert again.Signature == answer.Signature
    classic = world.tea.call("GenerateMac", {"KeyId": key, "Algorithm": spec, "Message": b64(message)})
    assert unb64(classic["Mac"]) == answer.Signature
    checked = world.tea.call("VerifyMac", {"KeyId": key, "Algorithm": spec, "Message": b64(message),
                                           "Mac": b64(answer.Signature)})
    assert checked["Value"] is True
    other = api_pb2.HmacResponse()
    other.ParseFromString(_hmac(world, key, message + b"!").content)
    assert other.Signature != answer.Signature


def test_hmac_refusals(world):
    before = world.state()
    # a key of another kind, an empty message, a key outside the application's instance
    for key, message, status, code in [(world.key("aes"), b"m", 400, "UnsupportedOperation"),
                                       (world.key("hmac"), b"", 400, "InvalidParameter"),
                                       (world.key("other_instance"), b"m", 404, "Forbidden.KeyNotFound")]:
        got = _hmac(world, key, message)
        error = _error(got)
        assert (got.status_code, error.ErrorCode) == (status, code), (key, got.status_code, error)
        assert error.RequestId
    # an HMAC key refuses the instance API's encryption
    refused(lambda: world.app.client.encrypt(gcs.EncryptRequest(key_id=world.key("hmac"), plaintext=b"x")),
            "UnsupportedOperation", 400)
    assert world.state() == before


def test_get_secret_value(world):
    app = world.app.client
    got = app.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret))
    assert (got.secret_name, got.secret_data, got.secret_data_type, got.secret_type) == \
        (world.secret, world.secret_v1, "text", "Generic")
    assert got.version_id == "v1"
    assert "ACSCurrent" in list(got.version_stages)
    assert DATE_RE.match(got.create_time), got.create_time
    assert got.request_id
    ext = app.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret, fetch_extended_config=True))
    assert ext.secret_data == world.secret_v1
    by_stage = app.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret, version_stage="ACSCurrent"))
    assert by_stage.version_id == "v1"
    by_id = app.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret, version_id="v1"))
    assert by_id.secret_data == world.secret_v1

    # a new version through the classic API: the gateway serves it at once, the old one by stage/id
    name = f"gw/rotating-{world.unique}"
    world.tea.call("CreateSecret", {"SecretName": name, "VersionId": "v1", "SecretData": "one",
                                    "DKMSInstanceId": world.instance, "EncryptionKeyId": world.key("aes")})
    world.tea.call("PutSecretValue", {"SecretName": name, "VersionId": "v2", "SecretData": "two"})
    current = app.get_secret_value(gcs.GetSecretValueRequest(secret_name=name))
    assert (current.secret_data, current.version_id) == ("two", "v2")
    assert "ACSCurrent" in list(current.version_stages)
    previous = app.get_secret_value(gcs.GetSecretValueRequest(secret_name=name, version_stage="ACSPrevious"))
    assert (previous.secret_data, previous.version_id) == ("one", "v1")
    assert "ACSPrevious" in list(previous.version_stages)
    assert app.get_secret_value(gcs.GetSecretValueRequest(secret_name=name, version_id="v1")).secret_data == "one"

    # unknown secret; a default (non-instance) secret (gateway.md §9)
    refused(lambda: app.get_secret_value(gcs.GetSecretValueRequest(secret_name=f"gw/absent-{world.unique}")),
            "Forbidden.ResourceNotFound", 404)
    default_secret = f"gw-default-{world.unique}"
    world.tea.call("CreateSecret", {"SecretName": default_secret, "VersionId": "v1", "SecretData": "not here"})
    refused(lambda: app.get_secret_value(gcs.GetSecretValueRequest(secret_name=default_secret)),
            "Forbidden.ResourceNotFound", 404)


# ---- refusals --------------------------------------------------------------------------------

def _encrypt(client: DkmsClient, key: str, plaintext: bytes = b"x"):
    return client.encrypt(gcs.EncryptRequest(key_id=key, plaintext=plaintext))


def test_unknown_deleted_and_mismatched_client_keys(world):
    before = world.state()
    key = world.key("aes")
    # a KeyId no ClientKey has, with a real private key
    unknown = dict(world.app.key, KeyId=f"KAAP.{uuid.uuid4()}")
    refused(lambda: _encrypt(world.client(unknown, world.app.password), key), "Unauthorized", 401)
    # the right KeyId, another ClientKey's private key
    other = world.new_client_key(world.app.aap)
    assert _encrypt(other.client, key).ciphertext_blob
    forged = {"KeyId": world.app.id, "PrivateKeyData": other.key["PrivateKeyData"]}
    refused(lambda: _encrypt(world.client(forged, other.password), key), "SignatureNotMatch", 401)
    assert world.state()[1:] == before[1:]
    # a deleted ClientKey: the app keeps its file, the operator deleted the key
    world.tea.call("DeleteClientKey", {"ClientKeyId": other.id})
    refused(lambda: _encrypt(other.client, key), "Unauthorized", 401)
    refused(lambda: other.client.generate_random(gcs.GenerateRandomRequest(length=8)), "Unauthorized", 401)
    assert world.state() == before
    assert _encrypt(world.app.client, key).ciphertext_blob  # the others are unaffected


def test_client_key_validity(world):
    before = world.state()
    expired = world.new_client_key(world.app.aap, NotBefore="2020-01-01T00:00:00Z", NotAfter="2021-01-01T00:00:00Z")
    future = world.new_client_key(world.app.aap, NotBefore="2099-01-01T00:00:00Z", NotAfter="2100-01-01T00:00:00Z")
    for app in (expired, future):
        refused(lambda: _encrypt(app.client, world.key("aes")), "Unauthorized", 401)
        refused(lambda: app.client.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret)),
                "Unauthorized", 401)
    for app in (expired, future):
        world.tea.call("DeleteClientKey", {"ClientKeyId": app.id})
    assert world.state() == before


def test_request_time_skew(world, monkeypatch):
    before = world.state()
    app, key = world.app.client, world.key("aes")
    Util = alibabacloud_tea_util.client.Client

    def at(offset_s: int):
        stamp = email.utils.formatdate(time.time() + offset_s, usegmt=True)
        monkeypatch.setattr(Util, "get_date_utcstring", staticmethod(lambda: stamp))

    for offset in (20 * 60, -20 * 60):
        at(offset)
        refused(lambda: _encrypt(app, key), "RequestTimeTooSkewed", 400)
    for offset in (5 * 60, -5 * 60):  # within the 15 minutes
        at(offset)
        assert _encrypt(app, key).ciphertext_blob
    monkeypatch.undo()
    assert world.state() == before


# ---- hand-made requests (the SDK's own signer, sent with requests) ---------------------------

def _signed_headers(world, app: App, api_name: str, body: bytes, api_version: str = API_VERSION,
                    before_signing=None) -> dict:
    headers = {
        "accept": "application/x-protobuf",
        "host": world.host_port,
        "date": email.utils.formatdate(usegmt=True),
        "user-agent": "kmsd-sdk-test",
        "x-kms-apiversion": api_version,
        "x-kms-apiname": api_name,
        "x-kms-signaturemethod": "RSA_PKCS1_SHA_256",
        "x-kms-acccesskeyid": app.id,
        "content-type": "application/x-protobuf",
        "content-sha256": hashlib.sha256(body).hexdigest().upper(),
    }
    if before_signing is not None:
        before_signing(headers)
    credential = DkmsCredential(DkmsCredentialConfig(type="rsa_key_pair", client_key_content=app.content,
                                                     password=app.password))
    headers["authorization"] = credential.get_signature(DkmsUtil.get_string_to_sign("POST", "/", headers, None))
    return headers


def _post(world, headers: dict, body: bytes) -> requests.Response:
    return requests.post(f"{world.server.gateway.url}/", data=body, headers=headers, verify=world.ca_path,
                         timeout=30)


def _error(response: requests.Response) -> api_pb2.Error:
    assert 400 <= response.status_code < 600, response.status_code
    assert response.headers.get("content-type", "").startswith("application/x-protobuf"), response.headers
    error = api_pb2.Error()
    error.ParseFromString(response.content)
    assert error.RequestId, error
    return error


def test_tampered_requests(world):
    before = world.state()
    key = world.key("aes")
    body = api_pb2.EncryptRequest(KeyId=key, Plaintext=b"pay 10 to alice").SerializeToString()
    other = api_pb2.EncryptRequest(KeyId=key, Plaintext=b"pay 99 to mallory").SerializeToString()

    # control: the hand-made request as signed is accepted
    headers = _signed_headers(world, world.app, "Encrypt", body)
    ok = _post(world, headers, body)
    assert ok.status_code == 200, (ok.status_code, ok.content)
    made = api_pb2.EncryptResponse()
    made.ParseFromString(ok.content)
    assert made.KeyId == key and len(made.Iv) == 12
    assert world.app.client.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=made.CiphertextBlob,
                                                       iv=made.Iv)).plaintext == b"pay 10 to alice"

    # another body under the same headers: content-sha256 no longer matches
    got = _post(world, _signed_headers(world, world.app, "Encrypt", body), other)
    error = _error(got)
    assert (got.status_code, error.ErrorCode, error.ErrorMessage) == \
        (400, "InvalidParam", "The Param Content-SHA256 is invalid."), (got.status_code, error)
    # ... and with content-sha256 recomputed: the signature no longer matches
    headers = _signed_headers(world, world.app, "Encrypt", body)
    headers["content-sha256"] = hashlib.sha256(other).hexdigest().upper()
    got = _post(world, headers, other)
    error = _error(got)
    assert (got.status_code, error.ErrorCode) == (401, "SignatureNotMatch"), (got.status_code, error)
    # a signed header changed after signing
    headers = _signed_headers(world, world.app, "Encrypt", body)
    headers["x-kms-apiname"] = "Decrypt"
    got = _post(world, headers, body)
    assert (got.status_code, _error(got).ErrorCode) == (401, "SignatureNotMatch")
    assert world.state() == before


def test_malformed_requests(world):
    """The form checks, with the messages the transfer client maps (gateway.md §8, §9)."""
    before = world.state()
    body = api_pb2.GenerateRandomRequest(Length=8).SerializeToString()

    def send(change) -> tuple:
        headers = _signed_headers(world, world.app, "GenerateRandom", body, before_signing=change)
        got = _post(world, headers, body)
        error = _error(got)
        return got.status_code, error.ErrorCode, error.ErrorMessage

    def without(name):
        return lambda h: h.pop(name)

    assert send(lambda h: h.update(date="yesterday")) == (400, "InvalidParam", "The Param Date is invalid.")
    assert send(without("date")) == (400, "InvalidParam", "The Param Date is invalid.")
    assert send(lambda h: h.update({"x-kms-signaturemethod": "RSA_PSS_SHA_256"})) == \
        (400, "InvalidParam", "The Param x-kms-signaturemethod is invalid.")
    assert send(without("x-kms-acccesskeyid"))[:2] == (400, "MissingParameter")

    headers = _signed_headers(world, world.app, "GenerateRandom", body)
    for authorization in ("", "Bearer", "Bearer !!not base64!!", "Basic " + headers["authorization"][7:],
                          headers["authorization"][7:]):
        got = _post(world, dict(headers, authorization=authorization), body)
        error = _error(got)
        assert (got.status_code, error.ErrorCode, error.ErrorMessage) == \
            (400, "InvalidParam", "The Param Authorization is invalid."), (authorization, got.status_code, error)
    # another ClientKey's signature over the very same request
    other = world.new_client_key(world.app.aap)
    forged = _signed_headers(world, other, "GenerateRandom", body)
    got = _post(world, dict(headers, authorization=forged["authorization"]), body)
    assert (got.status_code, _error(got).ErrorCode) == (401, "SignatureNotMatch")
    world.tea.call("DeleteClientKey", {"ClientKeyId": other.id})
    assert world.state() == before


def test_api_version_and_name(world):
    before = world.state()
    body = api_pb2.GenerateRandomRequest(Length=8).SerializeToString()
    got = _post(world, _signed_headers(world, world.app, "GenerateRandom", body, api_version="dkms-gcs-0.1"), body)
    error = _error(got)
    assert (got.status_code, error.ErrorCode) == (400, "InvalidApiVersion"), (got.status_code, error)
    got = _post(world, _signed_headers(world, world.app, "Bogus", body), body)
    error = _error(got)
    assert (got.status_code, error.ErrorCode) == (400, "InvalidApiName"), (got.status_code, error)
    got = _post(world, _signed_headers(world, world.app, "GenerateRandom", body), body)
    assert got.status_code == 200
    random = api_pb2.GenerateRandomResponse()
    random.ParseFromString(got.content)
    assert len(random.Random) == 8
    assert world.state() == before


# ---- authorisation: instance scope, network rules, templates, resources ---------------------

def test_keys_outside_the_instance(world):
    before = world.state()
    app = world.app.client
    for name in ("other_instance", "default"):
        key = world.key(name)
        refused(lambda: _encrypt(app, key), "Forbidden.KeyNotFound", 404)
        refused(lambda: app.generate_data_key(gcs.GenerateDataKeyRequest(key_id=key)), "Forbidden.KeyNotFound", 404)
        refused(lambda: app.advance_encrypt(gcs.AdvanceEncryptRequest(key_id=key, plaintext=b"x")),
                "Forbidden.KeyNotFound", 404)
    refused(lambda: _encrypt(app, "key-hzz000000000000000000"), "Forbidden.KeyNotFound", 404)
    refused(lambda: _encrypt(app, str(uuid.uuid4())), "Forbidden.KeyNotFound", 404)
    # an Advance ciphertext of the other instance's key (made through the classic API's layout)
    classic = world.tea.call("Encrypt", {"KeyId": world.key("other_instance"), "Plaintext": b64(b"other")})
    blob = ADVANCE_PREFIX + unb64(classic["CiphertextBlob"])
    refused(lambda: app.advance_decrypt(gcs.AdvanceDecryptRequest(ciphertext_blob=blob)), "Forbidden.KeyNotFound", 404)
    assert world.state() == before


def test_source_address_outside_the_network_rules(world):
    rule = f"gw-far-{world.unique}"
    world.tea.call("CreateNetworkRule", {"Name": rule, "Type": "Private", "SourcePrivateIp": json.dumps(["10.0.0.0/8"])})
    far = world.new_app(f"gw-far-{world.unique}", [KEY_USER, SECRET_USER], ["key/*", "secret/*"], [rule])
    before = world.state()
    refused(lambda: _encrypt(far.client, world.key("aes")), "Forbidden.NoPermission", 403)
    refused(lambda: far.client.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret)),
            "Forbidden.NoPermission", 403)
    assert world.state() == before
    # the operator adds the address: allowed at once
    world.tea.call("UpdateNetworkRule", {"Name": rule, "SourcePrivateIp": json.dumps(["10.0.0.0/8", "127.0.0.0/8"])})
    assert _encrypt(far.client, world.key("aes")).ciphertext_blob


def test_policy_templates_and_resources(world):
    secrets_only = world.new_app(f"gw-sec-{world.unique}", [SECRET_USER], ["key/*", "secret/*"], [world.rule])
    keys_only = world.new_app(f"gw-key-{world.unique}", [KEY_USER], ["key/*", "secret/*"], [world.rule])
    elsewhere = world.new_app(f"gw-res-{world.unique}", [KEY_USER, SECRET_USER], ["key/other*", "secret/other*"],
                              [world.rule])
    one_key = world.new_app(f"gw-one-{world.unique}", [KEY_USER], [f"key/{world.key('aes')}"], [world.rule])
    before = world.state()
    key, secret = world.key("aes"), gcs.GetSecretValueRequest(secret_name=world.secret)

    refused(lambda: _encrypt(secrets_only.client, key), "Forbidden.NoPermission", 403)
    refused(lambda: secrets_only.client.sign(gcs.SignRequest(key_id=world.key("ec_sign"), algorithm="ECDSA_SHA_256",
                                                             message=b"m")), "Forbidden.NoPermission", 403)
    assert secrets_only.client.get_secret_value(secret).secret_data == world.secret_v1

    refused(lambda: keys_only.client.get_secret_value(secret), "Forbidden.NoPermission", 403)
    assert _encrypt(keys_only.client, key).ciphertext_blob
    # GenerateRandom needs the key template, no resource
    assert len(keys_only.client.generate_random(gcs.GenerateRandomRequest(length=8)).random) == 8
    refused(lambda: secrets_only.client.generate_random(gcs.GenerateRandomRequest(length=8)),
            "Forbidden.NoPermission", 403)

    refused(lambda: _encrypt(elsewhere.client, key), "Forbidden.NoPermission", 403)
    refused(lambda: elsewhere.client.get_secret_value(secret), "Forbidden.NoPermission", 403)

    enc = _encrypt(one_key.client, key, b"only this key")
    assert one_key.client.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob,
                                                     iv=enc.iv)).plaintext == b"only this key"
    refused(lambda: _encrypt(one_key.client, world.key("rotating")), "Forbidden.NoPermission", 403)
    assert world.state() == before

    # the operator widens a policy: the application may at once (no restart, no cache to wait for)
    world.tea.call("UpdatePolicy", {"Name": f"gw-key-{world.unique}-pol", "Permissions": json.dumps([KEY_USER, SECRET_USER])})
    assert keys_only.client.get_secret_value(secret).secret_data == world.secret_v1
    world.tea.call("UpdatePolicy", {"Name": f"gw-key-{world.unique}-pol", "Permissions": json.dumps([KEY_USER])})
    refused(lambda: keys_only.client.get_secret_value(secret), "Forbidden.NoPermission", 403)

    # a policy scoped to another instance grants nothing here
    scoped = world.new_app(f"gw-scope-{world.unique}", [KEY_USER, SECRET_USER], ["key/*", "secret/*"], [world.rule],
                           kms_instance=world.other_instance)
    assert _encrypt(scoped.client, world.key("other_instance")).ciphertext_blob
    refused(lambda: _encrypt(scoped.client, key), "Forbidden.KeyNotFound", 404)


def test_deleted_access_point(world):
    aap = f"gw-gone-{world.unique}"
    app = world.new_app(aap, [KEY_USER, SECRET_USER], ["key/*", "secret/*"], [world.rule])
    assert _encrypt(app.client, world.key("aes")).ciphertext_blob
    # an AAP with ClientKeys cannot be deleted (part 1), and the refusal changes nothing
    with pytest.raises(Exception) as info:
        world.tea.call("DeleteApplicationAccessPoint", {"Name": aap})
    assert getattr(info.value, "code", None) == "Rejected.ResourceInUse", info.value
    assert _encrypt(app.client, world.key("aes")).ciphertext_blob
    world.tea.call("DeleteClientKey", {"ClientKeyId": app.id})
    world.tea.call("DeleteApplicationAccessPoint", {"Name": aap})
    before = world.state()
    refused(lambda: _encrypt(app.client, world.key("aes")), "Unauthorized", 401)
    refused(lambda: app.client.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret)),
            "Unauthorized", 401)
    assert world.state() == before


def test_disabled_key(world):
    app, key = world.app.client, world.key("disabled")
    enc = _encrypt(app, key, b"made while enabled")
    world.tea.call("DisableKey", {"KeyId": key})
    try:
        refused(lambda: _encrypt(app, key), "Rejected.Disabled", 409)
        refused(lambda: app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=enc.iv)),
                "Rejected.Disabled", 409)
        refused(lambda: app.advance_encrypt(gcs.AdvanceEncryptRequest(key_id=key, plaintext=b"x")),
                "Rejected.Disabled", 409)
        assert world.tea.call("DescribeKey", {"KeyId": key})["KeyMetadata"]["KeyState"] == "Disabled"
    finally:
        world.tea.call("EnableKey", {"KeyId": key})
    assert app.decrypt(gcs.DecryptRequest(key_id=key, ciphertext_blob=enc.ciphertext_blob, iv=enc.iv)).plaintext \
        == b"made while enabled"


# ---- audit -------------------------------------------------------------------------------------

def _audit_lines(world) -> list:
    lines = []
    for path in sorted(Path(world.server.data_dir).rglob("audit.log*")):
        for raw in path.read_text(errors="replace").splitlines():
            if raw.strip():
                lines.append(json.loads(raw))
    return lines


def _audit_texts(world) -> str:
    return "\n".join(p.read_text(errors="replace") for p in Path(world.server.data_dir).rglob("audit.log*"))


def test_audit_trail(world):
    app = world.app
    marker = f"audit-plaintext-{uuid.uuid4().hex}".encode()
    enc = app.client.encrypt(gcs.EncryptRequest(key_id=world.key("aes"), plaintext=marker, aad=b"audit-aad-" + marker))
    no = refused(lambda: _encrypt(app.client, world.key("default")), "Forbidden.KeyNotFound", 404)
    secret = app.client.get_secret_value(gcs.GetSecretValueRequest(secret_name=world.secret))
    stranger = f"KAAP.{uuid.uuid4()}"
    who = refused(lambda: _encrypt(world.client(dict(app.key, KeyId=stranger), app.password), world.key("aes")),
                  "Unauthorized", 401)
    wanted = {enc.request_id: ("Encrypt", "OK", 200), no.data["requestId"]: ("Encrypt", "Forbidden.KeyNotFound", 404),
              secret.request_id: ("GetSecretValue", "OK", 200)}
    deadline = time.monotonic() + 5
    while True:
        found = {line["RequestId"]: line for line in _audit_lines(world) if line.get("RequestId") in wanted}
        if len(found) == len(wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert set(found) == set(wanted), f"no audit line for {set(wanted) - set(found)}"
    for request_id, (action, code, status) in wanted.items():
        line = found[request_id]
        assert (line["Action"], line["Code"], line["AccessKeyId"], line["Principal"]) == \
            (action, code, app.id, app.aap), line
        assert line["HttpStatus"] == status, line
        assert line["SourceIp"] == "127.0.0.1", line
    # the resources reached, as ARNs (as on the classic API)
    secret_arn = world.tea.call("DescribeSecret", {"SecretName": world.secret})["Arn"]
    assert world.keys["aes"]["Arn"] in found[enc.request_id]["Resources"], found[enc.request_id]
    assert secret_arn in found[secret.request_id]["Resources"], found[secret.request_id]
    # a caller that did not authenticate: the id it claimed, no principal
    line = next((x for x in _audit_lines(world) if x.get("RequestId") == who.data["requestId"]), None)
    assert line is not None, "no audit line for the Unauthorized request"
    assert (line["Action"], line["Code"], line["AccessKeyId"], line["HttpStatus"]) == \
        ("Encrypt", "Unauthorized", stranger, 401), line
    assert not line.get("Principal"), line
    text = _audit_texts(world)
    for needle in (app.password, marker.decode(), b64(marker), world.secret_v1, app.key["PrivateKeyData"][:40],
                   base64.b64encode(enc.ciphertext_blob).decode()):
        assert needle not in text, f"{needle!r} is on the audit trail"
