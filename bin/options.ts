/** Parsers for command-line option values, each failing with the flag's name and the bad value. */
import { InvalidArgumentError } from 'commander';

export function integerOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`${flag} must be an integer from ${min} to ${max}, got '${value}'`);
    }
    return n;
  };
}

export function portOption(flag: string): (value: string) => number {
  return integerOption(flag, 0, 65535);
}
