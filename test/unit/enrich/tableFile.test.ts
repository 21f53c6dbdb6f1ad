import { describe, expect, it } from 'vitest';
import { cacheDirOf, NameList, packTables, unpackTables, type Tables } from '../../../src/enrich/tableFile.js';

const TABLES: Tables = {
  head: { name: 'sample', rows: 3 },
  arrays: [
    Uint32Array.of(1, 2, 0xffffffff),
    Int32Array.of(-5, 7),
    new BigUint64Array([1n << 63n, 9n]),
    new Uint32Array(0),
  ],
  tail: Buffer.from('naïve\nnames', 'utf8'),
};

describe('table files', () => {
  it('read back the arrays, head and tail they were made from', () => {
    const back = unpackTables(packTables('magic-v1\n', 'src 1', TABLES), 'magic-v1\n', 'src 1');
    expect(back?.head).toEqual(TABLES.head);
    expect(back?.arrays).toEqual(TABLES.arrays);
    expect(back?.tail.toString('utf8')).toBe('naïve\nnames');
  });

  it('read back from a buffer that is not 8-byte aligned, by copying', () => {
    const bytes = packTables('m\n', 's', TABLES);
    const odd = Buffer.alloc(bytes.length + 3).subarray(3);
    bytes.copy(odd);
    const back = unpackTables(odd, 'm\n', 's');
    expect(back?.arrays).toEqual(TABLES.arrays);
    expect(back?.arrays[2]!.buffer).not.toBe(odd.buffer);
  });

  it('are views on the file buffer when it is aligned', () => {
    const bytes = Buffer.from(new ArrayBuffer(packTables('m\n', 's', TABLES).length));
    packTables('m\n', 's', TABLES).copy(bytes);
    expect(unpackTables(bytes, 'm\n', 's')?.arrays[0]!.buffer).toBe(bytes.buffer);
  });

  it('are refused when made with another magic or from another source, or damaged', () => {
    const bytes = packTables('m\n', 's', TABLES);
    expect(unpackTables(bytes, 'n\n', 's')).toBeUndefined();
    expect(unpackTables(bytes, 'm\n', 't')).toBeUndefined();
    expect(unpackTables(bytes.subarray(0, bytes.length - 1), 'm\n', 's')).toBeUndefined();
    expect(unpackTables(Buffer.concat([bytes, Buffer.from('x')]), 'm\n', 's')).toBeUndefined();
    expect(unpackTables(Buffer.from('m\n{"source":'), 'm\n', 's')).toBeUndefined();
    const text = bytes.toString('latin1');
    for (const [from, to] of [
      ['"u32",3', '"f64",3'],
      ['"u32",3', '"u32",-3'],
      ['"u32",3', '"u32",300000'],
      ['"le":true', '"le":false'],
    ]) {
      expect(text.includes(from!)).toBe(true);
      expect(unpackTables(Buffer.from(text.replace(from!, to!), 'latin1'), 'm\n', 's')).toBeUndefined();
    }
  });

  it('are kept in node_modules/.cache/authwatch of the install the package is in', () => {
    expect(cacheDirOf('/srv/app/node_modules/@scope/pkg/package.json')).toBe('/srv/app/node_modules/.cache/authwatch');
    expect(cacheDirOf('/a/node_modules/x/node_modules/y/package.json')).toBe(
      '/a/node_modules/x/node_modules/.cache/authwatch',
    );
  });
});

describe('name lists', () => {
  it('give back each name, through the bytes and offsets a file keeps', () => {
    const names = ['Göteborg', '', 'São Paulo', '東京', 'a\nb'];
    const { ends, bytes } = NameList.of(names).parts;
    const back = NameList.read(ends, Buffer.from(bytes))!;
    expect(back.length).toBe(5);
    expect(names.map((_, i) => back.get(i))).toEqual(names);
    expect(back.get(1)).toBe('');
    expect(back.get(5)).toBeUndefined();
    expect(back.get(4)).toBe(back.get(4));
  });

  it('are refused when the offsets do not fit the bytes', () => {
    const { ends, bytes } = NameList.of(['ab', 'cd']).parts;
    expect(NameList.read(ends, bytes.subarray(1))).toBeUndefined();
    expect(NameList.read(Int32Array.from(ends), bytes)).toBeUndefined();
    expect(NameList.read(undefined, bytes)).toBeUndefined();
    expect(NameList.read(new Uint32Array(0), Buffer.alloc(0))?.length).toBe(0);
  });
});
