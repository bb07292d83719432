// The embedded console is what its source builds: kmsd's binary includes dist/ as committed,
// so a source change without `npm run build` (or a build that is not reproducible) fails here.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

test('dist/ is the build of the current source, byte for byte', () => {
  const out = mkdtempSync(join(tmpdir(), 'kmsd-console-'));
  try {
    execFileSync(process.execPath, [join(root, 'build.mjs'), '--out', out], { cwd: root, stdio: 'inherit' });
    const committed = readdirSync(join(root, 'dist')).sort();
    assert.deepEqual(readdirSync(out).sort(), committed);
    for (const f of committed) {
      assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(root, 'dist', f))), `dist/${f} is stale: run npm run build in console/`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
