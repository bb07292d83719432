// Development only: serves dist/ at /console/ with the production Content-Security-Policy and
// proxies POST / to a kmsd, keeping the browser's Host header (which the request signs).
//   node dev-server.mjs --kmsd http://127.0.0.1:8080 [--port 8081]
import { createServer, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const kmsd = new URL(opt('kmsd', 'http://127.0.0.1:8080'));
const port = Number(opt('port', '8081'));
const dist = join(dirname(fileURLToPath(import.meta.url)), 'dist');
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";
const TYPES = { 'index.html': 'text/html; charset=utf-8', 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };

createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (req.method === 'POST' && url.pathname === '/') {
    const up = request(
      { hostname: kmsd.hostname, port: kmsd.port, method: 'POST', path: req.url, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', (e) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ Code: 'BadGateway', Message: String(e), RequestId: '' }));
    });
    req.pipe(up);
    return;
  }
  if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/console')) {
    res.writeHead(302, { location: '/console/' });
    res.end();
    return;
  }
  const m = /^\/console\/(index\.html|app\.js|app\.css)?$/.exec(url.pathname);
  if (req.method === 'GET' && m) {
    const file = m[1] || 'index.html';
    const body = await readFile(join(dist, file));
    res.writeHead(200, { 'content-type': TYPES[file], 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
    res.end(body);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
}).listen(port, '127.0.0.1', () => console.log(`console on http://127.0.0.1:${port}/console/ -> kmsd ${kmsd.origin}`));
