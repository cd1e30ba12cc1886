import { readFileSync } from 'node:fs';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, flywayChecksum } from '../../src/ledger/checksum.js';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  engines: { node: string };
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('package.json', () => {
  it('asks for a Node that has zlib.crc32 (20.15)', () => {
    const [major, minor] = pkg.engines.node.replace(/^>=\s*/, '').split('.').map(Number);
    expect(major! > 20 || (major === 20 && minor! >= 15)).toBe(true);
  });

  it('runtime dependencies are used by src (yaml is a test-only dependency)', () => {
    expect(pkg.dependencies.yaml).toBeUndefined();
    expect(pkg.devDependencies.yaml).toBeDefined();
  });

  it('ships the --json schema', () => {
    expect(pkg.files).toContain('schema');
    expect(() => JSON.parse(readFileSync('schema/ghostwright-output.schema.json', 'utf8'))).not.toThrow();
  });
});

describe('crc32 is zlib.crc32', () => {
  it('gives the java.util.zip.CRC32 values Flyway checksums rest on', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('hello'))).toBe(zlibCrc32('hello'));
    expect(flywayChecksum('CREATE TABLE a (id INT);')).toBe(crc32(Buffer.from('CREATE TABLE a (id INT);')) | 0);
  });
});
