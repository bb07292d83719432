// Reproducible build: dist/{index.html, app.js, app.css}. No hashes, no timestamps, no
// sourcemaps, no absolute paths; run twice and `cmp` the outputs.
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(fileURLToPath(import.meta.url));
// `node build.mjs --out DIR` builds elsewhere (the test that dist/ is current compares).
const outAt = process.argv.indexOf('--out');
const dist = outAt > 0 ? process.argv[outAt + 1] : join(root, 'dist');

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
  metafile: false,
};

await build({
  ...common,
  entryPoints: ['src/main.js'],
  outfile: join(dist, 'app.js'),
  format: 'esm',
  platform: 'browser',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
});

await build({
  ...common,
  entryPoints: ['src/app.css'],
  outfile: join(dist, 'app.css'),
  target: ['chrome90', 'firefox90', 'safari15'],
});

await copyFile(join(root, 'index.html'), join(dist, 'index.html'));

const files = (await readdir(dist)).sort();
const expected = ['app.css', 'app.js', 'index.html'];
if (files.join(',') !== expected.join(',')) {
  throw new Error(`unexpected dist contents: ${files.join(', ')}`);
}
