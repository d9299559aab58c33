import { describe, expect, it } from 'vitest';
import { checkConnectionUrl, checkDatabaseName, composeConnection, splitConnection } from './connection';

describe('connection URL and password', () => {
  it('puts a percent-encoded password into the userinfo', () => {
    expect(composeConnection('postgres://app@db:5432/orders', 'p@ss:w/rd')).toBe(
      'postgres://app:p%40ss%3Aw%2Frd@db:5432/orders',
    );
  });
  it('leaves the URL alone without a password', () => {
    expect(composeConnection(' mysql://root@db/x ', '')).toBe('mysql://root@db/x');
  });
  it('replaces a password already in the URL', () => {
    expect(composeConnection('postgres://app:old@db/orders', 'new')).toBe('postgres://app:new@db/orders');
  });
  it('takes a pasted password out of the URL', () => {
    expect(splitConnection('postgres://app:s%40cret@db:5432/orders?sslmode=require')).toEqual({
      url: 'postgres://app@db:5432/orders?sslmode=require',
      password: 's@cret',
    });
  });
  it('drops the server redaction *** rather than treating it as a password', () => {
    expect(splitConnection('postgres://app:***@db:5432/orders')).toEqual({ url: 'postgres://app@db:5432/orders', password: '' });
  });
  it('flags a URL of the wrong engine', () => {
    expect(checkConnectionUrl('mysql://x@y/z', 'postgres')).toMatch(/postgres:\/\//);
    expect(checkConnectionUrl('mariadb://x@y/z', 'mysql')).toBeNull();
  });
  it('checks a database name as the server does', () => {
    expect(checkDatabaseName('orders-2.eu_west')).toBeNull();
    expect(checkDatabaseName('  ')).toBe('Enter a name.');
    expect(checkDatabaseName('_x')).toMatch(/start with a letter or a digit/);
    expect(checkDatabaseName('bad name!')).toMatch(/it has a space\./);
    expect(checkDatabaseName('bad/name')).toMatch(/it has “\/”\./);
    expect(checkDatabaseName('a'.repeat(64))).toMatch(/64 characters long; at most 63/);
    expect(checkDatabaseName('a'.repeat(63))).toBeNull();
  });
});
