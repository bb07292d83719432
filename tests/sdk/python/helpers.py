"""Assertions and small builders shared by the test modules."""

from __future__ import annotations

import base64
import datetime
import re
import uuid
from typing import Optional

import pytest

from kms_clients import REGION, ApiError, KmsCaller

# kmsd is started with these as its bootstrap access key. The secret contains characters
# that must be percent-encoded (+ / = * ~) on purpose.
ACCESS_KEY_ID = "LTAI5tSdkTestKey0001"
ACCESS_KEY_SECRET = "SdkTestSecret+/=*~0123456789"

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
KEY_ARN_RE = re.compile(rf"^acs:kms:{REGION}:(\d{{16}}):key/(.+)$")
ALIAS_ARN_RE = re.compile(rf"^acs:kms:{REGION}:(\d{{16}}):alias/(.+)$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
# extra names kmsd_gateway puts in the instance gateway's certificate (--instance-host): a DNS
# name and an IP address
GATEWAY_EXTRA_HOSTS = ("gw.kmsd.test", "10.1.2.3")
ERROR_BODY_FIELDS = ("RequestId", "HostId", "Code", "Message", "Recommend", "HttpStatus")

# the KeyMetadata fields kmsd fills for a default symmetric key (spec §7.2 + contract)
DEFAULT_KEY_FIELDS = {
    "AutomaticRotation": "Disabled",
    "KeySpec": "Aliyun_AES_256",
    "KeyState": "Enabled",
    "KeyUsage": "ENCRYPT/DECRYPT",
    "Origin": "Aliyun_KMS",
    "ProtectionLevel": "SOFTWARE",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def random_uuid() -> str:
    return str(uuid.uuid4())


def assert_request_id(body: dict) -> None:
    assert isinstance(body.get("RequestId"), str) and body["RequestId"], body


def assert_uuid(value) -> None:
    assert isinstance(value, str) and UUID_RE.match(value), f"not a 36-char UUID: {value!r}"


def parse_date(value) -> datetime.datetime:
    """Checks the wire date format YYYY-MM-DDThh:mm:ssZ and returns an aware UTC datetime."""
    assert isinstance(value, str) and DATE_RE.match(value), f"not YYYY-MM-DDThh:mm:ssZ: {value!r}"
    return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def assert_recent_date(value) -> None:
    when = parse_date(value)
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - when).total_seconds()) < 600, f"{value} is not close to now ({now:%Y-%m-%dT%H:%M:%SZ})"


def key_arn_account(arn: str, key_id: str) -> str:
    """Checks acs:kms:cn-hangzhou:<16 digits>:key/<KeyId> and returns the account id."""
    m = KEY_ARN_RE.match(arn or "")
    assert m, f"bad key ARN {arn!r}"
    assert m.group(2) == key_id, (arn, key_id)
    return m.group(1)


def alias_arn(account: str, alias_name: str) -> str:
    assert alias_name.startswith("alias/")
    return f"acs:kms:{REGION}:{account}:alias/{alias_name[len('alias/'):]}"


def expect_error(kms: KmsCaller, action: str, params: Optional[dict], code: str, status: int) -> ApiError:
    """Calls and asserts the exact error Code and HTTP status as surfaced by the SDK."""
    with pytest.raises(ApiError) as info:
        kms.call(action, params)
    err = info.value
    assert (err.code, err.status) == (code, status), f"{action} {params!r}: expected {code} {status}, got {err}"
    assert err.request_id, f"no RequestId surfaced: {err}"
    if err.body is not None:  # the Tea SDKs expose the raw error body
        missing = [f for f in ERROR_BODY_FIELDS if f not in err.body]
        assert not missing, f"error body lacks {missing}: {err.body}"
        assert err.body["Code"] == code
        assert err.body["RequestId"] == err.request_id
        assert int(err.body["HttpStatus"]) == status, err.body
        assert isinstance(err.body["Message"], str) and err.body["Message"], err.body
    return err


def create_key(kms: KmsCaller, **params) -> dict:
    """CreateKey and return its KeyMetadata (after basic shape checks)."""
    body = kms.call("CreateKey", params)
    assert_request_id(body)
    md = body["KeyMetadata"]
    assert_uuid(md["KeyId"])
    return md


def create_alias(kms: KmsCaller, key_id: str, unique: str, suffix: str = "") -> str:
    name = f"alias/sdk-{unique}{suffix}"
    assert_request_id(kms.call("CreateAlias", {"AliasName": name, "KeyId": key_id}))
    return name


def list_all(kms: KmsCaller, action: str, outer: str, inner: str, params: Optional[dict] = None,
             page_size: int = 100) -> tuple[list, int]:
    """Walks every page of a List* action; returns (items, TotalCount) and checks paging fields."""
    items, page, total = [], 1, None
    while True:
        body = kms.call(action, {**(params or {}), "PageNumber": page, "PageSize": page_size})
        assert_request_id(body)
        assert int(body["PageNumber"]) == page, body
        assert int(body["PageSize"]) == page_size, body
        total = int(body["TotalCount"]) if total is None else total
        assert int(body["TotalCount"]) == total, "TotalCount changed while paging"
        chunk = body[outer][inner]
        assert len(chunk) <= page_size
        items.extend(chunk)
        if not chunk or len(items) >= total:
            break
        page += 1
        assert page < 1000, "runaway pagination"
    assert len(items) == total, f"{action}: got {len(items)} items over all pages, TotalCount {total}"
    return items, total
