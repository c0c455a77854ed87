// Loads simdopt under the page's Content-Security-Policy and reports what `ready()` did.
import { ready, SimdoptError } from 'simdopt';

declare global {
  interface Window {
    __csp?: { backend?: string; error?: string; code?: string; isSimdoptError?: boolean };
  }
}

ready().then(
  (backend) => (window.__csp = { backend }),
  (e: unknown) => (window.__csp = { error: e instanceof Error ? e.message : String(e), code: (e as SimdoptError).code, isSimdoptError: e instanceof SimdoptError }),
);
