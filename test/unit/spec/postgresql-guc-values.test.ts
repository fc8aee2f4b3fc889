/**
 * PostgreSQL's own reading of parameter values (guc.c), as the checker reproduces it: the quirks
 * of strtol/strtod, units, and rounding. The real server's verdicts are in
 * test/tools/postgresql-catalogue.test.ts; these pin the numbers PostgreSQL makes of each text.
 */
import { baseUnit, lookupGucEnum, parseGucBool, parseGucInt, parseGucReal, rint } from '../../../src/spec/postgresql-guc-values';

const kB = baseUnit('kB');
const blocks = baseUnit('8kB');
const ms = baseUnit('ms');
const s = baseUnit('s');

describe('rint', () => {
  test.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [-2.5, -2],
    [-1.5, -2],
    [2.4999, 2],
    [2.5001, 3],
  ])('rounds %p to %p (halves to even)', (value, rounded) => {
    expect(rint(value)).toBe(rounded);
  });
});

describe('parseGucBool', () => {
  test.each([
    ['t', true],
    ['TRUE', true],
    ['tru', true],
    ['y', true],
    ['on', true],
    ['1', true],
    ['f', false],
    ['No', false],
    ['of', false],
    ['OFF', false],
    ['0', false],
  ])('reads %p as %p', (text, value) => {
    expect(parseGucBool(text)).toBe(value);
  });

  test.each([[''], ['o'], ['truex'], ['onn'], ['offf'], ['10'], [' on'], ['on '], ['2']])('refuses %p', (text) => {
    expect(parseGucBool(text)).toBeUndefined();
  });
});

describe('lookupGucEnum', () => {
  test('matches ignoring ASCII case, nothing trimmed', () => {
    expect(lookupGucEnum('RePlIcA', ['minimal', 'replica'])).toBe('replica');
    expect(lookupGucEnum(' replica', ['minimal', 'replica'])).toBeUndefined();
  });
});

describe('parseGucInt', () => {
  test.each<[string, number]>([
    ['16', 16],
    ['  16  ', 16],
    ['0x10', 16],
    ['010', 8],
    ['1e3', 1000],
    ['.5', 0],
    ['1.5', 2],
    ['2.5', 2],
    ['0x1.8', 2],
    ['-0', 0],
    ['1MB', 1024],
    ['1.5MB', 1536],
    ['1 GB', 1048576],
    ['100B', 0],
    ['1TB', 1073741824],
  ])('reads %p in kB as %p', (text, value) => {
    expect(parseGucInt(text, kB)).toEqual({ ok: true, value });
  });

  test('rounds a fraction to the next smaller unit first: 1.0001GB is 1GB and 1MB, not a kB more', () => {
    expect(parseGucInt('1.0001GB', kB)).toEqual({ ok: true, value: 1048576 + 1024 * rint(0.0001 * 1024) });
  });

  test('counts blocks and time in the parameter\'s unit', () => {
    expect(parseGucInt('128MB', blocks)).toEqual({ ok: true, value: 16384 });
    expect(parseGucInt('64kB', blocks)).toEqual({ ok: true, value: 8 });
    expect(parseGucInt('1500us', ms)).toEqual({ ok: true, value: 2 });
    expect(parseGucInt('1.5min', s)).toEqual({ ok: true, value: 90 });
    expect(parseGucInt('1d', s)).toEqual({ ok: true, value: 86400 });
  });

  test.each<[string, string]>([
    ['', 'syntax'],
    ['lots', 'syntax'],
    // strtol stops after "0" (octal) or "1": what is left is read as a unit.
    ['08', 'unit'],
    ['0x', 'unit'],
    ['1e', 'unit'],
    [' .5', 'syntax'],
    ['-.5', 'syntax'],
    ['nan', 'syntax'],
    ['1e400', 'syntax'],
    ['16mb', 'unit'],
    ['16 KB', 'unit'],
    ['16MBs', 'unit'],
    ['16 M B', 'unit'],
    ['5s', 'unit'],
    ['3000000000', 'overflow'],
    ['2147483648', 'overflow'],
    ['inf', 'syntax'],
  ])('refuses %p (%s)', (text, reason) => {
    expect(parseGucInt(text, kB)).toEqual({ ok: false, reason });
  });

  test('refuses a unit where the parameter has none', () => {
    expect(parseGucInt('5kB', undefined)).toEqual({ ok: false, reason: 'syntax' });
  });

  test('takes the extremes of a C int', () => {
    expect(parseGucInt('2147483647', undefined)).toEqual({ ok: true, value: 2147483647 });
    expect(parseGucInt('-2147483648', undefined)).toEqual({ ok: true, value: -2147483648 });
    expect(parseGucInt('-2147483649', undefined)).toEqual({ ok: false, reason: 'overflow' });
  });
});

describe('parseGucReal', () => {
  test.each<[string, number]>([
    ['0.5', 0.5],
    ['.5', 0.5],
    ['-.5', -0.5],
    ['2.', 2],
    ['1.5e-7', 1.5e-7],
    ['0x1p-2', 0.25],
    ['0x1.8', 1.5],
    [' 4 ', 4],
    ['infinity', Infinity],
    ['2.2250738585072014e-308', 2.2250738585072014e-308],
  ])('reads %p as %p', (text, value) => {
    expect(parseGucReal(text, undefined)).toEqual({ ok: true, value });
  });

  test('keeps a fraction of the smallest unit, and rounds to the next smaller one otherwise', () => {
    expect(parseGucReal('500us', ms)).toEqual({ ok: true, value: 0.5 });
    expect(parseGucReal('1.0004s', ms)).toEqual({ ok: true, value: 1000 });
  });

  test.each([['nan'], ['1e-310'], ['4.9e-324'], ['1e400'], ['1.7977e308'], ['x'], ['1,5']])('refuses %p', (text) => {
    expect(parseGucReal(text, undefined)).toEqual({ ok: false, reason: 'syntax' });
  });
});

test('baseUnit knows every unit pg_settings uses and nothing else', () => {
  expect(['B', 'kB', 'MB', '8kB', 'ms', 's', 'min'].map((unit) => baseUnit(unit)?.size)).toEqual([1, 1024, 1048576, 8192, 1000, 1_000_000, 60_000_000]);
  expect(() => baseUnit('16MB-ish')).toThrow(/unknown PostgreSQL unit "16MB-ish"/);
});
