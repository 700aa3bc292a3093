/**
 * JSON text, the data format at the WIT boundary.
 *
 * @module
 */

/**
 * `JSON.stringify` that also writes BigInts (which `kv` counters and WIT `u64`s are)
 * as plain numbers, refusing those a JSON reader could not read back exactly.
 *
 * @param {unknown} value
 * @param {string} what What is being serialized, for the error message.
 * @returns {string}
 */
export function toJson(value, what) {
  let text;
  try {
    text = stringify(value);
  } catch (error) {
    throw new TypeError(`cannot serialize ${what}: ${error?.message ?? error}`);
  }
  if (text === undefined) {
    throw new TypeError(`cannot serialize ${what}: ${typeof value} is not JSON`);
  }
  return text;
}

/**
 * `JSON.stringify` with {@link bigIntsAsNumbers}, which the engine would call for every
 * key and value: tried without it first, as only a BigInt makes that fail.
 */
function stringify(value) {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, bigIntsAsNumbers);
  }
}

function bigIntsAsNumbers(_key, value) {
  if (typeof value !== 'bigint') return value;
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`the BigInt ${value} is beyond what JSON numbers carry exactly`);
  }
  return Number(value);
}
