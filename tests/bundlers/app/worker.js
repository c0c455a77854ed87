// The Worker of the bundler test app: the same workload as the page.
import { init } from './init.js';
import { run } from './workload.mjs';

init()
  .then(() => run())
  .then(
    (r) => postMessage(r),
    (e) => postMessage({ error: String(e && e.stack ? e.stack : e) }),
  );
