// `npm run demo:browser`: bundles the browser page (main.mjs, with @tensorflow/tfjs, simdopt and
// the iris data) with esbuild, serves it on 127.0.0.1 only, and prints the URL. Ctrl-C stops it.
//
//   node examples/browser/serve.mjs [--port 8765]     (--port 0: any free port)
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values: args } = parseArgs({ options: { port: { type: 'string', default: process.env.PORT ?? '8765' } } });

/** The page's module: everything in one ES module ('simdopt' is this repository's dist/). */
async function bundle() {
  const out = await build({
    entryPoints: [join(HERE, 'main.mjs')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'warning',
  });
  return out.outputFiles[0].contents;
}

const t0 = performance.now();
const js = await bundle();
const html = readFileSync(join(HERE, 'index.html'));
console.log(`bundled examples/browser/main.mjs: ${(js.length / 1e6).toFixed(2)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const server = createServer((req, res) => {
  const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
  if (path === '/' || path === '/index.html') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  else if (path === '/main.js') res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(js);
  else if (path === '/favicon.ico') res.writeHead(204).end();
  else res.writeHead(404).end('not found');
});

function listen(port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

let port;
try {
  port = await listen(Number(args.port));
} catch (e) {
  if (e.code !== 'EADDRINUSE') throw e;
  port = await listen(0); // the default port is taken: any free one
}
console.log(`simdopt browser demo: http://127.0.0.1:${port}/`);
console.log('(open it in a browser; Ctrl-C stops the server)');
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
