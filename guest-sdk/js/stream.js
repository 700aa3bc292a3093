/**
 * Item streams: large listings handed to the host a batch at a time.
 *
 * @module
 */

import { guestFailure } from './errors.js';
import { toJson } from './json.js';

/**
 * The guest side of the WIT `item-stream` resource: an iterator the host drains with
 * `next(max)`, so that neither side ever holds the whole listing.
 *
 * The generated bindings call `ItemStream.prototype.next` of this very class, which is
 * why streams are made with {@link stream} rather than by subclassing.
 */
export class ItemStream {
  /** @param {Iterable<unknown>} items */
  constructor(items) {
    if (items == null || typeof items[Symbol.iterator] !== 'function') {
      throw new TypeError('stream() needs an iterable (an array, a generator, ...)');
    }
    this.iterator = items[Symbol.iterator]();
    this.done = false;
  }

  /**
   * The next items as JSON texts, at most `max` of them; none once the items are
   * exhausted. An error thrown while producing or serializing an item becomes the WIT
   * `guest-error`: the host cuts the client's response short and logs it.
   *
   * @param {number} max
   * @returns {string[]}
   */
  next(max) {
    const batch = [];
    try {
      while (!this.done && batch.length < max) {
        const step = this.iterator.next();
        if (step.done) {
          this.done = true;
          break;
        }
        batch.push(toJson(step.value, 'a streamed item'));
      }
    } catch (error) {
      this.done = true;
      throw guestFailure(error);
    }
    return batch;
  }

  /** The host dropped the stream: let a generator run its `finally` blocks. */
  [Symbol.dispose ?? Symbol.for('dispose')]() {
    if (!this.done) {
      this.done = true;
      try {
        this.iterator.return?.();
      } catch {
        // The response is over; there is no one left to tell.
      }
    }
  }
}
