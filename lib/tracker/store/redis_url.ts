/**
 * `--store redis://HOST:PORT[/DB]`: the URL's parser, apart from redis_store.ts so that flag
 * parsing does not load the Redis client.
 * @module
 */

/**
 * Parses `redis://HOST:PORT[/DB]`.
 *
 * @param url the URL
 * @returns host, port and database
 * @throws {TypeError} when it is not such a URL
 */
export function parseRedisUrl(url: string): { host: string; port: number; db: number } {
  const m = /^redis:\/\/(\[[0-9a-fA-F:.]+\]|[^/:\s]+)(?::(\d{1,5}))?(?:\/(\d{1,2}))?\/?$/.exec(url);
  if (!m) {
    throw new TypeError(`Cannot use store "${url}": expected memory or redis://HOST:PORT[/DB]`);
  }
  const port = m[2] === undefined ? 6379 : Number(m[2]);
  if (port < 1 || port > 65535) throw new TypeError(`Cannot use store "${url}": bad port`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port, db: m[3] === undefined ? 0 : Number(m[3]) };
}
