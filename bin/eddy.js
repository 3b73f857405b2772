#!/usr/bin/env node
// Package entry point for `npx eddy`: Eddy runs its TypeScript sources through tsx (no build step).
// Node's on-disk compile cache (Node 22.1+) keeps V8's compiled code between runs: every process
// of a cluster starts by loading much the same code.
import module from 'node:module';
import { register } from 'tsx/esm/api';

// npm ci installs Node 24 into node_modules on Linux, and npm scripts and npx run Eddy on it; a
// plain `node bin/eddy.js` runs on whatever Node is first on PATH.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 22)) {
  console.error(`eddy: needs Node 22.22 or newer, found ${process.version}. Run it through npm or npx (npm start, npx eddy ...), which use the Node 24 that npm ci installs into node_modules, or put that Node first: PATH=$PWD/node_modules/.bin:$PATH`);
  process.exit(1);
}

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
