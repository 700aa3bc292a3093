/**
 * What a handler answers with.
 *
 * A handler may also return plain data (a 200 carrying it) or an `rc` code; see
 * {@link toWitResponse} for every form.
 *
 * @module
 */

import { Problem } from './errors.js';
import { toJson } from './json.js';
import { ItemStream } from './stream.js';

const encoder = new TextEncoder();

/** A handler's answer: a status, extra headers, and a body. */
export class Response {
  /**
   * @param {number} status
   * @param {object} body The WIT `body` variant.
   */
  constructor(status, body) {
    this.status = status;
    /** @type {[string, string][]} */
    this.headers = [];
    this.body = body;
  }

  /**
   * 200 with `value` as the data. The host filters it by the resource's fields and emits
   * it as JSON, YAML, XML, ... whatever the client asked for.
   */
  static data(value) {
    return new Response(200, { tag: 'data', val: toJson(value, 'the response data') });
  }

  /**
   * 200 with bytes the host passes through untouched, under `contentType`. A string is
   * sent as UTF-8.
   *
   * @param {string} contentType
   * @param {Uint8Array | ArrayBuffer | string} bytes
   */
  static raw(contentType, bytes) {
    return new Response(200, {
      tag: 'raw',
      val: { contentType: String(contentType), bytes: toBytes(bytes) },
    });
  }

  /**
   * 200 streaming `items` (any iterable: an array, a generator) to the client as they
   * are produced, so that a large listing never sits whole in memory. The host filters
   * and emits each item. An error thrown while iterating cuts the response short (it has
   * already begun) and is logged.
   *
   * @param {Iterable<unknown>} items
   */
  static stream(items) {
    return new Response(200, { tag: 'items', val: new ItemStream(items) });
  }

  /** A response with this status and no body (e.g. 204). */
  static empty(status) {
    return new Response(status, { tag: 'none' });
  }

  /** An error answer: a problem document with the problem's status. */
  static problem(problem) {
    return new Response(problem.status, {
      tag: 'problem',
      val: {
        title: String(problem.title),
        detail: problem.detail === undefined || problem.detail === null ? undefined : String(problem.detail),
        violations: problem.violations.map(({ pointer, message }) => ({
          pointer: String(pointer),
          message: String(message),
        })),
      },
    });
  }

  /** Replaces the status. Returns this response. */
  withStatus(status) {
    this.status = status;
    return this;
  }

  /** Adds a response header, e.g. `location`. Returns this response. */
  withHeader(name, value) {
    this.headers.push([String(name), String(value)]);
    return this;
  }
}

/** `stream(items)`: {@link Response.stream}, for a handler's `return stream(...)`. */
export function stream(items) {
  return Response.stream(items);
}

/**
 * The WIT `response` for what a handler returned:
 * - a {@link Response} as it is;
 * - an `rc` code: no body for a success (`rc.DELETED`), a problem document otherwise;
 * - a {@link Problem}: its problem document;
 * - anything else but `undefined`: 200 with it as the data.
 *
 * `undefined` is refused (a 500 saying so): it is nearly always a forgotten `return`.
 *
 * @param {unknown} value
 * @param {string} verb The handler method, for the error message.
 */
export function toWitResponse(value, verb) {
  let response;
  if (value instanceof Response) {
    response = value;
  } else if (value instanceof Problem) {
    response = Response.problem(value);
  } else if (value !== null && typeof value === 'object' && typeof value.toResponse === 'function') {
    response = value.toResponse();
  } else if (value === undefined) {
    throw new TypeError(
      `${verb}() returned undefined: return data, a Response, or an rc code such as rc.DELETED`,
    );
  } else {
    response = Response.data(value);
  }
  const { status } = response;
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new RangeError(`${verb}() answered with status ${status}, which is not an HTTP status`);
  }
  return { status, headers: response.headers, body: response.body };
}

function toBytes(bytes) {
  if (typeof bytes === 'string') return encoder.encode(bytes);
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new TypeError('Response.raw() needs a Uint8Array, an ArrayBuffer or a string');
}
