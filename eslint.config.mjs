// ESLint over the TypeScript facade, the tests, the examples, the benchmarks and the tools (flat
// config). Formatting is Prettier's (.prettierrc.json); these rules catch mistakes, not style.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What every JavaScript host has (Node and browsers). */
const shared = Object.fromEntries(
  [
    'console',
    'performance',
    'URL',
    'URLSearchParams',
    'setTimeout',
    'clearTimeout',
    'structuredClone',
    'TextEncoder',
    'TextDecoder',
    'fetch',
    'globalThis',
    'queueMicrotask',
    'WebAssembly',
  ].map((g) => [g, 'readonly']),
);
const node = Object.fromEntries(['process', 'Buffer'].map((g) => [g, 'readonly']));
const browser = Object.fromEntries(['window', 'document', 'location', 'self', 'Worker', 'postMessage', 'requestAnimationFrame', 'addEventListener'].map((g) => [g, 'readonly']));

export default tseslint.config(
  { ignores: ['dist/**', 'ts/wasm/generated/**', 'tests/fixtures/**', 'node_modules/**', 'target/**', 'fuzz/**', '.build/**', 'pkg/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter or binding kept for its position or its type.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Keras' API takes "anything": `any` stays where a caller's value is not known yet.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  { files: ['**/*.mjs', '**/*.js'], languageOptions: { globals: { ...shared, ...node } } },
  { files: ['examples/browser/**', 'tests/browser/**', 'tests/bundlers/app/**'], languageOptions: { globals: { ...shared, ...browser } } },
  // Tests strip terminal colours (\x1b) from tools' output.
  { files: ['tests/**'], rules: { 'no-control-regex': 'off' } },
);
