"""Application access (KMS 3.0, issue 14): network rules, permission policies, application access
points (AAPs) and client keys, plus the instance calls Terraform makes that SDK 3.3.1 lacks or
under-documents (UpdateKmsInstance, SetDeletionProtection and tags on an instance).

* Every action through the typed Tea SDK (`alibabacloud-kms20160120`) in each signing mode.
* Terraform's requests (docs/design/instances.md §1.1, §5): V1 HMAC-SHA1 with the action parameters
  in a form body for POST, `Name` in the query for Describe*, GetClientKey and
  UpdateKmsInstanceBindVpc as GET with the parameters in the query — made with the Tea SDK's own
  generic `call_api` (`TeaCaller.call_generic` in tea-v2 mode), reading the raw JSON the way
  Terraform parses it (compact JSON-array strings, real arrays, verbatim strings).
* The client key's PKCS#12 (§9) is loaded by the official KMS *instance* SDK
  (`alibabacloud-dkms-gcs` 1.0.2: its own `get_private_pem_from_pk_12` and its credential class,
  whose signature is verified against GetClientKey's certificate), by `openssl pkcs12` (OpenSSL 3,
  without -legacy) and by `cryptography`; its layout is the legacy one Go's x/crypto/pkcs12 needs.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import json
import os
import re
import subprocess
import threading
import time
import uuid

import OpenSSL.crypto
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
# the official KMS instance SDK (alibabacloud-dkms-gcs 1.0.2): its top-level packages
from openapi.models import Config as DkmsConfig
from openapi_credential.client import Client as DkmsCredential
from openapi_credential.models import Config as DkmsCredentialConfig
from openapi_util.client import Client as DkmsUtil
from sdk.client import Client as DkmsClient
from sdk.models import EncryptRequest as DkmsEncryptRequest

from helpers import (ACCESS_KEY_ID, ACCESS_KEY_SECRET, assert_recent_date, assert_request_id,
                     expect_error, list_all, parse_date)
from kms_clients import REGION, ApiError

# the instance SDK loads PKCS#12 through pyOpenSSL's deprecated API: that is the point
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:openapi_util.client")

TEA_MODES = ("tea-v3", "tea-v2", "tea-v4")
KEY_USER = "RbacPermission/Template/CryptoServiceKeyUser"
SECRET_USER = "RbacPermission/Template/CryptoServiceSecretUser"
CLIENT_KEY_ID = re.compile(r"^KAAP\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CERT_PEM = re.compile(r"^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?$")
# Terraform's alicloud_kms_policy docs send access_control_rules as a heredoc like this one
HEREDOC_RULES = '{\n  "NetworkRules": [\n    "%s"\n  ]\n}\n'


def compact(items) -> str:
    return json.dumps(items, separators=(",", ":"))


def arn_re(kind: str, name: str) -> re.Pattern:
    return re.compile(rf"^acs:kms:{REGION}:\d{{16}}:{kind}/{re.escape(name)}$")


def terraform_list(text) -> list:
    """How Terraform reads SourcePrivateIp / Policies (a jsonata expression): drop the first and
    last character, split on ',', drop the first and last character of every piece. Only a
    compact JSON-array string survives that, so this also insists on exactly that string."""
    assert isinstance(text, str), f"expected a JSON-array *string*, got {type(text).__name__}: {text!r}"
    inner = text[1:-1]
    items = [piece[1:-1] for piece in inner.split(",")] if inner else []
    assert text == compact(items), f"not a compact JSON-array string: {text!r}"
    return items


# ---- callers -------------------------------------------------------------------------------

@pytest.fixture(params=TEA_MODES)
def tea(request, kmsd):
    return kmsd.client(request.param)


class TerraformCaller:
    """The requests terraform-provider-alicloud makes through tea-rpc (§1.1): V1 HMAC-SHA1
    (`signature_algorithm='v2'`), POST with the parameters in a form body, except Describe* (POST,
    `Name` in the query, empty form body) and RpcGet calls (GET, parameters in the query, empty
    form body). Returns the whole raw JSON body."""

    mode = "terraform"
    GET = {"GetClientKey", "ListClientKeys", "UpdateKmsInstanceBindVpc"}

    def __init__(self, kmsd, ak: str = ACCESS_KEY_ID, secret: str = ACCESS_KEY_SECRET):
        self.tea = kmsd.client("tea-v2", ak, secret)

    def call(self, action: str, params=None) -> dict:
        # Go formats a bool as true/false and numbers as their decimal text
        params = {k: (("true" if v else "false") if isinstance(v, bool) else str(v))
                  for k, v in (params or {}).items()}
        if action in self.GET:
            return self.tea.call_generic(action, method="GET", query=params, body={})
        if action.startswith("Describe"):
            return self.tea.call_generic(action, method="POST", query=params, body={})
        return self.tea.call_generic(action, method="POST", body=params)


class GenericCaller:
    """An action the typed SDK lacks (UpdateKmsInstance), through `call_api` with the parameters in
    the query, the way the SDK sends its own RPC actions."""

    def __init__(self, tea):
        self.tea = tea
        self.mode = tea.mode

    def call(self, action: str, params=None) -> dict:
        return self.tea.call_generic(action, method="POST", query=dict(params or {}))


@pytest.fixture
def tf(kmsd):
    return TerraformCaller(kmsd)


def new_instance(kmsd, connect: bool = True) -> str:
    instance_id = kmsd.admin("create", "--vpc-num", "3", group="instance").splitlines()[0]
    assert instance_id.startswith("kst-"), instance_id
    if connect:
        kmsd.client("tea-v3").call("ConnectKmsInstance", {
            "KmsInstanceId": instance_id, "KMProvider": "Aliyun", "VpcId": "vpc-aa",
            "ZoneIds": "cn-hangzhou-k,cn-hangzhou-j", "VSwitchIds": "vsw-k,vsw-j"})
    return instance_id


# ---- network rules ---------------------------------------------------------------------------

def test_network_rule_crud(tea, unique):
    name = f"sdk-nr-{unique}"
    created = tea.call("CreateNetworkRule", {"Name": name, "Type": "Private", "Description": "office",
                                             "SourcePrivateIp": '["10.0.0.1","10.0.1.0/24"]'})
    assert_request_id(created)
    assert arn_re("network", name).match(created["Arn"]), created
    assert (created["Name"], created["Type"], created["Description"]) == (name, "Private", "office")
    assert created["SourcePrivateIp"] == '["10.0.0.1","10.0.1.0/24"]'

    got = tea.call("DescribeNetworkRule", {"Name": name})
    assert_request_id(got)
    assert (got["Arn"], got["Type"], got["Description"]) == (created["Arn"], "Private", "office")
    assert got["SourcePrivateIp"] == '["10.0.0.1","10.0.1.0/24"]'

    # absent = unchanged
    tea.call("UpdateNetworkRule", {"Name": name, "Description": "office 2"})
    got = tea.call("DescribeNetworkRule", {"Name": name})
    assert (got["Description"], got["SourcePrivateIp"]) == ("office 2", '["10.0.0.1","10.0.1.0/24"]')
    # comma-separated form (the SDK's own documentation), IPv6 too; rendered as a JSON array
    tea.call("UpdateNetworkRule", {"Name": name, "SourcePrivateIp": "192.168.1.7,10.1.0.0/16,fd00::/8"})
    got = tea.call("DescribeNetworkRule", {"Name": name})
    assert (got["Description"], got["SourcePrivateIp"]) == ("office 2", '["192.168.1.7","10.1.0.0/16","fd00::/8"]')
    # Description "" clears it
    tea.call("UpdateNetworkRule", {"Name": name, "Description": ""})
    got = tea.call("DescribeNetworkRule", {"Name": name})
    assert got.get("Description", "") == "", got
    assert got["SourcePrivateIp"] == '["192.168.1.7","10.1.0.0/16","fd00::/8"]'

    items, _ = list_all(tea, "ListNetworkRules", "NetworkRules", "NetworkRule")
    assert {"Name": name, "Type": "Private"} in items

    # refusals, none of which changes anything
    expect_error(tea, "CreateNetworkRule", {"Name": name, "Type": "Private", "SourcePrivateIp": '["10.9.9.9"]'},
                 "Rejected.ResourceExist", 409)
    bad_ips = ('["10.0.0.300"]', '["not-an-ip"]', '["10.0.0.0/33"]', '["10.0.0.1",42]', "[", '["fd00::/129"]')
    for bad in bad_ips:
        expect_error(tea, "UpdateNetworkRule", {"Name": name, "SourcePrivateIp": bad}, "InvalidParameter", 400)
        expect_error(tea, "CreateNetworkRule", {"Name": f"{name}-bad", "Type": "Private", "SourcePrivateIp": bad},
                     "InvalidParameter", 400)
    expect_error(tea, "CreateNetworkRule", {"Name": f"{name}-bad", "Type": "Public", "SourcePrivateIp": '["10.0.0.1"]'},
                 "InvalidParameter", 400)
    expect_error(tea, "CreateNetworkRule", {"Name": f"{name}-bad", "SourcePrivateIp": '["10.0.0.1"]'},
                 "MissingParameter", 400)
    expect_error(tea, "CreateNetworkRule", {"Name": "", "Type": "Private", "SourcePrivateIp": '["10.0.0.1"]'},
                 "MissingParameter", 400)
    expect_error(tea, "DescribeNetworkRule", {"Name": f"{name}-bad"}, "Forbidden.ResourceNotFound", 404)
    got = tea.call("DescribeNetworkRule", {"Name": name})
    assert got["SourcePrivateIp"] == '["192.168.1.7","10.1.0.0/16","fd00::/8"]'
    assert got["Type"] == "Private"

    for action, params in (("DescribeNetworkRule", {}), ("UpdateNetworkRule", {"Description": "x"}),
                           ("DeleteNetworkRule", {})):
        expect_error(tea, action, {"Name": f"sdk-nr-missing-{unique}", **params}, "Forbidden.ResourceNotFound", 404)

    assert_request_id(tea.call("DeleteNetworkRule", {"Name": name}))
    expect_error(tea, "DescribeNetworkRule", {"Name": name}, "Forbidden.ResourceNotFound", 404)
    expect_error(tea, "DeleteNetworkRule", {"Name": name}, "Forbidden.ResourceNotFound", 404)
    items, _ = list_all(tea, "ListNetworkRules", "NetworkRules", "NetworkRule")
    assert name not in [i["Name"] for i in items]


# ---- permission policies ---------------------------------------------------------------------

def test_policy_crud(kmsd, tea, unique):
    name = f"sdk-pol-{unique}"
    rules = '{"NetworkRules":["sdk-rule-that-does-not-exist"]}'
    params = {"Name": name, "Description": "app one", "KmsInstance": "shared", "AccessControlRules": rules,
              "Permissions": f'["{KEY_USER}", "{SECRET_USER}"]',  # the DOC example has ", "
              "Resources": '["key/*","secret/acs/ram/user/ram-secret"]'}
    created = tea.call("CreatePolicy", params)
    assert_request_id(created)
    assert arn_re("policy", name).match(created["Arn"]), created
    assert (created["Name"], created["Description"], created["KmsInstance"]) == (name, "app one", "shared")
    assert created["AccessControlRules"] == rules
    # strings in the Create response (the SDK model types them str) ...
    assert created["Permissions"] == compact([KEY_USER, SECRET_USER])
    assert created["Resources"] == compact(["key/*", "secret/acs/ram/user/ram-secret"])

    # ... real arrays in DescribePolicy (List[str] in the model; Terraform type-asserts []interface{})
    got = tea.call("DescribePolicy", {"Name": name})
    assert_request_id(got)
    assert (got["Arn"], got["Name"], got["Description"], got["KmsInstance"]) == (created["Arn"], name, "app one", "shared")
    assert got["Permissions"] == [KEY_USER, SECRET_USER]
    assert got["Resources"] == ["key/*", "secret/acs/ram/user/ram-secret"]
    assert got["AccessControlRules"] == rules

    # updates: absent = unchanged; AccessControlRules byte for byte; Permissions [] allowed
    heredoc = HEREDOC_RULES % "sdk-other-rule"
    tea.call("UpdatePolicy", {"Name": name, "AccessControlRules": heredoc})
    got = tea.call("DescribePolicy", {"Name": name})
    assert got["AccessControlRules"] == heredoc
    assert (got["Description"], got["Permissions"], got["KmsInstance"]) == ("app one", [KEY_USER, SECRET_USER], "shared")
    tea.call("UpdatePolicy", {"Name": name, "Permissions": "[]", "Resources": '["secret/app1-*"]', "Description": "app 1"})
    got = tea.call("DescribePolicy", {"Name": name})
    assert (got["Description"], got.get("Permissions"), got["Resources"]) == ("app 1", [], ["secret/app1-*"])
    assert got["AccessControlRules"] == heredoc

    # a policy scoped to a real instance; an unknown instance is refused
    instance_id = new_instance(kmsd, connect=False)
    scoped = tea.call("CreatePolicy", {**params, "Name": f"{name}-kst", "KmsInstance": instance_id})
    assert scoped["KmsInstance"] == instance_id
    assert tea.call("DescribePolicy", {"Name": f"{name}-kst"})["KmsInstance"] == instance_id
    expect_error(tea, "CreatePolicy", {**params, "Name": f"{name}-bad", "KmsInstance": "kst-hzz000000000000000000"},
                 "Forbidden.DKMSInstanceNotFound", 403)

    # refusals, none of which changes anything
    expect_error(tea, "CreatePolicy", params, "Rejected.ResourceExist", 409)
    bad = {"Permissions": ('["RbacPermission/Template/Admin"]', "not json", f'"{KEY_USER}"'),
           "Resources": ('["alias/x"]', '["key/*abc"]', '["*"]', "not json"),
           "AccessControlRules": ("not json",)}
    for field, values in bad.items():
        for value in values:
            expect_error(tea, "CreatePolicy", {**params, "Name": f"{name}-bad", field: value}, "InvalidParameter", 400)
            expect_error(tea, "UpdatePolicy", {"Name": name, field: value}, "InvalidParameter", 400)
    expect_error(tea, "DescribePolicy", {"Name": f"{name}-bad"}, "Forbidden.ResourceNotFound", 404)
    got = tea.call("DescribePolicy", {"Name": name})
    assert (got["Description"], got.get("Permissions"), got["Resources"]) == ("app 1", [], ["secret/app1-*"])
    assert got["AccessControlRules"] == heredoc

    items, _ = list_all(tea, "ListPolicies", "Policies", "Policy")
    names = [i["Name"] for i in items]
    assert name in names and f"{name}-kst" in names
    assert {"Name": name} in items

    for action, extra in (("DescribePolicy", {}), ("UpdatePolicy", {"Description": "x"}), ("DeletePolicy", {})):
        expect_error(tea, action, {"Name": f"sdk-pol-missing-{unique}", **extra}, "Forbidden.ResourceNotFound", 404)
    for policy in (name, f"{name}-kst"):
        assert_request_id(tea.call("DeletePolicy", {"Name": policy}))
        expect_error(tea, "DescribePolicy", {"Name": policy}, "Forbidden.ResourceNotFound", 404)
    expect_error(tea, "DeletePolicy", {"Name": name}, "Forbidden.ResourceNotFound", 404)
    kmsd.client("tea-v3").call("ReleaseKmsInstance", {"KmsInstanceId": instance_id})


# ---- application access points ---------------------------------------------------------------

def test_application_access_point_crud(tea, unique):
    name = f"sdk-aap-{unique}"
    # no referential checks: Terraform's acceptance tests bind policies that do not exist
    created = tea.call("CreateApplicationAccessPoint", {"Name": name, "Policies": '["abc","efg","hfc"]',
                                                         "Description": "app one"})
    assert_request_id(created)
    assert arn_re("applicationaccesspoint", name).match(created["Arn"]), created
    assert (created["Name"], created["AuthenticationMethod"], created["Description"]) == (name, "ClientKey", "app one")
    assert created["Policies"] == '["abc","efg","hfc"]'

    got = tea.call("DescribeApplicationAccessPoint", {"Name": name})
    assert_request_id(got)
    assert (got["Arn"], got["Name"], got["AuthenticationMethod"], got["Description"]) == \
        (created["Arn"], name, "ClientKey", "app one")
    assert got["Policies"] == '["abc","efg","hfc"]'

    tea.call("UpdateApplicationAccessPoint", {"Name": name, "Policies": '["guaguagua"]'})
    got = tea.call("DescribeApplicationAccessPoint", {"Name": name})
    assert (got["Policies"], got["Description"]) == ('["guaguagua"]', "app one")
    tea.call("UpdateApplicationAccessPoint", {"Name": name, "Description": "app 1"})
    got = tea.call("DescribeApplicationAccessPoint", {"Name": name})
    assert (got["Policies"], got["Description"]) == ('["guaguagua"]', "app 1")

    explicit = tea.call("CreateApplicationAccessPoint", {"Name": f"{name}-2", "Policies": '["p"]',
                                                          "AuthenticationMethod": "ClientKey"})
    assert explicit["AuthenticationMethod"] == "ClientKey" and explicit["Policies"] == '["p"]'

    items, _ = list_all(tea, "ListApplicationAccessPoints", "ApplicationAccessPoints", "ApplicationAccessPoint")
    assert {"Name": name, "AuthenticationMethod": "ClientKey"} in items
    assert {"Name": f"{name}-2", "AuthenticationMethod": "ClientKey"} in items

    # refusals, none of which changes anything
    expect_error(tea, "CreateApplicationAccessPoint", {"Name": name, "Policies": '["x"]'}, "Rejected.ResourceExist", 409)
    four = '["a","b","c","d"]'
    expect_error(tea, "CreateApplicationAccessPoint", {"Name": f"{name}-bad", "Policies": four}, "InvalidParameter", 400)
    expect_error(tea, "UpdateApplicationAccessPoint", {"Name": name, "Policies": four}, "InvalidParameter", 400)
    expect_error(tea, "UpdateApplicationAccessPoint", {"Name": name, "Policies": "not json"}, "InvalidParameter", 400)
    expect_error(tea, "CreateApplicationAccessPoint", {"Name": f"{name}-bad", "Policies": '["a"]',
                                                        "AuthenticationMethod": "Password"}, "InvalidParameter", 400)
    expect_error(tea, "DescribeApplicationAccessPoint", {"Name": f"{name}-bad"}, "Forbidden.ResourceNotFound", 404)
    got = tea.call("DescribeApplicationAccessPoint", {"Name": name})
    assert (got["Policies"], got["Description"]) == ('["guaguagua"]', "app 1")

    for action, extra in (("DescribeApplicationAccessPoint", {}), ("UpdateApplicationAccessPoint", {"Description": "x"}),
                          ("DeleteApplicationAccessPoint", {})):
        expect_error(tea, action, {"Name": f"sdk-aap-missing-{unique}", **extra}, "Forbidden.ResourceNotFound", 404)
    for aap in (name, f"{name}-2"):
        assert_request_id(tea.call("DeleteApplicationAccessPoint", {"Name": aap}))
        expect_error(tea, "DescribeApplicationAccessPoint", {"Name": aap}, "Forbidden.ResourceNotFound", 404)


# ---- client keys -----------------------------------------------------------------------------

def test_client_key_lifecycle(tea, unique, tmp_path):
    aap = f"sdk-ck-{unique}"
    tea.call("CreateApplicationAccessPoint", {"Name": aap, "Policies": '["p"]'})
    password = f"Pw-{unique}"

    # defaults: now .. now + 5 years
    created = tea.call("CreateClientKey", {"AapName": aap, "Password": password})
    assert_request_id(created)
    key_id = created["ClientKeyId"]
    assert CLIENT_KEY_ID.match(key_id), created
    assert created["KeyAlgorithm"] == "RSA_2048"
    assert_recent_date(created["NotBefore"])
    span = parse_date(created["NotAfter"]) - parse_date(created["NotBefore"])
    assert datetime.timedelta(days=5 * 365) <= span <= datetime.timedelta(days=5 * 365 + 2), created

    got = tea.call("GetClientKey", {"ClientKeyId": key_id})
    assert_request_id(got)
    assert (got["ClientKeyId"], got["AapName"], got["KeyAlgorithm"], got["KeyOrigin"]) == \
        (key_id, aap, "RSA_2048", "KMS_PROVIDED")
    assert (got["NotBefore"], got["NotAfter"]) == (created["NotBefore"], created["NotAfter"])
    assert_recent_date(got["CreateTime"])
    assert CERT_PEM.match(got["PublicKeyData"]), got["PublicKeyData"]
    assert "PrivateKeyData" not in got
    check_pkcs12(key_id, created["PrivateKeyData"], password, got["PublicKeyData"], tmp_path)

    # explicit validity, in the past too (Terraform's acceptance test), echoed exactly
    window = {"NotBefore": "2023-09-01T14:11:22Z", "NotAfter": "2032-09-01T14:11:22Z"}
    second = tea.call("CreateClientKey", {"AapName": aap, "Password": "abcd1234", **window})
    assert (second["NotBefore"], second["NotAfter"]) == (window["NotBefore"], window["NotAfter"])
    got2 = tea.call("GetClientKey", {"ClientKeyId": second["ClientKeyId"]})
    assert (got2["NotBefore"], got2["NotAfter"], got2["AapName"]) == (window["NotBefore"], window["NotAfter"], aap)
    check_pkcs12(second["ClientKeyId"], second["PrivateKeyData"], "abcd1234", got2["PublicKeyData"], tmp_path)
    assert_certificate_validity(got2["PublicKeyData"], window["NotBefore"], window["NotAfter"])
    assert_certificate_validity(got["PublicKeyData"], created["NotBefore"], created["NotAfter"])

    listed = tea.call("ListClientKeys", {"AapName": aap})
    assert_request_id(listed)
    strip = lambda body: {k: v for k, v in body.items() if k != "RequestId"}  # noqa: E731
    assert sorted(listed["ClientKeys"], key=lambda k: k["ClientKeyId"]) == \
        sorted([strip(got), strip(got2)], key=lambda k: k["ClientKeyId"])
    everything = tea.call("ListClientKeys", {})["ClientKeys"]
    assert {key_id, second["ClientKeyId"]} <= {k["ClientKeyId"] for k in everything}
    assert tea.call("ListClientKeys", {"AapName": f"sdk-ck-nothing-{unique}"})["ClientKeys"] == []

    # password rule: 8..64 characters, at least two of digits / letters / ~!@#$%^&*?_-
    for ok in ("abcd1234", "1234567-", "abcdefg!", "a1" * 32, "Ab~!@#$%^&*?_-9"):
        made = tea.call("CreateClientKey", {"AapName": aap, "Password": ok})
        tea.call("DeleteClientKey", {"ClientKeyId": made["ClientKeyId"]})
    for bad in ("abc123!", "abcdefghij", "1234567890", "!@#$%^&*?_", "a1" * 32 + "b"):
        expect_error(tea, "CreateClientKey", {"AapName": aap, "Password": bad}, "InvalidParameter", 400)
    expect_error(tea, "CreateClientKey", {"AapName": aap}, "MissingParameter", 400)
    # validity: both or neither, ordered, well-formed
    expect_error(tea, "CreateClientKey", {"AapName": aap, "Password": password, "NotBefore": window["NotBefore"]},
                 "MissingParameter", 400)
    expect_error(tea, "CreateClientKey", {"AapName": aap, "Password": password, "NotAfter": window["NotAfter"]},
                 "MissingParameter", 400)
    expect_error(tea, "CreateClientKey", {"AapName": aap, "Password": password,
                                          "NotBefore": window["NotAfter"], "NotAfter": window["NotBefore"]},
                 "InvalidParameter", 400)
    expect_error(tea, "CreateClientKey", {"AapName": aap, "Password": password,
                                          "NotBefore": window["NotBefore"], "NotAfter": window["NotBefore"]},
                 "InvalidParameter", 400)
    expect_error(tea, "CreateClientKey", {"AapName": aap, "Password": password,
                                          "NotBefore": "2023-09-01", "NotAfter": window["NotAfter"]},
                 "InvalidParameter", 400)
    expect_error(tea, "CreateClientKey", {"AapName": f"sdk-ck-nothing-{unique}", "Password": password},
                 "Forbidden.ResourceNotFound", 404)
    expect_error(tea, "GetClientKey", {"ClientKeyId": f"KAAP.{uuid.uuid4()}"}, "Forbidden.ResourceNotFound", 404)
    expect_error(tea, "DeleteClientKey", {"ClientKeyId": f"KAAP.{uuid.uuid4()}"}, "Forbidden.ResourceNotFound", 404)
    # nothing above made a key
    assert len(tea.call("ListClientKeys", {"AapName": aap})["ClientKeys"]) == 2

    for made in (key_id, second["ClientKeyId"]):
        assert_request_id(tea.call("DeleteClientKey", {"ClientKeyId": made}))
        expect_error(tea, "GetClientKey", {"ClientKeyId": made}, "Forbidden.ResourceNotFound", 404)
        expect_error(tea, "DeleteClientKey", {"ClientKeyId": made}, "Forbidden.ResourceNotFound", 404)
    assert tea.call("ListClientKeys", {"AapName": aap})["ClientKeys"] == []
    tea.call("DeleteApplicationAccessPoint", {"Name": aap})


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Stands in for the instance gateway (part 2): records one request, answers an empty 200."""

    seen: list = []

    def do_POST(self):  # noqa: N802 — http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def check_instance_sdk_request(key_file, password: str, client_key_id: str, public) -> None:
    """The instance SDK's own client (sdk.client.Client, as an application builds it from the
    client-key file) sends an Encrypt to a recorder; its `authorization: Bearer <sig>` verifies
    with the certificate's public key over the SDK's string to sign, rebuilt here independently:
    method, content-sha256, content-type, date, the sorted x-kms-* headers, and "/"."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        _Recorder.seen = []
        app = DkmsClient(DkmsConfig(protocol="http", endpoint=f"127.0.0.1:{server.server_address[1]}",
                                    client_key_file=str(key_file), password=password))
        app.encrypt(DkmsEncryptRequest(key_id="key-hzz000000000000000000", plaintext=b"hello"))
        thread.join(30)
    finally:
        server.server_close()
    (headers, body), = _Recorder.seen
    assert headers["x-kms-acccesskeyid"] == client_key_id  # sic: the SDK's spelling
    assert headers["x-kms-signaturemethod"] == "RSA_PKCS1_SHA_256"
    assert headers["content-sha256"] == hashlib.sha256(body).hexdigest().upper()
    kms_headers = "".join(f"{k}:{headers[k].strip()}\n" for k in sorted(headers) if k.startswith("x-kms-"))
    to_sign = f"POST\n{headers['content-sha256']}\n{headers['content-type']}\n{headers['date']}\n{kms_headers}/"
    scheme, signature = headers["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    public.verify(base64.b64decode(signature), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())


def assert_certificate_validity(public_key_data: str, not_before: str, not_after: str) -> None:
    """The ClientKey's certificate is valid exactly from NotBefore to NotAfter (§9.3)."""
    cert = x509.load_pem_x509_certificate(public_key_data.encode())
    utc = datetime.timezone.utc
    start = getattr(cert, "not_valid_before_utc", None) or cert.not_valid_before.replace(tzinfo=utc)
    end = getattr(cert, "not_valid_after_utc", None) or cert.not_valid_after.replace(tzinfo=utc)
    assert (start, end) == (parse_date(not_before), parse_date(not_after)), (start, end, not_before, not_after)


def _der_header(buf: bytes, at: int) -> tuple[int, int, int]:
    """(tag, length, offset of the contents) of the DER element at `at`; definite lengths only."""
    tag, first = buf[at], buf[at + 1]
    at += 2
    if first & 0x80:
        count = first & 0x7F
        assert 1 <= count <= 4, f"indefinite or oversized DER length at {at}"
        return tag, int.from_bytes(buf[at:at + count], "big"), at + count
    return tag, first, at


def _openssl_pkcs12(path, password: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KMSD_P12_PASSWORD=password)
    return subprocess.run(["openssl", "pkcs12", "-in", str(path), "-passin", "env:KMSD_P12_PASSWORD", "-nodes", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def check_pkcs12(client_key_id: str, private_key_data, password: str, public_key_data: str, tmp_path) -> None:
    """PrivateKeyData is one line of base64 holding the §9.3 PKCS#12; every official loader reads
    it; its key is the RSA-2048 key of GetClientKey's certificate."""
    assert isinstance(private_key_data, str) and re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", private_key_data), \
        "PrivateKeyData is not one line of standard base64"
    der = base64.b64decode(private_key_data, validate=True)
    assert base64.b64encode(der).decode() == private_key_data
    cert = x509.load_pem_x509_certificate(public_key_data.encode())
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    # PFX: one definite-length SEQUENCE, version 3 (Go's decoder insists on both)
    tag, length, body = _der_header(der, 0)
    assert tag == 0x30 and body + length == len(der), "PrivateKeyData is not a single DER SEQUENCE"
    tag, length, at = _der_header(der, body)
    assert (tag, der[at:at + length]) == (0x02, b"\x03"), "PFX version is not 3"

    # (3) cryptography
    key, p12_cert, extra = pkcs12.load_key_and_certificates(der, password.encode())
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert p12_cert is not None and extra == []
    assert key.public_key().public_numbers() == public.public_numbers()
    assert p12_cert.public_key().public_numbers() == public.public_numbers()
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(der, (password + "x").encode())

    # (1) the instance SDK's own loader (pyOpenSSL load_pkcs12), then its credential and client
    body_b64 = DkmsUtil.get_private_pem_from_pk_12(der, password)
    sdk_key = serialization.load_der_private_key(base64.b64decode(body_b64), None)
    assert sdk_key.public_key().public_numbers() == public.public_numbers()
    with pytest.raises(OpenSSL.crypto.Error):
        DkmsUtil.get_private_pem_from_pk_12(der, password + "x")
    content = json.dumps({"KeyId": client_key_id, "PrivateKeyData": private_key_data})
    credential = DkmsCredential(DkmsCredentialConfig(type="rsa_key_pair", client_key_content=content, password=password))
    assert credential.get_access_key_id() == client_key_id
    text = f"POST\n\napplication/x-protobuf\n{time.time()}\nx-kms-apiname:Encrypt\n/"
    signature = credential.get_signature(text)
    assert signature.startswith("Bearer ")
    public.verify(base64.b64decode(signature[len("Bearer "):]), text.encode(), padding.PKCS1v15(), hashes.SHA256())
    # the client-key file the console (and Terraform's private_key_data_file) writes, as an app uses it
    key_file = tmp_path / f"clientKey_{client_key_id}.json"
    key_file.write_text(content)
    check_instance_sdk_request(key_file, password, client_key_id, public)

    # (2) openssl pkcs12 (OpenSSL 3, no -legacy): key and certificate come out ...
    p12_path = tmp_path / f"{client_key_id}.p12"
    p12_path.write_bytes(der)
    out = _openssl_pkcs12(p12_path, password)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("-----BEGIN PRIVATE KEY-----") == 1, out.stdout
    assert out.stdout.count("-----BEGIN CERTIFICATE-----") == 1, out.stdout
    pem_key = re.search(r"-----BEGIN PRIVATE KEY-----.*?-----END PRIVATE KEY-----\n", out.stdout, re.S).group(0)
    assert serialization.load_pem_private_key(pem_key.encode(), None).public_key().public_numbers() == \
        public.public_numbers()
    wrong = _openssl_pkcs12(p12_path, password + "x")
    assert wrong.returncode != 0 and "mac verify" in wrong.stderr.lower(), wrong.stderr
    # ... and the layout is the legacy one: SHA-1 MAC; exactly two ContentInfos, the certificate
    # bag first (3DES-encrypted), then the 3DES-shrouded key bag; only friendlyName / localKeyID
    info = _openssl_pkcs12(p12_path, password, "-info")
    assert info.returncode == 0, info.stderr
    lines = [line.strip() for line in info.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("MAC: sha1,"), lines
    structure = [line for line in lines if line.startswith(("PKCS7 ", "Certificate bag", "Shrouded Keybag",
                                                            "Key bag", "Safe Contents bag", "Warning"))]
    triple_des = r"pbeWithSHA1And3-KeyTripleDES-CBC, Iteration \d+"
    assert len(structure) == 4, f"expected exactly [encrypted data, cert bag, data, key bag]: {lines}"
    assert re.fullmatch(rf"PKCS7 Encrypted data: {triple_des}", structure[0]), lines
    assert structure[1] == "Certificate bag", lines
    assert re.fullmatch(rf"PKCS7 Data|PKCS7 Encrypted data: {triple_des}", structure[2]), lines
    assert re.fullmatch(rf"Shrouded Keybag: {triple_des}", structure[3]), lines
    attributes = re.findall(r"^    ([A-Za-z0-9 .]+):", out.stdout, re.M)
    assert set(attributes) <= {"friendlyName", "localKeyID"}, f"bag attributes Go cannot read: {attributes}"


# ---- in use ----------------------------------------------------------------------------------

def test_in_use_refusals(tea, unique):
    rule, policy, aap = f"sdk-iu-rule-{unique}", f"sdk-iu-pol-{unique}", f"sdk-iu-aap-{unique}"
    tea.call("CreateNetworkRule", {"Name": rule, "Type": "Private", "SourcePrivateIp": '["10.0.0.1"]'})
    tea.call("CreatePolicy", {"Name": policy, "KmsInstance": "shared", "Permissions": f'["{KEY_USER}"]',
                              "Resources": '["key/*"]', "AccessControlRules": HEREDOC_RULES % rule})
    tea.call("CreateApplicationAccessPoint", {"Name": aap, "Policies": compact(["other", policy])})
    key_id = tea.call("CreateClientKey", {"AapName": aap, "Password": f"Pw-{unique}"})["ClientKeyId"]

    # every refusal leaves the resource in place
    expect_error(tea, "DeleteNetworkRule", {"Name": rule}, "Rejected.ResourceInUse", 409)
    assert tea.call("DescribeNetworkRule", {"Name": rule})["SourcePrivateIp"] == '["10.0.0.1"]'
    expect_error(tea, "DeletePolicy", {"Name": policy}, "Rejected.ResourceInUse", 409)
    assert tea.call("DescribePolicy", {"Name": policy})["AccessControlRules"] == HEREDOC_RULES % rule
    expect_error(tea, "DeleteApplicationAccessPoint", {"Name": aap}, "Rejected.ResourceInUse", 409)
    assert tea.call("GetClientKey", {"ClientKeyId": key_id})["AapName"] == aap

    # each reference can be dropped by an update, then the delete goes through
    tea.call("UpdatePolicy", {"Name": policy, "AccessControlRules": '{"NetworkRules":[]}'})
    tea.call("DeleteNetworkRule", {"Name": rule})
    expect_error(tea, "DescribeNetworkRule", {"Name": rule}, "Forbidden.ResourceNotFound", 404)
    tea.call("UpdateApplicationAccessPoint", {"Name": aap, "Policies": '["other"]'})
    tea.call("DeletePolicy", {"Name": policy})
    tea.call("DeleteClientKey", {"ClientKeyId": key_id})
    tea.call("DeleteApplicationAccessPoint", {"Name": aap})
    expect_error(tea, "DescribeApplicationAccessPoint", {"Name": aap}, "Forbidden.ResourceNotFound", 404)

    # a rule named by an AccessControlRules given through an update is in use too
    tea.call("CreateNetworkRule", {"Name": rule, "Type": "Private", "SourcePrivateIp": '["10.0.0.2"]'})
    tea.call("CreatePolicy", {"Name": policy, "KmsInstance": "shared", "Permissions": "[]",
                              "Resources": '["key/*"]', "AccessControlRules": '{"NetworkRules":[]}'})
    tea.call("UpdatePolicy", {"Name": policy, "AccessControlRules": compact({"NetworkRules": ["x", rule]})})
    expect_error(tea, "DeleteNetworkRule", {"Name": rule}, "Rejected.ResourceInUse", 409)
    tea.call("DeletePolicy", {"Name": policy})
    tea.call("DeleteNetworkRule", {"Name": rule})


# ---- paging ----------------------------------------------------------------------------------

KINDS = {
    "NetworkRules": ("ListNetworkRules", "NetworkRule", "CreateNetworkRule",
                     lambda n: {"Name": n, "Type": "Private", "SourcePrivateIp": '["10.0.0.1"]'}),
    "Policies": ("ListPolicies", "Policy", "CreatePolicy",
                 lambda n: {"Name": n, "KmsInstance": "shared", "Permissions": "[]", "Resources": '["key/*"]',
                            "AccessControlRules": "{}"}),
    "ApplicationAccessPoints": ("ListApplicationAccessPoints", "ApplicationAccessPoint",
                                "CreateApplicationAccessPoint", lambda n: {"Name": n, "Policies": '["p"]'}),
}


@pytest.mark.parametrize("outer", list(KINDS))
def test_paging(kmsd, outer, unique):
    tea = kmsd.client("tea-v3")
    action, inner, create, params = KINDS[outer]
    names = [f"sdk-page-{unique}-{i:02}" for i in range(23)]
    for name in names:
        tea.call(create, params(name))

    first = tea.call(action, {})
    assert (first["PageNumber"], first["PageSize"]) == (1, 20), first
    total = first["TotalCount"]
    assert isinstance(total, int) and total >= 23, first
    assert len(first[outer][inner]) == 20

    items, total_all = list_all(tea, action, outer, inner, page_size=7)
    listed = [i["Name"] for i in items]
    assert total_all == total and len(set(listed)) == len(listed), listed
    assert set(names) <= set(listed)
    items, _ = list_all(tea, action, outer, inner, page_size=100)
    assert [i["Name"] for i in items] == listed, "the order changes with the page size"

    beyond = tea.call(action, {"PageNumber": total // 5 + 2, "PageSize": 5})
    assert (beyond[outer][inner], beyond["TotalCount"]) == ([], total), beyond
    for size in (0, 101):
        expect_error(tea, action, {"PageSize": size}, "InvalidParameter", 400)


# ---- permissions -----------------------------------------------------------------------------

def _access_key(kmsd, tmp_path, name: str, statements: list) -> tuple[str, str]:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"Version": "1", "Statement": statements}))
    out = kmsd.admin("create", "--name", name, "--policy", str(path))
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    return fields["AccessKeyId"], fields["AccessKeySecret"]


def _when_loaded(kmsd, mode: str, ak: str, secret: str):
    """Servers pick new access keys up within a second (test_policies.py does the same)."""
    client = kmsd.client(mode, ak, secret)
    deadline = time.monotonic() + 10
    known_in_a_row = 0
    while known_in_a_row < 6:
        try:
            client.call("ListNetworkRules", {})
            known_in_a_row += 1
        except ApiError as e:
            known_in_a_row = 0 if e.code == "InvalidAccessKeyId.NotFound" else known_in_a_row + 1
            assert time.monotonic() < deadline, f"access key never loaded: {e}"
            if known_in_a_row == 0:
                time.sleep(0.05)
    return client


def test_identity_policies_govern_application_access(kmsd, tea, unique, tmp_path):
    admin = kmsd.client("tea-v3")
    no_policies = _when_loaded(kmsd, tea.mode, *_access_key(kmsd, tmp_path, f"sdk-aa-nopol-{unique}", [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:CreatePolicy", "Resource": "*"},
    ]))
    reader = _when_loaded(kmsd, tea.mode, *_access_key(kmsd, tmp_path, f"sdk-aa-read-{unique}", [
        {"Effect": "Allow", "Resource": "*", "Action": [
            "kms:ListNetworkRules", "kms:DescribeNetworkRule", "kms:ListPolicies", "kms:DescribePolicy",
            "kms:ListApplicationAccessPoints", "kms:DescribeApplicationAccessPoint",
            "kms:GetClientKey", "kms:ListClientKeys"]},
    ]))
    policy = {"Name": f"sdk-perm-{unique}", "KmsInstance": "shared", "Permissions": f'["{KEY_USER}"]',
              "Resources": '["key/*"]', "AccessControlRules": '{"NetworkRules":[]}'}

    expect_error(no_policies, "CreatePolicy", policy, "Forbidden.NoPermission", 403)
    expect_error(admin, "DescribePolicy", {"Name": policy["Name"]}, "Forbidden.ResourceNotFound", 404)
    # everything else is allowed to it
    no_policies.call("CreateNetworkRule", {"Name": f"sdk-perm-{unique}", "Type": "Private", "SourcePrivateIp": '["10.0.0.1"]'})
    no_policies.call("CreateApplicationAccessPoint", {"Name": f"sdk-perm-{unique}", "Policies": '["p"]'})
    key_id = no_policies.call("CreateClientKey", {"AapName": f"sdk-perm-{unique}", "Password": "abcd1234"})["ClientKeyId"]
    admin.call("CreatePolicy", policy)
    assert no_policies.call("DescribePolicy", {"Name": policy["Name"]})["Name"] == policy["Name"]
    no_policies.call("UpdatePolicy", {"Name": policy["Name"], "Description": "by the app"})

    # the reader reads, and changes nothing
    assert reader.call("DescribePolicy", {"Name": policy["Name"]})["Description"] == "by the app"
    assert reader.call("GetClientKey", {"ClientKeyId": key_id})["AapName"] == f"sdk-perm-{unique}"
    assert len(reader.call("ListClientKeys", {"AapName": f"sdk-perm-{unique}"})["ClientKeys"]) == 1
    reader.call("DescribeNetworkRule", {"Name": f"sdk-perm-{unique}"})
    reader.call("ListPolicies", {})
    for action, params in (
            ("CreateNetworkRule", {"Name": f"sdk-perm2-{unique}", "Type": "Private", "SourcePrivateIp": '["10.0.0.1"]'}),
            ("UpdatePolicy", {"Name": policy["Name"], "Description": "by the reader"}),
            ("DeletePolicy", {"Name": policy["Name"]}),
            ("CreateClientKey", {"AapName": f"sdk-perm-{unique}", "Password": "abcd1234"}),
            ("DeleteClientKey", {"ClientKeyId": key_id}),
            ("DeleteApplicationAccessPoint", {"Name": f"sdk-perm-{unique}"})):
        expect_error(reader, action, params, "Forbidden.NoPermission", 403)
    assert admin.call("DescribePolicy", {"Name": policy["Name"]})["Description"] == "by the app"
    assert len(admin.call("ListClientKeys", {"AapName": f"sdk-perm-{unique}"})["ClientKeys"]) == 1
    expect_error(admin, "DescribeNetworkRule", {"Name": f"sdk-perm2-{unique}"}, "Forbidden.ResourceNotFound", 404)

    no_policies.call("DeleteClientKey", {"ClientKeyId": key_id})
    no_policies.call("DeleteApplicationAccessPoint", {"Name": f"sdk-perm-{unique}"})
    no_policies.call("DeletePolicy", {"Name": policy["Name"]})
    no_policies.call("DeleteNetworkRule", {"Name": f"sdk-perm-{unique}"})


# ---- Terraform -------------------------------------------------------------------------------

def test_terraform_network_rule(tf, unique):
    """alicloud_kms_network_rule: create → read → update → read → delete → read (gone)."""
    name = f"tf-nr-{unique}"
    ips = ["10.10.10.10/24", "192.168.17.13"]
    created = tf.call("CreateNetworkRule", {"Name": name, "Description": "tf", "Type": "Private",
                                            "SourcePrivateIp": "[" + ",".join(f'"{ip}"' for ip in ips) + "]"})
    assert created["Name"] == name  # Terraform's resource id
    assert terraform_list(created["SourcePrivateIp"]) == ips
    assert arn_re("network", name).match(created["Arn"]), created

    got = tf.call("DescribeNetworkRule", {"Name": name})
    assert_request_id(got)
    assert (got["Name"], got["Type"], got["Description"], got["Arn"]) == (name, "Private", "tf", created["Arn"])
    assert terraform_list(got["SourcePrivateIp"]) == ips

    tf.call("UpdateNetworkRule", {"Name": name, "SourcePrivateIp": json.dumps(["100.177.24.254"]).replace(" ", "")})
    got = tf.call("DescribeNetworkRule", {"Name": name})
    assert (terraform_list(got["SourcePrivateIp"]), got["Description"]) == (["100.177.24.254"], "tf")
    tf.call("UpdateNetworkRule", {"Name": name, "Description": "tf 2", "SourcePrivateIp": '["100.177.24.254"]'})
    assert tf.call("DescribeNetworkRule", {"Name": name})["Description"] == "tf 2"

    tf.call("DeleteNetworkRule", {"Name": name})
    expect_error(tf, "DescribeNetworkRule", {"Name": name}, "Forbidden.ResourceNotFound", 404)
    expect_error(tf, "DeleteNetworkRule", {"Name": name}, "Forbidden.ResourceNotFound", 404)
    expect_error(tf, "UpdateNetworkRule", {"Name": name, "SourcePrivateIp": '["10.0.0.1"]'},
                 "Forbidden.ResourceNotFound", 404)


def test_terraform_policy(tf, unique):
    """alicloud_kms_policy, access_control_rules given as a heredoc (indentation, trailing newline)."""
    name = f"tf-pol-{unique}"
    heredoc = HEREDOC_RULES % "alicloud_kms_network_rule.networkRule1.network_rule_name"
    created = tf.call("CreatePolicy", {"Name": name, "Description": "tf", "KmsInstance": "shared",
                                       "Permissions": json.dumps([KEY_USER, SECRET_USER], separators=(",", ":")),
                                       "Resources": '["key/*","secret/*"]', "AccessControlRules": heredoc})
    assert created["Name"] == name
    assert (created["Permissions"], created["Resources"]) == (compact([KEY_USER, SECRET_USER]), '["key/*","secret/*"]')
    assert created["AccessControlRules"] == heredoc
    assert arn_re("policy", name).match(created["Arn"]), created

    got = tf.call("DescribePolicy", {"Name": name})
    assert (got["Name"], got["Description"], got["KmsInstance"], got["Arn"]) == (name, "tf", "shared", created["Arn"])
    assert got["Permissions"] == [KEY_USER, SECRET_USER]  # []interface{} in Terraform
    assert got["Resources"] == ["key/*", "secret/*"]
    assert got["AccessControlRules"] == heredoc

    # Terraform's Update: Permissions, Resources, AccessControlRules always; Description when changed
    heredoc2 = '{\n\t"NetworkRules": ["r1", "r2"]\n}'
    tf.call("UpdatePolicy", {"Name": name, "Permissions": "[]", "Resources": '["key/key-hzz63d9c8d3dfv8cv*"]',
                             "AccessControlRules": heredoc2})
    got = tf.call("DescribePolicy", {"Name": name})
    assert got.get("Permissions") == [], got
    assert got["Resources"] == ["key/key-hzz63d9c8d3dfv8cv*"]
    assert (got["AccessControlRules"], got["Description"], got["KmsInstance"]) == (heredoc2, "tf", "shared")
    tf.call("UpdatePolicy", {"Name": name, "Description": "", "Permissions": f'["{SECRET_USER}"]',
                             "Resources": '["secret/*"]', "AccessControlRules": heredoc2})
    got = tf.call("DescribePolicy", {"Name": name})
    assert (got.get("Description", ""), got["Permissions"], got["Resources"]) == ("", [SECRET_USER], ["secret/*"])

    tf.call("DeletePolicy", {"Name": name})
    expect_error(tf, "DescribePolicy", {"Name": name}, "Forbidden.ResourceNotFound", 404)
    expect_error(tf, "DeletePolicy", {"Name": name}, "Forbidden.ResourceNotFound", 404)


def test_terraform_application_access_point(tf, unique):
    name = f"tf-aap-{unique}"
    created = tf.call("CreateApplicationAccessPoint", {"Name": name, "Description": "tf", "AuthenticationMethod": "ClientKey",
                                                       "Policies": json.dumps(["abc", "efg", "hfc"]).replace(" ", "")})
    assert created["Name"] == name
    assert terraform_list(created["Policies"]) == ["abc", "efg", "hfc"]
    assert arn_re("applicationaccesspoint", name).match(created["Arn"]), created

    got = tf.call("DescribeApplicationAccessPoint", {"Name": name})
    assert (got["Name"], got["Description"], got["AuthenticationMethod"]) == (name, "tf", "ClientKey")
    assert terraform_list(got["Policies"]) == ["abc", "efg", "hfc"]

    tf.call("UpdateApplicationAccessPoint", {"Name": name, "Policies": '["guaguagua"]'})
    got = tf.call("DescribeApplicationAccessPoint", {"Name": name})
    assert (terraform_list(got["Policies"]), got["Description"]) == (["guaguagua"], "tf")

    tf.call("DeleteApplicationAccessPoint", {"Name": name})
    expect_error(tf, "DescribeApplicationAccessPoint", {"Name": name}, "Forbidden.ResourceNotFound", 404)
    expect_error(tf, "DeleteApplicationAccessPoint", {"Name": name}, "Forbidden.ResourceNotFound", 404)


def test_terraform_client_key(kmsd, tf, unique, tmp_path):
    """alicloud_kms_client_key: CreateClientKey (Password in the form body), GetClientKey as GET,
    DeleteClientKey; the server hands the private key out once and keeps no copy of it."""
    aap = f"tf-ck-{unique}"
    tf.call("CreateApplicationAccessPoint", {"Name": aap, "AuthenticationMethod": "ClientKey", "Policies": '["abc"]'})
    password = f"Tf-{uuid.uuid4().hex}"
    window = {"NotBefore": "2023-09-01T14:11:22Z", "NotAfter": "2032-09-01T14:11:22Z"}
    created = tf.call("CreateClientKey", {"AapName": aap, "Password": password, **window})
    assert set(created) == {"RequestId", "ClientKeyId", "KeyAlgorithm", "NotBefore", "NotAfter", "PrivateKeyData"}, created
    key_id = created["ClientKeyId"]
    assert CLIENT_KEY_ID.match(key_id)
    assert (created["NotBefore"], created["NotAfter"], created["KeyAlgorithm"]) == \
        (window["NotBefore"], window["NotAfter"], "RSA_2048")

    got = tf.call("GetClientKey", {"ClientKeyId": key_id})
    assert set(got) == {"RequestId", "ClientKeyId", "AapName", "KeyAlgorithm", "KeyOrigin", "CreateTime",
                        "NotBefore", "NotAfter", "PublicKeyData"}, got
    assert (got["AapName"], got["NotBefore"], got["NotAfter"], got["KeyOrigin"]) == \
        (aap, window["NotBefore"], window["NotAfter"], "KMS_PROVIDED")
    assert_recent_date(got["CreateTime"])
    check_pkcs12(key_id, created["PrivateKeyData"], password, got["PublicKeyData"], tmp_path)
    assert_certificate_validity(got["PublicKeyData"], window["NotBefore"], window["NotAfter"])

    listed = tf.call("ListClientKeys", {"AapName": aap})
    assert listed["ClientKeys"] == [{k: v for k, v in got.items() if k != "RequestId"}]

    # (4) the private key and the password are nowhere the server answers, logs or stores
    der = base64.b64decode(created["PrivateKeyData"])
    key, _, _ = pkcs12.load_key_and_certificates(der, password.encode())
    numbers = key.private_numbers()
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()

    def slices(data: bytes) -> list:
        # short pieces from all over: a stored copy split across database pages still shows
        return [data[i:i + 24] for i in range(0, len(data) - 24, max(24, len(data) // 8))]

    secrets = {
        "PrivateKeyData": slices(created["PrivateKeyData"].encode()),
        "the PKCS#12": slices(der),
        "the PKCS#8 key": slices(pkcs8),
        "the PEM key": [line.encode() for line in pem.splitlines()[1:-2]],
        "the private exponent": slices(numbers.d.to_bytes(256, "big")),
        "a prime": slices(numbers.p.to_bytes(128, "big")),
        "the password": [password.encode()],
    }
    for body in (got, listed, tf.call("ListClientKeys", {})):
        text = json.dumps(body)
        assert "PrivateKeyData" not in text and "PRIVATE KEY" not in text, body
        assert created["PrivateKeyData"][:64] not in text and password not in text
    stored = [p for p in kmsd.data_dir.rglob("*") if p.is_file()] if kmsd.data_dir else []
    for path in [kmsd.stderr_path, *stored]:
        data = path.read_bytes()
        for what, needles in secrets.items():
            assert not any(n in data for n in needles), f"{what} of a client key found in {path}"
    if not kmsd.store_args:
        # control: the scan does see the local store, which keeps the certificate (PEM lines)
        cert_lines = [line.encode() for line in got["PublicKeyData"].strip().splitlines()[1:-2]]
        contents = b"".join(p.read_bytes() for p in stored)
        found = sum(line in contents for line in cert_lines)
        assert found >= len(cert_lines) // 2, \
            f"only {found} of {len(cert_lines)} lines of the certificate found in {stored}: the scan proves nothing"

    tf.call("DeleteClientKey", {"ClientKeyId": key_id})
    expect_error(tf, "GetClientKey", {"ClientKeyId": key_id}, "Forbidden.ResourceNotFound", 404)
    expect_error(tf, "DeleteClientKey", {"ClientKeyId": key_id}, "Forbidden.ResourceNotFound", 404)
    assert tf.call("ListClientKeys", {"AapName": aap})["ClientKeys"] == []
    tf.call("DeleteApplicationAccessPoint", {"Name": aap})


# ---- instance extras ---------------------------------------------------------------------------

def _instance(tea, instance_id: str) -> dict:
    return tea.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]


def test_instance_rename_protection_and_tags(kmsd, tea, unique):
    instance_id = new_instance(kmsd)
    generic = GenericCaller(tea)

    # UpdateKmsInstance (no model in SDK 3.3.1: the generic call)
    assert_request_id(generic.call("UpdateKmsInstance", {"KmsInstanceId": instance_id, "InstanceName": f"sdk-{unique}"}))
    assert _instance(tea, instance_id)["InstanceName"] == f"sdk-{unique}"
    expect_error(generic, "UpdateKmsInstance", {"KmsInstanceId": "kst-hzz000000000000000000", "InstanceName": "x"},
                 "Forbidden.DKMSInstanceNotFound", 403)

    # SetDeletionProtection on an instance blocks ReleaseKmsInstance until it is turned off
    tea.call("SetDeletionProtection", {"KmsInstanceId": instance_id, "EnableDeletionProtection": True,
                                       "DeletionProtectionDescription": "production"})
    got = _instance(tea, instance_id)
    assert (got["DeletionProtection"], got.get("DeletionProtectionDescription")) == (True, "production"), got
    expect_error(tea, "ReleaseKmsInstance", {"KmsInstanceId": instance_id}, "Rejected.UnsupportedOperation", 400)
    assert _instance(tea, instance_id)["InstanceId"] == instance_id
    expect_error(tea, "SetDeletionProtection", {"KmsInstanceId": "kst-hzz000000000000000000",
                                                "EnableDeletionProtection": True},
                 "Forbidden.DKMSInstanceNotFound", 403)

    # tags, ResourceType=instance, as for keys
    tea.call("TagResources", {"ResourceType": "instance", "ResourceId": [instance_id],
                              "Tag": [{"Key": "team", "Value": "pay"}, {"Key": "env", "Value": "prod"}]})
    rows = tea.call("ListTagResources", {"ResourceType": "instance", "ResourceId": [instance_id]})
    assert sorted((r["ResourceId"], r["ResourceType"], r["TagKey"], r["TagValue"])
                  for r in rows["TagResources"]["TagResource"]) == \
        [(instance_id, "instance", "env", "prod"), (instance_id, "instance", "team", "pay")]
    tea.call("UntagResources", {"ResourceType": "instance", "ResourceId": [instance_id], "TagKey": ["team"]})
    rows = tea.call("ListTagResources", {"ResourceType": "instance", "ResourceId": [instance_id]})
    assert [(r["TagKey"], r["TagValue"]) for r in rows["TagResources"]["TagResource"]] == [("env", "prod")]
    # an unknown instance: the code Terraform's tag read tolerates
    expect_error(tea, "TagResources", {"ResourceType": "instance", "ResourceId": ["kst-hzz000000000000000000"],
                                       "Tag": [{"Key": "x", "Value": "1"}]},
                 "Forbidden.DKMSInstanceNotFound", 403)

    tea.call("SetDeletionProtection", {"KmsInstanceId": instance_id, "EnableDeletionProtection": False})
    assert _instance(tea, instance_id)["DeletionProtection"] is False
    tea.call("ReleaseKmsInstance", {"KmsInstanceId": instance_id})
    expect_error(tea, "GetKmsInstance", {"KmsInstanceId": instance_id}, "Forbidden.DKMSInstanceNotFound", 403)


def test_terraform_instance_update_and_delete(kmsd, tf, unique):
    """alicloud_kms_instance (§5.1): the operator's create standing in for BSS CreateInstance,
    then Terraform's Create (ConnectKmsInstance, GetKmsInstance polled until Connected), Update
    and Delete of the PayAsYouGo instance."""
    instance_id = new_instance(kmsd, connect=False)
    assert tf.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]["InstanceId"] == instance_id
    tf.call("ConnectKmsInstance", {"VpcId": "vpc-tf", "KmsInstanceId": instance_id, "KMProvider": "Aliyun",
                                   "ZoneIds": "cn-hangzhou-k,cn-hangzhou-j", "VSwitchIds": "vsw-k,vsw-j"})
    deadline = time.monotonic() + 30
    while (status := tf.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]["Status"]) != "Connected":
        assert status != "Error" and time.monotonic() < deadline, status
        time.sleep(0.2)
    bind = [{"RegionId": "cn-hangzhou", "VSwitchId": "vsw-b1", "VpcId": "vpc-b1", "VpcOwnerId": 1192853035118888}]
    tf.call("UpdateKmsInstanceBindVpc", {"KmsInstanceId": instance_id, "BindVpcs": compact(bind)})  # RpcGet
    tf.call("UpdateKmsInstance", {"KmsInstanceId": instance_id, "InstanceName": f"tf-{unique}"})
    tf.call("SetDeletionProtection", {"KmsInstanceId": instance_id, "EnableDeletionProtection": True})
    tf.call("TagResources", {"ResourceId.1": instance_id, "RegionId": REGION, "ResourceType": "instance",
                             "Tag.1.Key": "For", "Tag.1.Value": "acceptance-test"})
    got = tf.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]
    assert (got["InstanceName"], got["DeletionProtection"]) == (f"tf-{unique}", True)
    assert got["BindVpcs"]["BindVpc"] == [{**bind[0], "VpcOwnerId": "1192853035118888"}]
    rows = tf.call("ListTagResources", {"ResourceId.1": instance_id, "RegionId": REGION, "ResourceType": "instance"})
    assert [(r["ResourceId"], r["ResourceType"], r["TagKey"], r["TagValue"]) for r in rows["TagResources"]["TagResource"]] == \
        [(instance_id, "instance", "For", "acceptance-test")]
    tf.call("UntagResources", {"ResourceId.1": instance_id, "RegionId": REGION, "ResourceType": "instance",
                               "TagKey.1": "For"})
    rows = tf.call("ListTagResources", {"ResourceId.1": instance_id, "RegionId": REGION, "ResourceType": "instance"})
    assert rows["TagResources"]["TagResource"] == []

    expect_error(tf, "ReleaseKmsInstance", {"KmsInstanceId": instance_id}, "Rejected.UnsupportedOperation", 400)
    tf.call("SetDeletionProtection", {"KmsInstanceId": instance_id, "EnableDeletionProtection": False})
    assert tf.call("GetKmsInstance", {"KmsInstanceId": instance_id})["KmsInstance"]["DeletionProtection"] is False
    tf.call("ReleaseKmsInstance", {"KmsInstanceId": instance_id})
    expect_error(tf, "GetKmsInstance", {"KmsInstanceId": instance_id}, "Forbidden.DKMSInstanceNotFound", 403)
