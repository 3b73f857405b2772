#!/usr/bin/env node
// Package entry point for `npx eddy`: Eddy runs its TypeScript sources through tsx (no build step).
// Node's on-disk compile cache (Node 22.1+) keeps V8's compiled code between runs: every process
// of a cluster starts by loading much the same code.
import module from 'node:module';
import { register } from 'tsx/esm/api';

module.enableCompileCache?.();
// kafkajs 2.2.4 sets timers at a negative delay (tulios/kafkajs#1751); Node clamps them to 1 ms
// as it always did, but since Node 24 also warns, once per process. Every other warning is
// printed as Node prints it.
const [nodeWarningPrinter] = process.listeners('warning');
if (nodeWarningPrinter !== undefined) {
  process.off('warning', nodeWarningPrinter);
  process.on('warning', (warning) => {
    if (warning.name !== 'TimeoutNegativeWarning') nodeWarningPrinter(warning);
  });
}
register();
await import('./eddy.ts');
