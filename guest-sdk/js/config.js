/**
 * The plugin's settings: its `[plugins.NAME.config]` table in the host's `piston.toml`,
 * over `wasi:config/store`.
 *
 * @module
 */

import { get as getSetting, getAll } from 'wasi:config/store@0.2.0-rc.1';

/** Reading the settings failed. */
export class ConfigError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * The setting `key`, or `undefined` when the operator did not set it.
 *
 * @param {string} key
 * @returns {string | undefined}
 */
export function get(key) {
  return call(() => getSetting(String(key))) ?? undefined;
}

/**
 * Every setting, as `[key, value]` pairs.
 *
 * @returns {[string, string][]}
 */
export function all() {
  return call(() => getAll());
}

function call(body) {
  try {
    return body();
  } catch (error) {
    if (error === null || typeof error !== 'object' || !('payload' in error)) throw error;
    const payload = error.payload;
    throw new ConfigError(`reading plugin settings: ${payload?.val ?? String(payload)}`);
  }
}
