// Shared by the *.test.mjs files: starts the real kmsd binary and wraps the official,
// unmodified Node SDKs behind one calling convention, so each test is written once.
//
//   const kms = server.client(mode);            // mode: one of MODES
//   const body = await kms.call('Encrypt', {KeyId, Plaintext, EncryptionContext: {k: 'v'}});
//
// Params use the wire names of spec §7. EncryptionContext may be an object (each adapter
// does what a user of that SDK has to do: JSON.stringify for pop-core and openapi-client,
// pass the map for @alicloud/kms20160120, which flattens it to EncryptionContext.k=v) or a
// string (passed verbatim everywhere). `call` resolves to the body with wire field names and
// rejects with an ApiError whose `status` is the HTTP status where the SDK exposes it.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const RPCClient = require('@alicloud/pop-core').RPCClient;
const kmsPkg = require('@alicloud/kms20160120');
const { Config: RpcConfig } = require('@alicloud/rpc-client');
const openapi = require('@alicloud/openapi-client');
const { RuntimeOptions } = require('@alicloud/tea-util');
const $tea = require('@alicloud/tea-typescript');

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..', '..');
export const KMSD_BIN = process.env.KMSD_BIN || path.join(REPO, 'target', 'debug', 'kmsd');

// The secret contains characters that must be percent-encoded (+ / = * ~) on purpose.
export const ACCESS_KEY_ID = 'LTAI5tSdkTestKey0001';
export const ACCESS_KEY_SECRET = 'SdkTestSecret+/=*~0123456789';
export const REGION = 'cn-hangzhou';
const API_VERSION = '2016-01-20';
const STARTUP_TIMEOUT_MS = 30_000;
const SHUTDOWN_TIMEOUT_MS = 15_000;

// pop-get:    @alicloud/pop-core RPCClient.request(), default GET, V1 signature, all params in the query
// pop-post:   same with {method: 'POST'}: all params in a form body
// tea-rpc:    @alicloud/kms20160120 1.2.0 (Client + Config from @alicloud/rpc-client), V1
// openapi-v3: @alicloud/openapi-client callApi, default ACS3-HMAC-SHA256
// openapi-v2: same with signatureAlgorithm: 'v2' (V1)
export const MODES = ['pop-get', 'pop-post', 'tea-rpc', 'openapi-v3', 'openapi-v2'];

export class ApiError extends Error {
  constructor(mode, code, status, requestId, body, cause) {
    super(`[${mode}] ${code} (HTTP ${status ?? '?'}): ${cause?.message}`);
    this.mode = mode;
    this.code = code; // the server's Code, with any SDK decoration removed
    this.status = status; // undefined where the SDK does not expose it (pop-core)
    this.requestId = requestId;
    this.body = body; // raw error body where the SDK exposes it
    this.cause = cause;
  }
}

// ---------------------------------------------------------------------------------------
// server process

// KMSD_TEST_STORE=postgres: every server gets a fresh database on KMSD_TEST_POSTGRES_URL.
function storeArgs() {
  if (process.env.KMSD_TEST_STORE !== 'postgres') return [];
  const admin = process.env.KMSD_TEST_POSTGRES_URL;
  const name = `kmsd_sdk_${crypto.randomUUID().replaceAll('-', '')}`;
  execFileSync('psql', [admin, '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE ${name}`]);
  return ['--store', `${admin.split('?')[0].replace(/\/[^/]*$/, '')}/${name}`];
}

// KMSD_TEST_ROOT_URI_PREFIX/_SUFFIX (tests/sdk/run.sh with KMSD_TEST_ROOT=pkcs11): every server
// keeps its root key in the SoftHSM2 token run.sh made, under a key label of its own.
function rootArgs() {
  const prefix = process.env.KMSD_TEST_ROOT_URI_PREFIX;
  if (!prefix) return [];
  return ['--root-key-pkcs11', `${prefix}root-${crypto.randomUUID()}${process.env.KMSD_TEST_ROOT_URI_SUFFIX}`];
}

/** The `--store URL` and `--root-key-pkcs11 URI` pairs of a kmsd command line, if any: what
 * `kmsd admin` needs to reach the same deployment. */
function storeArgsOf(args) {
  return ['--store', '--root-key-pkcs11'].flatMap((flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args.slice(i, i + 2) : [];
  });
}

export async function startKmsd(extraArgs = []) {
  try {
    fs.accessSync(KMSD_BIN, fs.constants.X_OK);
  } catch {
    throw new Error(`kmsd binary not found or not executable: ${KMSD_BIN} (build it, or set KMSD_BIN)`);
  }
  const workdir = fs.mkdtempSync(path.join(os.tmpdir(), 'kmsd-node-'));
  const dataDir = path.join(workdir, 'data');
  fs.mkdirSync(dataDir);
  const stderrPath = path.join(workdir, 'kmsd.stderr.log');
  const stderrFd = fs.openSync(stderrPath, 'w');
  const args = ['--listen', '127.0.0.1:0', '--data-dir', dataDir, ...storeArgs(), ...rootArgs(), ...extraArgs];
  const proc = spawn(KMSD_BIN, args, {
    env: {
      ...process.env,
      KMSD_BOOTSTRAP_ACCESS_KEY_ID: ACCESS_KEY_ID,
      KMSD_BOOTSTRAP_ACCESS_KEY_SECRET: ACCESS_KEY_SECRET,
    },
    stdio: ['ignore', 'pipe', stderrFd],
  });
  fs.closeSync(stderrFd);
  const stderrTail = () => {
    try {
      return fs.readFileSync(stderrPath, 'utf8').split('\n').slice(-60).join('\n');
    } catch {
      return '';
    }
  };
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  // safety net: never leave a server behind if this test process ends without after() running
  const reap = () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); };
  process.once('exit', reap);

  const lines = readline.createInterface({ input: proc.stdout });
  let timer;
  const firstLine = await Promise.race([
    new Promise((resolve) => lines.once('line', resolve)),
    exited.then(({ code, signal }) => `<exited: code ${code}, signal ${signal}>`),
    new Promise((resolve) => { timer = setTimeout(resolve, STARTUP_TIMEOUT_MS, `<nothing in ${STARTUP_TIMEOUT_MS} ms>`); }),
  ]);
  clearTimeout(timer);
  lines.on('line', () => {}); // keep draining stdout (the contract says one line only)
  const m = /^kmsd listening on (https?:\/\/\S+)$/.exec(String(firstLine).trim());
  if (!m) {
    proc.kill('SIGKILL');
    const message = `kmsd did not print 'kmsd listening on <url>' (got ${JSON.stringify(firstLine)})\n` +
      `command: ${KMSD_BIN} ${args.join(' ')}\n--- stderr ---\n${stderrTail()}`;
    fs.rmSync(workdir, { recursive: true, force: true });
    throw new Error(message);
  }
  const url = /(https?:\/\/\S+)/.exec(m[0])[1];
  let stopped = false;
  return {
    url,
    hostPort: new URL(url).host,
    workdir,
    // `kmsd admin access-key <args>` on this server's data dir and store; its stdout as fields.
    admin(...adminArgs) {
      const out = this.adminGroup('access-key', ...adminArgs);
      return Object.fromEntries(out.split('\n').filter((l) => l.includes(': ')).map((l) => l.split(': ')));
    },
    // `kmsd admin <group> <args>` on this server's data dir and store; its stdout.
    adminGroup(group, ...adminArgs) {
      const kmsd = path.join(path.dirname(KMSD_BIN), 'kmsd'); // also when KMSD_BIN is kms-cluster
      const env = { ...process.env };
      delete env.KMSD_STORE;
      delete env.KMSD_DATA_DIR;
      return execFileSync(kmsd, ['admin', group, ...adminArgs, '--data-dir', dataDir, ...storeArgsOf(args)],
        { env, encoding: 'utf8' });
    },
    stderrTail,
    client: (mode, creds = {}) => makeClient(mode, url, creds),
    // --dev-clock only: plain unsigned POST /-/clock/advance?seconds=N; kmsd runs the jobs that
    // became due before answering {RequestId, Now, Destroyed, Rotated}.
    async advanceClock(seconds) {
      const res = await fetch(`${url}/-/clock/advance?seconds=${seconds}`, { method: 'POST' });
      assert.equal(res.status, 200);
      const body = await res.json();
      assert.deepEqual(Object.keys(body).sort(), ['Destroyed', 'Now', 'RequestId', 'Rotated'], JSON.stringify(body));
      assert.ok(typeof body.RequestId === 'string' && body.RequestId.length > 0);
      assert.match(body.Now, DATE_RE);
      for (const n of ['Destroyed', 'Rotated']) assert.ok(Number.isInteger(body[n]) && body[n] >= 0, JSON.stringify(body));
      return body;
    },
    async stop() {
      assert.equal(stopped, false, 'stop() called twice');
      stopped = true;
      assert.equal(proc.exitCode, null, `kmsd died during the tests\n--- stderr ---\n${stderrTail()}`);
      proc.kill('SIGTERM');
      let timer;
      const result = await Promise.race([
        exited,
        new Promise((resolve) => { timer = setTimeout(resolve, SHUTDOWN_TIMEOUT_MS, null); }),
      ]);
      clearTimeout(timer);
      if (result === null) {
        proc.kill('SIGKILL');
        await exited;
        assert.fail(`kmsd did not exit within ${SHUTDOWN_TIMEOUT_MS} ms of SIGTERM\n--- stderr ---\n${stderrTail()}`);
      }
      process.removeListener('exit', reap);
      assert.deepEqual(result, { code: 0, signal: null }, `kmsd exit after SIGTERM\n--- stderr ---\n${stderrTail()}`);
      fs.rmSync(workdir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------
// clients

function contextAsString(params) {
  const out = { ...params };
  if (out.EncryptionContext !== undefined && typeof out.EncryptionContext !== 'string') {
    out.EncryptionContext = JSON.stringify(out.EncryptionContext);
  }
  return out;
}

const lcfirst = (s) => s[0].toLowerCase() + s.slice(1);

// `securityToken`: temporary (STS) credentials, passed the way each SDK takes them.
function makeClient(mode, url, { accessKeyId = ACCESS_KEY_ID, accessKeySecret = ACCESS_KEY_SECRET, securityToken } = {}) {
  const { protocol, host } = new URL(url);
  const scheme = protocol.replace(':', '');

  if (mode === 'pop-get' || mode === 'pop-post') {
    const client = new RPCClient({ endpoint: url, apiVersion: API_VERSION, accessKeyId, accessKeySecret, securityToken });
    const opts = { timeout: 30_000, ...(mode === 'pop-post' ? { method: 'POST' } : {}) };
    return {
      mode,
      async call(action, params = {}) {
        try {
          // json-bigint hands back null-prototype objects: make them plain for deepEqual
          return JSON.parse(JSON.stringify(await client.request(action, contextAsString(params), opts)));
        } catch (e) {
          // pop-core ignores the HTTP status and throws on any body with a Code
          if (!e.data || typeof e.code !== 'string') throw e;
          assert.equal(e.name, `${e.code}Error`);
          throw new ApiError(mode, e.code, undefined, e.data.RequestId, e.data, e);
        }
      },
    };
  }

  if (mode === 'tea-rpc') {
    const KmsClient = kmsPkg.default;
    const client = new KmsClient(new RpcConfig({
      accessKeyId, accessKeySecret, securityToken, regionId: REGION, endpoint: host, protocol: scheme,
      readTimeout: 30_000, connectTimeout: 10_000,
    }));
    return {
      mode,
      async call(action, params = {}) {
        const runtime = new RuntimeOptions({});
        const Request = kmsPkg[`${action}Request`];
        const method = client[`${lcfirst(action)}Ex`];
        try {
          if (Request && method) {
            // typed request model: property names from the wire names
            const names = Request.names();
            const byWire = Object.fromEntries(Object.entries(names).map(([prop, wire]) => [wire, prop]));
            const map = {};
            for (const [wire, value] of Object.entries(params)) {
              assert.ok(byWire[wire], `${action}Request has no field ${wire}`);
              map[byWire[wire]] = value;
            }
            const response = await method.call(client, new Request(map), runtime);
            return $tea.toMap(response);
          }
          // 1.2.0 has no typed method for this action (OpenKmsService, DescribeAccountKmsStatus):
          // use the SDK's own generic RPC entry point, as a user would.
          return await client.doRequest(action, 'HTTPS', 'POST', API_VERSION, 'AK',
            Object.fromEntries(Object.entries(contextAsString(params)).map(([k, v]) => [k, String(v)])),
            null, runtime);
        } catch (e) {
          if (!e.data || typeof e.code !== 'string') throw e;
          // rpc-client decorates the code: `${Code}Error`; the status is only in the message
          assert.ok(e.code.endsWith('Error'), e.code);
          const status = /code: (\d{3}),/.exec(e.message);
          throw new ApiError(mode, e.code.slice(0, -'Error'.length), status ? Number(status[1]) : undefined,
            e.data.RequestId, e.data, e);
        }
      },
    };
  }

  if (mode === 'openapi-v3' || mode === 'openapi-v2') {
    const OpenApiClient = openapi.default;
    const config = new openapi.Config({
      accessKeyId, accessKeySecret, securityToken, regionId: REGION, endpoint: host, protocol: scheme,
      readTimeout: 30_000, connectTimeout: 10_000,
    });
    if (mode === 'openapi-v2') config.signatureAlgorithm = 'v2';
    const client = new OpenApiClient(config);
    return {
      mode,
      async call(action, params = {}) {
        // what a generated Tea SDK does for a KMS RPC action: every parameter in the query
        const query = Object.fromEntries(Object.entries(contextAsString(params)).map(([k, v]) => [k, String(v)]));
        const apiParams = new openapi.Params({
          action, version: API_VERSION, protocol: 'HTTPS', pathname: '/', method: 'POST',
          authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
        });
        try {
          const response = await client.callApi(apiParams, new openapi.OpenApiRequest({ query }),
            new RuntimeOptions({}));
          assert.equal(response.statusCode, 200);
          return response.body;
        } catch (e) {
          if (!e.data || typeof e.code !== 'string') throw e;
          throw new ApiError(mode, e.code, e.statusCode, e.data.RequestId, e.data, e);
        }
      },
    };
  }

  throw new Error(`unknown mode ${mode}`);
}

// ---------------------------------------------------------------------------------------
// assertions and builders

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const KEY_ARN_RE = new RegExp(`^acs:kms:${REGION}:(\\d{16}):key/(.+)$`);
export const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const ERROR_BODY_FIELDS = ['RequestId', 'HostId', 'Code', 'Message', 'Recommend', 'HttpStatus'];

export const b64 = (buf) => Buffer.from(buf).toString('base64');
export const unb64 = (s) => {
  assert.match(s, /^[A-Za-z0-9+/]*={0,2}$/, `not base64: ${s}`);
  return Buffer.from(s, 'base64');
};
export const randomUuid = () => crypto.randomUUID();
export const unique = () => crypto.randomUUID().replaceAll('-', '').slice(0, 12);

export function assertRequestId(body) {
  assert.equal(typeof body.RequestId, 'string');
  assert.ok(body.RequestId.length > 0);
}

/** Calls and asserts the exact Code, and the HTTP status where the SDK exposes it. */
export async function expectError(kms, action, params, code, status) {
  let err;
  try {
    await kms.call(action, params);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ApiError, `${kms.mode} ${action}: expected ${code}, got ${err ? err.stack : 'success'}`);
  assert.equal(err.code, code, `${kms.mode} ${action} ${JSON.stringify(params)}: ${err.message}`);
  if (err.status !== undefined) assert.equal(err.status, status, err.message);
  assert.ok(err.requestId, `no RequestId: ${err.message}`);
  const missing = ERROR_BODY_FIELDS.filter((f) => !(f in err.body));
  assert.deepEqual(missing, [], `error body lacks fields: ${JSON.stringify(err.body)}`);
  assert.equal(err.body.Code, code);
  assert.equal(Number(err.body.HttpStatus), status, JSON.stringify(err.body));
  return err;
}

export async function createKey(kms, params = {}) {
  const body = await kms.call('CreateKey', params);
  assertRequestId(body);
  assert.match(body.KeyMetadata.KeyId, UUID_RE);
  return body.KeyMetadata;
}

export async function createAlias(kms, keyId, name = `alias/sdk-node-${unique()}`) {
  assertRequestId(await kms.call('CreateAlias', { AliasName: name, KeyId: keyId }));
  return name;
}

/** Walks all pages of a List* action; returns {items, total} after checking the paging fields. */
export async function listAll(kms, action, outer, inner, params = {}, pageSize = 100) {
  const items = [];
  let total;
  for (let page = 1; page < 1000; page++) {
    const body = await kms.call(action, { ...params, PageNumber: page, PageSize: pageSize });
    assertRequestId(body);
    assert.equal(Number(body.PageNumber), page);
    assert.equal(Number(body.PageSize), pageSize);
    total ??= Number(body.TotalCount);
    assert.equal(Number(body.TotalCount), total, 'TotalCount changed while paging');
    const chunk = body[outer][inner];
    assert.ok(chunk.length <= pageSize);
    items.push(...chunk);
    if (chunk.length === 0 || items.length >= total) break;
  }
  assert.equal(items.length, total, `${action}: ${items.length} items over all pages, TotalCount ${total}`);
  return { items, total };
}
