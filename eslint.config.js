// Lint rules: typescript-eslint's recommended type-aware set, plus the few habits from
// ../shared/STYLE.md that a linter can hold (no floating promises, no swallowed errors).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['scratch/', 'node_modules/', 'coverage/', '.eddy/', 'loadtest/k6/**/*.js', 'bin/eddy.js', '**/*.generated.*', 'proto/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', 'vitest.config.ts'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The dashboard page runs in the browser, with uPlot loaded before it.
    files: ['coordinator/dashboard/page/*.js'],
    languageOptions: { sourceType: 'script', globals: {
      document: 'readonly', window: 'readonly', Node: 'readonly', uPlot: 'readonly', fetch: 'readonly', location: 'readonly', history: 'readonly',
      sessionStorage: 'readonly', TextDecoderStream: 'readonly', setTimeout: 'readonly',
    } },
  },
);
