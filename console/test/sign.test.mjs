// Signature unit tests: node's built-in test runner, WebCrypto from globalThis.crypto.
import test from 'node:test';
import assert from 'node:assert/strict';
import { canonicalRequest, stringToSign, signature, signRequest, encodeForm, percentEncode, canonicalQuery, sha256Hex, acsDate, newNonce } from '../src/sign.js';
import { bytesToBase64, base64ToBytes, textToBase64, base64ToText } from '../src/b64.js';
import { parseInterval, parseHash, makeHash } from '../src/ui.js';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

// 1. The server's own worked example (crates/kms-wire/src/signature/tests.rs,
//    acs3_worked_example_verifies): kmsd accepts this signature with secret "testsecret" and,
//    for a wrong secret, reports this string to sign.
test('server worked example: string to sign and signature', async () => {
  const canonical = await canonicalRequest({
    method: 'POST',
    path: '/',
    query: [
      ['KeyId', 'alias/test'],
      ['Plaintext', 'SGVsbG8gd29ybGQ='],
      ['EncryptionContext', '{"k":"v w"}'],
    ],
    headers: {
      host: 'kms.cn-hangzhou.aliyuncs.com',
      'x-acs-action': 'Encrypt',
      'x-acs-version': '2016-01-20',
      'x-acs-date': '2024-01-01T00:00:00Z',
      'x-acs-signature-nonce': '3156853299f313e23d1673dc12e1703d',
      accept: 'application/json',
      'x-acs-content-sha256': EMPTY_SHA256,
    },
    payloadHash: EMPTY_SHA256,
  });
  const sts = await stringToSign(canonical);
  assert.equal(sts, 'ACS3-HMAC-SHA256\n35ce93f78174ddc06c8aa9054f9a6bbfa4ff6dc410da27c5b9a2a3d77c32bb05');
  assert.equal(await signature('testsecret', sts), '08a8db1ec3318ef35a85a5f7ca5b1c3ed956800237402b56c007034aa3ec2056');
});

// 2. A request the official Python SDK (alibabacloud-kms20160120 3.3.1) sent, recorded in
//    crates/kms-wire/tests/vectors/tea-v3.jsonl ("tea-v3/FlattenProbe"): query AND form body,
//    content-type signed; kmsd's vector test accepts it.
test('official SDK vector with a form body', async () => {
  const body = 'BodyBool=False&BodyList.1=p&BodyList.2=q&BodyStr=x+y';
  const hash = await sha256Hex(body);
  assert.equal(hash, '037b798778d11bbc64683ef3354c625c43aaee4cfe4429baf365073875a940e1');
  const canonical = await canonicalRequest({
    query: [['Bool', 'True'], ['Int', '3'], ['List.1', 'a'], ['List.2', 'b'], ['Map.k', 'v']],
    headers: [
      ['host', '127.0.0.1:35355'],
      ['x-acs-version', '2016-01-20'],
      ['x-acs-action', 'FlattenProbe'],
      ['user-agent', 'AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2'],
      ['x-acs-date', '2026-11-28T13:44:32Z'],
      ['x-acs-signature-nonce', '15eed9caad1388e08324cafeb0b8b01b'],
      ['accept', 'application/json'],
      ['content-type', 'application/x-www-form-urlencoded'],
      ['x-acs-content-sha256', hash],
      ['x-acs-credentials-provider', 'static_ak'],
    ],
    payloadHash: hash,
  });
  const sig = await signature('CaptureSecret+/=*~0123456789ab', await stringToSign(canonical));
  assert.equal(sig, 'ae9b811255a2ff885af9daabccbd3092748dada8873c722bb68ce5b2dcacf207');
});

// 3. The console's own request shape (parameters in the body, no query), with fixed date and
//    nonce. Expected values computed independently (Python hashlib/hmac) from the brief's
//    canonical-request layout.
test('console request: body, canonical request, string to sign, authorization', async () => {
  const req = await signRequest(
    { accessKeyId: 'LTAIconsoleTest00001', accessKeySecret: 'console-secret-0123456789' },
    'Encrypt',
    { KeyId: 'alias/test', Plaintext: 'aGVsbG8=' },
    { host: '127.0.0.1:8080', date: '2026-12-03T18:40:00Z', nonce: '0123456789abcdef0123456789abcdef' },
  );
  const hash = 'c20e1f42879a03273671bd77063995d25c6eb5e49f0dec5bb674172389fa2f75';
  assert.equal(req.body, 'KeyId=alias%2Ftest&Plaintext=aGVsbG8%3D');
  assert.equal(req.canonical, [
    'POST',
    '/',
    '',
    'content-type:application/x-www-form-urlencoded',
    'host:127.0.0.1:8080',
    'x-acs-action:Encrypt',
    `x-acs-content-sha256:${hash}`,
    'x-acs-date:2026-12-03T18:40:00Z',
    'x-acs-signature-nonce:0123456789abcdef0123456789abcdef',
    'x-acs-version:2016-01-20',
    '',
    'content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version',
    hash,
  ].join('\n'));
  assert.equal(req.stringToSign, 'ACS3-HMAC-SHA256\n8204039daaa0b6a5961fadb77ef9885ae42679d75feca929d149691393f74724');
  assert.equal(req.signature, 'ee732cdb025cf9a027c3d84a89885c3a81a7adf1ed338a89b8b010277fff0261');
  assert.equal(
    req.headers.authorization,
    'ACS3-HMAC-SHA256 Credential=LTAIconsoleTest00001,SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=ee732cdb025cf9a027c3d84a89885c3a81a7adf1ed338a89b8b010277fff0261',
  );
  assert.equal(req.headers['x-acs-content-sha256'], hash);
  assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(req.headers['x-acs-version'], '2016-01-20');
  assert.equal(req.headers['x-acs-action'], 'Encrypt');
  assert.ok(!('host' in req.headers), 'host is signed but not set (fetch forbids it)');
  assert.ok(!('Action' in Object.fromEntries(new URLSearchParams(req.body))), 'Action is a header, not a parameter');
});

test('an empty body hashes to the SHA-256 of nothing', async () => {
  const req = await signRequest({ accessKeyId: 'a', accessKeySecret: 'b' }, 'ListKeys', {}, { host: 'h', date: '2026-01-01T00:00:00Z', nonce: 'n' });
  assert.equal(req.body, '');
  assert.equal(req.headers['x-acs-content-sha256'], EMPTY_SHA256);
});

test('a different secret, date or nonce changes the signature', async () => {
  const base = { host: 'h:1', date: '2026-01-01T00:00:00Z', nonce: 'aa' };
  const c = { accessKeyId: 'id', accessKeySecret: 's' };
  const a = await signRequest(c, 'ListKeys', { PageSize: 10 }, base);
  const b = await signRequest({ ...c, accessKeySecret: 't' }, 'ListKeys', { PageSize: 10 }, base);
  const d = await signRequest(c, 'ListKeys', { PageSize: 10 }, { ...base, nonce: 'ab' });
  const e = await signRequest(c, 'ListKeys', { PageSize: 11 }, base);
  assert.notEqual(a.signature, b.signature);
  assert.notEqual(a.signature, d.signature);
  assert.notEqual(a.signature, e.signature);
  assert.equal(a.stringToSign, b.stringToSign);
});

test('form and canonical encodings', () => {
  assert.equal(encodeForm({ a: 'x y', b: 'ü', c: '+/=', d: undefined, e: null, f: true, g: 3 }), 'a=x%20y&b=%C3%BC&c=%2B%2F%3D&f=true&g=3');
  assert.equal(encodeForm({ Filters: '[{"Key":"KeyState","Values":["Enabled"]}]' }), 'Filters=%5B%7B%22Key%22%3A%22KeyState%22%2C%22Values%22%3A%5B%22Enabled%22%5D%7D%5D');
  assert.equal(percentEncode("a b*c~d+e/f!'()"), 'a%20b%2Ac~d%2Be%2Ff%21%27%28%29');
  assert.equal(canonicalQuery([['b', ''], ['a', '1']]), 'a=1&b=');
});

test('date and nonce formats', () => {
  assert.equal(acsDate(new Date(Date.UTC(2026, 11, 3, 18, 40, 0, 123))), '2026-12-03T18:40:00Z');
  const n = newNonce();
  assert.match(n, /^[0-9a-f]{32}$/);
  assert.notEqual(n, newNonce());
});

test('base64 helpers', () => {
  assert.equal(textToBase64('hi ü'), 'aGkgw7w=');
  assert.equal(base64ToText('aGkgw7w='), 'hi ü');
  assert.equal(base64ToText('/w=='), null); // 0xff is not UTF-8
  const bytes = new Uint8Array(100000).map((_, i) => i & 255);
  assert.deepEqual(base64ToBytes(bytesToBase64(bytes)), bytes);
  assert.equal(bytesToBase64(new Uint8Array([])), '');
});

test('ui helpers: intervals and hashes', () => {
  assert.equal(parseInterval('8640000s'), '8640000s');
  assert.equal(parseInterval('100d'), '8640000s');
  assert.equal(parseInterval('100'), '8640000s');
  assert.equal(parseInterval('soon'), null);
  const { parts, query } = parseHash('#/secrets/a%2Fb?page=2');
  assert.deepEqual(parts, ['secrets', 'a/b']);
  assert.equal(query.get('page'), '2');
  assert.equal(makeHash(['keys'], { page: 2, KeyState: 'Enabled', x: '' }), '#/keys?page=2&KeyState=Enabled');
});
