// ACS3-HMAC-SHA256 request signing for the Alibaba Cloud KMS API (2016-01-20), with WebCrypto.
//
// Works in the browser and in node >= 20 (globalThis.crypto.subtle). The credentials are only
// ever passed in as arguments; this module keeps nothing.

export const API_VERSION = '2016-01-20';
export const ALGORITHM = 'ACS3-HMAC-SHA256';
export const CONTENT_TYPE = 'application/x-www-form-urlencoded';

const enc = new TextEncoder();

function toBytes(data) {
  if (typeof data === 'string') return enc.encode(data);
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('expected a string or bytes');
}

/** Lower-case hex of bytes. */
export function hex(buffer) {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Lower-case hex SHA-256 of a string (UTF-8) or bytes. */
export async function sha256Hex(data) {
  return hex(await crypto.subtle.digest('SHA-256', toBytes(data)));
}

/** Lower-case hex HMAC-SHA256 with `key` (string, UTF-8) over `message`. */
export async function hmacSha256Hex(key, message) {
  const k = await crypto.subtle.importKey('raw', toBytes(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return hex(await crypto.subtle.sign('HMAC', k, toBytes(message)));
}

/** A fresh nonce: 16 random bytes as 32 lower-case hex characters. */
export function newNonce() {
  return hex(crypto.getRandomValues(new Uint8Array(16)));
}

/** UTC ISO 8601 without milliseconds, e.g. 2026-12-03T18:40:00Z. */
export function acsDate(d = new Date()) {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** RFC 3986 percent-encoding with upper-case hex, as Alibaba canonicalises: only A-Z a-z 0-9 - _ . ~ stay. */
export function percentEncode(s) {
  return encodeURIComponent(String(s)).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** Canonical query string from [name, value] pairs (or an object): encoded, sorted, joined with &. */
export function canonicalQuery(pairs) {
  const list = Array.isArray(pairs) ? pairs : Object.entries(pairs || {});
  const encoded = list.map(([k, v]) => [percentEncode(k), percentEncode(v ?? '')]);
  encoded.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join('&');
}

/**
 * The form body for an action's parameters: `key=value` pairs joined with `&`, each side
 * encoded with encodeURIComponent, in insertion order. `undefined`/`null` values are left out;
 * booleans and numbers are written as strings; arrays/objects must already be JSON strings.
 */
export function encodeForm(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null) continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.join('&');
}

function normaliseHeaders(headers) {
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  const out = list.map(([k, v]) => [String(k).toLowerCase(), String(v).trim()]);
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

/**
 * The ACS3 canonical request (pure; async only for a uniform API):
 *
 *   METHOD \n / \n canonicalQuery \n (name:value \n)* \n signedHeaderNames \n payloadHash
 *
 * `headers`: object or [name, value] pairs of the SIGNED headers only; names are lower-cased
 * and sorted, values trimmed. `query`: [name, value] pairs or object (empty for this console).
 */
export async function canonicalRequest({ method = 'POST', path = '/', query = [], headers, payloadHash }) {
  const hs = normaliseHeaders(headers);
  let out = `${method}\n${path}\n${canonicalQuery(query)}\n`;
  for (const [k, v] of hs) out += `${k}:${v}\n`;
  out += '\n';
  out += hs.map(([k]) => k).join(';');
  out += '\n';
  out += payloadHash;
  return out;
}

/** "ACS3-HMAC-SHA256\n" + hex(sha256(canonicalRequest)). */
export async function stringToSign(canonical) {
  return `${ALGORITHM}\n${await sha256Hex(canonical)}`;
}

/** Lower-case hex HMAC-SHA256 of the string to sign with the secret's UTF-8 bytes. */
export async function signature(secret, sts) {
  return hmacSha256Hex(secret, sts);
}

/**
 * Everything needed to send one signed call, without sending it.
 * opts: { host (required), date?, nonce? } — date/nonce fixed only in tests.
 * Returns { body, headers (to send; no host), signedHeaders, canonical, stringToSign, signature }.
 */
export async function signRequest(creds, action, params, opts) {
  const { host, date = acsDate(), nonce = newNonce() } = opts || {};
  if (!host) throw new TypeError('host is required');
  if (!creds || !creds.accessKeyId || !creds.accessKeySecret) throw new TypeError('credentials are required');
  const body = encodeForm(params);
  const payloadHash = await sha256Hex(body);
  const signed = {
    'content-type': CONTENT_TYPE,
    host,
    'x-acs-action': action,
    'x-acs-content-sha256': payloadHash,
    'x-acs-date': date,
    'x-acs-signature-nonce': nonce,
    'x-acs-version': API_VERSION,
  };
  const canonical = await canonicalRequest({ method: 'POST', path: '/', query: [], headers: signed, payloadHash });
  const sts = await stringToSign(canonical);
  const sig = await signature(creds.accessKeySecret, sts);
  const signedHeaders = Object.keys(signed).sort().join(';');
  const headers = { ...signed };
  delete headers.host; // the user agent sends Host itself; fetch forbids setting it
  headers.authorization = `${ALGORITHM} Credential=${creds.accessKeyId},SignedHeaders=${signedHeaders},Signature=${sig}`;
  return { body, headers, signedHeaders, canonical, stringToSign: sts, signature: sig };
}

/** The error a failed call throws: code, message, requestId, hostId, status, action. */
export class ApiError extends Error {
  constructor({ code, message, requestId = '', hostId = '', status = 0, action = '' }) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
    this.requestId = requestId;
    this.hostId = hostId;
    this.status = status;
    this.action = action;
  }
}

/**
 * Signs and sends one call; resolves to the parsed JSON answer, or throws an ApiError.
 *
 * creds: { accessKeyId, accessKeySecret }; action: e.g. 'ListKeys'; params: plain object.
 * opts: { host, baseUrl, fetch, signal }. In the browser they default to location.host and
 * '' (same origin, POST '/'); node callers pass e.g. { host: '127.0.0.1:8080',
 * baseUrl: 'http://127.0.0.1:8080' }.
 */
export async function signedCall(creds, action, params = {}, opts = {}) {
  const loc = typeof location !== 'undefined' ? location : null;
  const host = opts.host || (loc && loc.host);
  const baseUrl = opts.baseUrl ?? '';
  const doFetch = opts.fetch || globalThis.fetch;
  const req = await signRequest(creds, action, params, { host, date: opts.date, nonce: opts.nonce });
  let res;
  try {
    res = await doFetch(`${baseUrl}/`, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      signal: opts.signal,
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError({ code: 'NetworkError', message: String((e && e.message) || e), action });
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok || !json || typeof json !== "object") {
    throw new ApiError({
      code: (json && json.Code) || `HTTP${res.status}`,
      message: (json && json.Message) || (text ? text.slice(0, 300) : res.statusText || 'Empty answer'),
      requestId: (json && json.RequestId) || res.headers.get('x-acs-request-id') || '',
      hostId: (json && json.HostId) || '',
      status: res.status,
      action,
    });
  }
  return json;
}
