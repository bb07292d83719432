// The session: credentials live only in this module's variable (memory), never in storage,
// cookies, the URL or the history. A reload therefore signs out.

import { signedCall, ApiError } from './sign.js';

let creds = null;
let pending = 0;
const listeners = new Set();

export function signIn(accessKeyId, accessKeySecret) {
  creds = Object.freeze({ accessKeyId, accessKeySecret });
}

export function signOut() {
  creds = null;
}

export function signedIn() {
  return creds !== null;
}

export function accessKeyId() {
  return creds ? creds.accessKeyId : '';
}

/** Subscribe to the number of calls in flight (for the loading indicator). */
export function onPending(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setPending(n) {
  pending = n;
  for (const fn of listeners) fn(pending);
}

/** One signed call with the session's credentials. */
export async function call(action, params = {}, opts = {}) {
  if (!creds) throw new ApiError({ code: 'NotSignedIn', message: 'Sign in first.', action });
  const used = creds;
  setPending(pending + 1);
  try {
    return await signedCall(used, action, params, opts);
  } finally {
    setPending(pending - 1);
  }
}

/** Checks credentials before keeping them: a cheap call that must verify the signature. */
export async function verify(accessKeyId, accessKeySecret, opts = {}) {
  setPending(pending + 1);
  try {
    await signedCall({ accessKeyId, accessKeySecret }, 'ListKeys', { PageNumber: 1, PageSize: 1 }, opts);
  } catch (e) {
    // A policy that denies ListKeys still proves the signature was right.
    if (!(e && e.code === 'Forbidden.NoPermission')) throw e;
  } finally {
    setPending(pending - 1);
  }
}
