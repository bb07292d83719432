"""One calling convention over the official, unmodified Python SDKs.

Every test is written once against ``KmsCaller.call(action, params)`` and runs in each
MODE. ``params`` use the wire names of spec §7 (``KeyId``, ``Plaintext`` ...); values are
what a user of that SDK would naturally pass, the adapter only does the per-SDK
translation a user would do by hand:

* ``EncryptionContext`` is given as a Python object. The core SDK takes a string, so it
  gets ``json.dumps(obj)`` (with the default ``", "``/``": "`` separators, as the Alibaba
  Cloud Encryption SDK does); the Tea SDK types it as a map and serialises it itself
  (compact JSON). A ``str`` is passed to core verbatim (Tea then JSON-quotes it).
* Integers are passed as ``int`` (both SDKs stringify them).

``call`` returns the response body as a dict with wire field names. For the Tea SDK that
dict is ``response.body.to_map()``, i.e. only fields the typed model knows survive, which
checks the server's field names and nesting. SDK exceptions are normalised into
:class:`ApiError` after checking that the SDK raised what sdk-wire-behaviour.md §5 says it
raises.
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass
from typing import Any, Optional
from urllib.parse import urlsplit

# old "core" SDK
from aliyunsdkcore.auth.credentials import StsTokenCredential
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.acs_exception.exceptions import ServerException as CoreServerException
from aliyunsdkcore.http import protocol_type as core_protocol_type

# Tea / Darabonba SDK
from alibabacloud_kms20160120 import models as tea_models
from alibabacloud_kms20160120.client import Client as TeaKmsClient
from alibabacloud_tea_openapi import utils_models as open_api_util_models
from alibabacloud_tea_openapi.models import Config as TeaConfig
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from alibabacloud_tea_openapi.exceptions import (
    AlibabaCloudException,
    ClientException as TeaClientException,
    ServerException as TeaServerException,
    ThrottlingException as TeaThrottlingException,
)
from darabonba.runtime import RuntimeOptions
from Tea.exceptions import TeaException, UnretryableException as TeaUnretryableException

REGION = "cn-hangzhou"

# core: aliyunsdkcore AcsClient + aliyunsdkkms request classes, V1 HMAC-SHA1 (POST, params in query)
# tea-v3: alibabacloud-kms20160120 default, ACS3-HMAC-SHA256
# tea-v2: same, Config(signature_algorithm='v2') -> V1 HMAC-SHA1
# tea-v4: same, Config(signature_version='v4') -> ACS4-HMAC-SHA256 via alibabacloud-gateway-pop
MODES = ("core", "tea-v3", "tea-v2", "tea-v4")


class ApiError(Exception):
    """An error answer of the server, as surfaced by one SDK."""

    def __init__(self, mode: str, code: str, status: Optional[int], request_id: Optional[str],
                 message: str, body: Optional[dict], sdk_exception: BaseException):
        super().__init__(f"[{mode}] {code} (HTTP {status}): {message}")
        self.mode = mode
        self.code = code
        self.status = status
        self.request_id = request_id
        self.message = message
        # the raw error body where the SDK exposes it (Tea: exception.data), else None
        self.body = body
        self.sdk_exception = sdk_exception


@dataclass(frozen=True)
class Endpoint:
    url: str  # http://127.0.0.1:PORT or https://127.0.0.1:PORT

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host_port(self) -> str:
        return urlsplit(self.url).netloc


def _snake(action: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()


class KmsCaller:
    mode: str

    def call(self, action: str, params: Optional[dict] = None) -> dict:
        raise NotImplementedError


class CoreCaller(KmsCaller):
    """aliyun-python-sdk-core + aliyun-python-sdk-kms (SDK 1.0)."""

    mode = "core"

    def __init__(self, endpoint: Endpoint, ak: str, secret: str, ca: Optional[str] = None,
                 token: Optional[str] = None):
        self.endpoint = endpoint
        # auto_retry off: a failing server must fail fast, not be retried behind our back
        if token:
            # STS credentials: the core SDK's own credential class adds the signed SecurityToken
            self.client = AcsClient(region_id=REGION, auto_retry=False, timeout=30, connect_timeout=10,
                                    verify=ca, credential=StsTokenCredential(ak, secret, token))
        else:
            self.client = AcsClient(ak, secret, REGION, auto_retry=False, timeout=30,
                                    connect_timeout=10, verify=ca)

    def call(self, action: str, params: Optional[dict] = None) -> dict:
        module = importlib.import_module(f"aliyunsdkkms.request.v20160120.{action}Request")
        request = getattr(module, f"{action}Request")()
        # every aliyunsdkkms request class forces https in __init__: override per request
        request.set_endpoint(self.endpoint.host_port)
        # core tests `protocol is PT.HTTPS` (identity, not equality): pass its own constants
        request.set_protocol_type(core_protocol_type.HTTPS if self.endpoint.scheme == "https"
                                  else core_protocol_type.HTTP)
        for name, value in (params or {}).items():
            if name == "EncryptionContext" and not isinstance(value, str):
                value = json.dumps(value)
            # the typed setter, as a user would call it (fails loudly on a typo)
            getattr(request, f"set_{name}")(value)
        try:
            raw = self.client.do_action_with_exception(request)
        except CoreServerException as e:
            raise ApiError(self.mode, e.get_error_code(), e.get_http_status(), e.get_request_id(),
                           e.get_error_msg(), None, e) from None
        return json.loads(raw)


class TeaCaller(KmsCaller):
    """alibabacloud-kms20160120 (Tea/Darabonba SDK 2.0) in one of its signing modes."""

    def __init__(self, mode: str, endpoint: Endpoint, ak: str, secret: str, ca: Optional[str] = None,
                 token: Optional[str] = None):
        self.mode = mode
        config = TeaConfig(
            access_key_id=ak,
            access_key_secret=secret,
            security_token=token,
            region_id=REGION,
            endpoint=endpoint.host_port,
            protocol=endpoint.scheme,
            read_timeout=30000,
            connect_timeout=10000,
            ca=ca,
        )
        if mode == "tea-v2":
            config.signature_algorithm = "v2"
        elif mode == "tea-v4":
            config.signature_version = "v4"
        else:
            assert mode == "tea-v3", mode
        self.client = TeaKmsClient(config)

    def call(self, action: str, params: Optional[dict] = None) -> dict:
        method = getattr(self.client, f"{_snake(action)}_with_options")
        model_cls = getattr(tea_models, f"{action}Request", None)
        runtime = RuntimeOptions()

        def send():
            if model_cls is None:  # DescribeRegions, DescribeAccountKmsStatus, OpenKmsService
                assert not params, f"{action} takes no parameters in the Tea SDK"
                return method(runtime)
            return method(model_cls().from_map(dict(params or {})), runtime)

        response = self._invoke(send)
        assert response.status_code == 200, response.status_code
        return response.body.to_map()

    def call_generic(self, action: str, *, method: str = "POST", query: Optional[dict] = None,
                     body: Optional[dict] = None) -> dict:
        """`action` through the SDK's generic `call_api` (no typed model, e.g. for actions the
        SDK lacks), with the parameters in the query and/or a form body exactly as given. In
        tea-v2 mode this is the request Terraform's tea-rpc client makes (V1 HMAC-SHA1, RPC
        style). Returns the whole JSON response body, every field."""
        params = open_api_util_models.Params(
            action=action, version="2016-01-20", protocol="HTTP", pathname="/", method=method,
            auth_type="AK", style="RPC", req_body_type="formData", body_type="json")
        request = open_api_util_models.OpenApiRequest(
            query=TeaUtils.query(query) if query is not None else None, body=body)
        response = self._invoke(lambda: self.client.call_api(params, request, RuntimeOptions()))
        assert response["statusCode"] == 200, response
        return response["body"]

    def _invoke(self, send):
        """Runs one SDK call, turning the SDK's error into an ApiError (after checking its type)."""
        try:
            return send()
        except AlibabaCloudException as e:  # tea-v3, tea-v2
            assert self.mode != "tea-v4", f"unexpected {type(e).__name__} in v4 mode"
            # An answer with x-acs-retry-after (throttling) is a ThrottlingException carrying
            # the wait; any other is a client or server exception by its status.
            if getattr(e, "retry_after", None) is not None:
                expected = TeaThrottlingException
            elif 400 <= (e.status_code or 0) < 500:
                expected = TeaClientException
            else:
                expected = TeaServerException
            assert isinstance(e, expected), f"HTTP {e.status_code} raised {type(e).__name__}"
            raise ApiError(self.mode, e.code, e.status_code, e.request_id, e.message,
                           _error_body(e.data), e) from None
        except TeaUnretryableException as e:  # tea-v4: gateway-pop's TeaException, wrapped
            inner = e.inner_exception
            if self.mode != "tea-v4" or not isinstance(inner, TeaException):
                raise
            body = _error_body(inner.data)
            status = body.get("statusCode") if body else None
            raise ApiError(self.mode, inner.code, status, body.get("RequestId") if body else None,
                           inner.message, body, e) from None


def _error_body(data: Any) -> Optional[dict]:
    return dict(data) if isinstance(data, dict) else None


def make_caller(mode: str, endpoint: Endpoint, ak: str, secret: str, ca: Optional[str] = None,
                token: Optional[str] = None) -> KmsCaller:
    if mode == "core":
        return CoreCaller(endpoint, ak, secret, ca, token)
    return TeaCaller(mode, endpoint, ak, secret, ca, token)
