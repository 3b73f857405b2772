/**
 * Counts the code lines of job sources for the README's comparison: lines that are not blank,
 * not comments, and not part of an import (or Java package) statement, and the characters of
 * those lines that are not white space (so that long lines cannot hide length). Same rules for
 * TypeScript and Java. Usage: `npx tsx docs/comparison/count-lines.ts FILE...`
 */
import { readFileSync } from 'node:fs';

/** Code lines of `text`, by the rule above, and the characters of those lines that are not white space. */
export function codeSize(text: string): { lines: number; characters: number } {
  let count = 0;
  let characters = 0;
  let inComment = false;
  let inImport = false;
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (inComment) {
      inComment = !line.includes('*/');
      continue;
    }
    if (line.startsWith('/*')) {
      inComment = !line.includes('*/');
      continue;
    }
    if (inImport) {
      inImport = !(line.endsWith(';') || line.startsWith('}'));
      continue;
    }
    if (line === '' || line.startsWith('//') || line.startsWith('*')) continue;
    if (line.startsWith('import ') || line.startsWith('package ')) {
      inImport = !line.endsWith(';') && !line.includes(' from ');
      continue;
    }
    count += 1;
    characters += line.replace(/\s/g, '').length;
  }
  return { lines: count, characters };
}

console.log('lines\tcharacters\tfile');
for (const file of process.argv.slice(2)) {
  const { lines, characters } = codeSize(readFileSync(file, 'utf8'));
  console.log(`${lines}\t${characters}\t${file}`);
}
