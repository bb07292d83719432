"""The web console at /console/, driven in a real browser (Debian's chromium through Playwright):
a user signs in with an access key made by `kmsd admin`, works with a key and a secret, and
every change is then checked through the official SDK and found in the audit trail; a user
whose policy denies an action sees the refusal. Runs against every server configuration the
suite runs (SQLite, PostgreSQL, three nodes)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from test_app_access import _access_key, _when_loaded

CHROMIUM = os.environ.get("KMSD_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def T(testid: str) -> str:
    return f'[data-testid="{testid}"]'


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), f"chromium not found at {CHROMIUM} (scripts/test.sh installs Debian's)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" and
            "Failed to load resource" not in m.text else None)
    page.problems = problems
    yield page
    context.close()


def settle(page: Page) -> None:
    """Waits until no API call is in flight."""
    page.wait_for_selector(f'{T("loading")}[hidden]', state="attached", timeout=15000)


def sign_in(page: Page, url: str, ak: str, secret: str) -> None:
    page.goto(f"{url}/console/")
    page.fill(T("signin-id"), ak)
    page.fill(T("signin-secret"), secret)
    page.click(T("signin-submit"))
    expect(page.locator(T("whoami"))).to_have_text(ak, timeout=15000)
    settle(page)


def audit_lines(kmsd) -> list[dict]:
    out = []
    for path in sorted(Path(kmsd.data_dir).rglob("audit.log*")):
        for line in path.read_text(errors="replace").splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def test_the_console_is_served_with_its_policy(kmsd):
    with urllib.request.urlopen(f"{kmsd.endpoint.url}/console/", timeout=10) as r:
        assert r.status == 200
        csp = r.headers["content-security-policy"]
        html = r.read().decode()
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "app.js" in html and "<script>" not in html


def test_a_user_manages_a_key_and_a_secret_in_the_browser(kmsd, page, tmp_path, unique):
    ak, secret = _access_key(kmsd, tmp_path, f"console-{unique}", [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}])
    sdk = _when_loaded(kmsd, "tea-v3", ak, secret)
    url = kmsd.endpoint.url
    sign_in(page, url, ak, secret)
    # The secret is nowhere but in the page's memory.
    assert ak not in page.url and secret not in page.url
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert page.context.cookies() == []

    # Create a key.
    page.click(T("create-key"))
    page.fill(T("create-key-description"), f"console key {unique}")
    page.click(T("create-key-submit"))
    expect(page.locator(T("key-detail"))).to_be_visible(timeout=15000)
    settle(page)
    key_id = re.search(r"#/keys/([^/?]+)", page.url).group(1)
    meta = sdk.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]
    assert meta["Description"] == f"console key {unique}" and meta["KeyState"] == "Enabled", meta

    # An alias and a tag.
    alias = f"alias/console-{unique}"
    page.fill(T("alias-input"), alias)
    page.click(T("alias-add"))
    expect(page.locator(f'{T("alias-row")}[data-alias="{alias}"]')).to_be_visible(timeout=15000)
    page.fill(T("tag-key"), "team")
    page.fill(T("tag-value"), "web")
    page.click(T("tag-add"))
    expect(page.locator(f'{T("tag-row")}[data-tag-key="team"]')).to_be_visible(timeout=15000)
    aliases = sdk.call("ListAliasesByKeyId", {"KeyId": key_id})["Aliases"]["Alias"]
    assert [a["AliasName"] for a in aliases] == [alias], aliases
    tags = sdk.call("ListResourceTags", {"KeyId": key_id})["Tags"]["Tag"]
    assert [(t["TagKey"], t["TagValue"]) for t in tags] == [("team", "web")], tags

    # Encrypt a value; the SDK decrypts what the page shows.
    page.fill(T("encrypt-input"), "hello from the console")
    page.click(T("encrypt-submit"))
    blob = page.locator(T("ciphertext"))
    expect(blob).not_to_have_value("", timeout=15000)
    plain = sdk.call("Decrypt", {"CiphertextBlob": blob.input_value()})["Plaintext"]
    assert base64.b64decode(plain) == b"hello from the console"

    # Disable the key: Encrypt is then refused, and the page says so with the service's words.
    page.click(T("disable-key"))
    expect(page.locator(f'{T("key-metadata")} [data-field="KeyState"]')).to_have_text("Disabled", timeout=15000)
    page.click(T("encrypt-submit"))
    refusal = page.locator(f'{T("error-banner")}[data-code="Rejected.Disabled"]').first
    expect(refusal).to_be_visible(timeout=15000)
    assert refusal.locator(T("error-request-id")).inner_text().strip()
    assert sdk.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"] == "Disabled"

    # Schedule its deletion.
    page.fill(T("deletion-days"), "7")
    page.click(T("schedule-deletion"))
    expect(page.locator(T("cancel-deletion"))).to_be_visible(timeout=15000)
    assert sdk.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"] == "PendingDeletion"

    # A secret: create, put a version, reveal it.
    name = f"console-secret-{unique}"
    page.click(T("nav-secrets"))
    settle(page)
    page.click(T("create-secret"))
    page.fill(T("create-secret-name"), name)
    page.fill(T("create-secret-data"), "first value")
    page.click(T("create-secret-submit"))
    expect(page.locator(T("secret-detail"))).to_be_visible(timeout=15000)
    settle(page)
    page.fill(T("put-value-version"), "v2")
    page.fill(T("put-value-data"), "second value")
    page.click(T("put-value"))
    row = page.locator(f'{T("secret-version-row")}[data-version-id="v2"]')
    expect(row).to_be_visible(timeout=15000)
    expect(page.locator(f'{T("secret-value")}[data-version-id="v2"]')).to_have_count(0)
    row.locator(T("reveal")).click()
    expect(page.locator(f'{T("secret-value")}[data-version-id="v2"]')).to_have_text("second value", timeout=15000)
    got = sdk.call("GetSecretValue", {"SecretName": name, "VersionId": "v2"})
    assert got["SecretData"] == "second value", got
    assert sdk.call("GetSecretValue", {"SecretName": name})["VersionId"] == "v2"

    # Every change the page made is on the audit trail, as this user's.
    wanted = {"CreateKey", "CreateAlias", "TagResource", "DisableKey", "ScheduleKeyDeletion", "CreateSecret",
              "PutSecretValue", "GetSecretValue", "Encrypt"}
    deadline = time.monotonic() + 10
    while True:
        mine = [line for line in audit_lines(kmsd) if line.get("AccessKeyId") == ak and line.get("Code")]
        seen = {line["Action"] for line in mine}
        if wanted <= seen or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert wanted <= seen, sorted(wanted - seen)
    key_arn = meta["Arn"]
    for action in ("CreateAlias", "TagResource", "DisableKey", "ScheduleKeyDeletion"):
        assert any(line["Action"] == action and key_arn in line["Resources"] and line["Code"] == "OK" for line in mine), action
    assert any(line["Action"] == "Encrypt" and line["Code"] == "Rejected.Disabled" for line in mine)
    assert not page.problems, page.problems

    # Sign out forgets the key: the sign-in form again, and nothing of it left in the page.
    page.click(T("signout"))
    expect(page.locator(T("signin-form"))).to_be_visible()
    assert secret not in page.content()


def test_a_user_whose_policy_denies_an_action_sees_the_refusal(kmsd, page, tmp_path, unique):
    admin = kmsd.client("tea-v3")
    key_id = admin.call("CreateKey", {"Description": f"console denied {unique}"})["KeyMetadata"]["KeyId"]
    ak, secret = _access_key(kmsd, tmp_path, f"console-ro-{unique}", [
        {"Effect": "Allow", "Action": ["kms:List*", "kms:Describe*", "kms:Get*"], "Resource": "*"},
    ])
    _when_loaded(kmsd, "tea-v3", ak, secret)
    sign_in(page, kmsd.endpoint.url, ak, secret)
    page.goto(f"{kmsd.endpoint.url}/console/#/keys/{key_id}")
    expect(page.locator(T("key-detail"))).to_be_visible(timeout=15000)
    settle(page)
    page.click(T("disable-key"))
    refusal = page.locator(f'{T("error-banner")}[data-code="Forbidden.NoPermission"]').first
    expect(refusal).to_be_visible(timeout=15000)
    assert refusal.locator(T("error-request-id")).inner_text().strip()
    assert admin.call("DescribeKey", {"KeyId": key_id})["KeyMetadata"]["KeyState"] == "Enabled"
