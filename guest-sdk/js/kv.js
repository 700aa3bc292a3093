/**
 * The key-value store: the plugin's persistent data, over `wasi:keyvalue`.
 *
 * Each plugin sees only its own data (the host namespaces it by plugin name), in buckets
 * opened by name. Values are bytes; the `Json` methods store values as JSON text. An
 * instance keeps the buckets it opened, so opening one again on the next request costs
 * nothing, and each operation is one call into the host.
 *
 * Keys are at most 1 KiB, values 16 MiB, batches 1000 keys.
 *
 * @module
 */

import { open } from 'wasi:keyvalue/store@0.2.0-draft';
import { increment } from 'wasi:keyvalue/atomics@0.2.0-draft';
import { getMany, setMany, deleteMany } from 'wasi:keyvalue/batch@0.2.0-draft';
import { toJson } from './json.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A key-value operation that failed: the store is broken or refused it. */
export class KeyValueError extends Error {
  constructor(message) {
    super(message);
    this.name = 'KeyValueError';
  }
}

/** @type {Map<string, Bucket>} The buckets this instance has opened, by name. */
const opened = new Map();

/** A named bucket of keys in the plugin's store. */
export class Bucket {
  #name;
  #inner;

  /** Use {@link Bucket.open}. */
  constructor(name, inner) {
    this.#name = name;
    this.#inner = inner;
  }

  /**
   * Opens the bucket called `name` (created on first write); `''` is the default
   * bucket. Not at module top level: that code runs when the plugin is built.
   *
   * @param {string} name
   * @returns {Bucket}
   */
  static open(name) {
    name = String(name);
    let bucket = opened.get(name);
    if (bucket === undefined) {
      bucket = new Bucket(name, call('open', name, () => open(name)));
      opened.set(name, bucket);
    }
    return bucket;
  }

  /** The bucket's name. */
  get name() {
    return this.#name;
  }

  /**
   * The value stored under `key`, or `undefined`.
   *
   * @returns {Uint8Array | undefined}
   */
  get(key) {
    return this.#call('get', () => this.#inner.get(String(key))) ?? undefined;
  }

  /** The value under `key` as UTF-8 text, or `undefined`. */
  getText(key) {
    const bytes = this.get(key);
    return bytes === undefined ? undefined : this.#text(key, bytes);
  }

  /** The value under `key`, parsed from JSON, or `undefined`. */
  getJson(key) {
    const bytes = this.get(key);
    return bytes === undefined ? undefined : this.#parse(key, bytes);
  }

  /**
   * Stores `value` under `key`, replacing what was there. A string is stored as UTF-8.
   *
   * @param {string} key
   * @param {Uint8Array | string} value
   */
  set(key, value) {
    const bytes = toBytes(value);
    this.#call('set', () => this.#inner.set(String(key), bytes));
  }

  /** Stores `value` as JSON under `key`. */
  setJson(key, value) {
    this.set(key, toJson(value, `key \`${key}\``));
  }

  /** Removes `key` (no error if it is absent). */
  delete(key) {
    this.#call('delete', () => this.#inner.delete(String(key)));
  }

  /** Whether `key` holds a value. */
  exists(key) {
    return this.#call('exists', () => this.#inner.exists(String(key)));
  }

  /**
   * Every key in the bucket, in ascending order. For a large bucket prefer
   * {@link Bucket#keyPages}, which holds one page at a time.
   *
   * @returns {string[]}
   */
  keys() {
    const keys = [];
    for (const page of this.keyPages()) keys.push(...page);
    return keys;
  }

  /**
   * The keys in ascending order, a page (up to a thousand) at a time, each page fetched
   * as the iteration reaches it.
   *
   * @returns {Generator<string[]>}
   */
  *keyPages() {
    let cursor;
    do {
      const page = this.#call('list keys', () => this.#inner.listKeys(cursor));
      cursor = page.cursor ?? undefined;
      yield page.keys;
    } while (cursor !== undefined);
  }

  /**
   * Adds `delta` to the number stored under `key` (0 if absent) atomically and returns
   * the new value. A value beyond `Number.MAX_SAFE_INTEGER` is an error.
   *
   * @param {string} key
   * @param {number | bigint} [delta]
   * @returns {number}
   */
  increment(key, delta = 1) {
    const value = this.#call('increment', () => increment(this.#inner, String(key), BigInt(delta)));
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`bucket \`${this.#name}\` key \`${key}\` counts ${value}, beyond 2^53`);
    }
    return Number(value);
  }

  /**
   * The values of several keys at once, in the order asked (`undefined` where absent).
   *
   * @param {string[]} keys
   * @returns {(Uint8Array | undefined)[]}
   */
  getMany(keys) {
    const found = this.#call('get many', () => getMany(this.#inner, keys.map(String)));
    return found.map((entry) => (entry == null ? undefined : entry[1]));
  }

  /** {@link Bucket#getMany}, each value parsed from JSON. */
  getManyJson(keys) {
    return this.getMany(keys).map((bytes, index) =>
      bytes === undefined ? undefined : this.#parse(keys[index], bytes),
    );
  }

  /**
   * Stores several keys at once.
   *
   * @param {Iterable<[string, Uint8Array | string]>} entries
   */
  setMany(entries) {
    const pairs = [...entries].map(([key, value]) => [String(key), toBytes(value)]);
    this.#call('set many', () => setMany(this.#inner, pairs));
  }

  /** Removes several keys at once. */
  deleteMany(keys) {
    this.#call('delete many', () => deleteMany(this.#inner, keys.map(String)));
  }

  #call(operation, body) {
    return call(operation, this.#name, body);
  }

  #text(key, bytes) {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new KeyValueError(`bucket \`${this.#name}\` key \`${key}\` holds data that is not UTF-8`);
    }
  }

  #parse(key, bytes) {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new KeyValueError(
        `bucket \`${this.#name}\` key \`${key}\` holds data that does not deserialize: ${error.message}`,
      );
    }
  }
}

/** Runs one store call, turning the WIT `error` it throws into a {@link KeyValueError}. */
function call(operation, bucket, body) {
  try {
    return body();
  } catch (error) {
    if (error === null || typeof error !== 'object' || !('payload' in error)) throw error;
    throw new KeyValueError(`key-value ${operation} in bucket \`${bucket}\`: ${reason(error.payload)}`);
  }
}

function reason(payload) {
  switch (payload?.tag) {
    case 'no-such-store':
      return 'no such store';
    case 'access-denied':
      return 'access denied';
    case 'other':
      return payload.val;
    default:
      return String(payload);
  }
}

function toBytes(value) {
  if (typeof value === 'string') return encoder.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new TypeError('a key-value value is a Uint8Array or a string');
}
