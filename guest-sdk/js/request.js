/**
 * The request a handler receives.
 *
 * @module
 */

import { Problem } from './errors.js';

const NO_BODY = undefined;

/**
 * The authenticated caller: who it is, how it proved it, and what it may do.
 *
 * @typedef {object} Principal
 * @property {string} id The caller's stable identifier (a username, a token's subject).
 * @property {string} scheme `basic`, `digest`, `oauth1`, `bearer`, `jwt`, or a custom
 *   authenticator's name.
 * @property {string[]} scopes What the credential is limited to (empty: not limited).
 * @property {object | null} claims Further claims (a JWT's payload), parsed; `null` when
 *   there are none.
 */

/**
 * One request, after the host has routed, authenticated, throttled, decoded and
 * validated it. Values are read from the WIT record as they are asked for.
 */
export class Request {
  #wit;
  #data = NO_BODY;
  #dataParsed = false;
  #principal;

  /** @param {object} wit The WIT `request` record. */
  constructor(wit) {
    this.#wit = wit;
    /** The name of the resource the request is for. */
    this.resource = wit.resourceName;
    /** The method, upper-case: `GET`, `POST`, `PUT`, `PATCH` or `DELETE`. */
    this.method = wit.method.toUpperCase();
    /** The request path, without the query string or format suffix. */
    this.path = wit.path;
    /** The values captured by the route (`{post_slug}`), by name, decoded. */
    this.params = Object.freeze(fromPairs(wit.params));
  }

  /**
   * A value captured by the route (`{post_slug}` in `/posts/{post_slug}`), decoded;
   * `undefined` when the matched route has no such parameter.
   *
   * @param {string} name
   * @returns {string | undefined}
   */
  param(name) {
    return find(this.#wit.params, name);
  }

  /**
   * The first value of a query parameter (`?page=2`), decoded, or `undefined`. The
   * host keeps `format`, `indent`, `fields` and `exclude` for itself.
   *
   * @param {string} name
   * @returns {string | undefined}
   */
  query(name) {
    return find(this.#wit.query, name);
  }

  /**
   * Every value of a repeated query parameter, in order.
   *
   * @param {string} name
   * @returns {string[]}
   */
  queryAll(name) {
    return this.#wit.query.filter(([key]) => key === name).map(([, value]) => value);
  }

  /** Every query parameter, as `[name, value]` pairs in order, repeats kept. */
  get queryPairs() {
    return this.#wit.query.map(([key, value]) => [key, value]);
  }

  /**
   * A request header, or `undefined`. Only the headers the resource asks for
   * (`static requestHeaders`) are passed.
   *
   * @param {string} name Case does not matter.
   * @returns {string | undefined}
   */
  header(name) {
    return find(this.#wit.headers, String(name).toLowerCase());
  }

  /** Every header the host passed, as `[lower-case name, value]` pairs. */
  get headers() {
    return this.#wit.headers.map(([key, value]) => [key, value]);
  }

  /**
   * The authenticated caller, or `null` for an anonymous request.
   *
   * @returns {Principal | null}
   */
  get principal() {
    if (this.#principal === undefined) {
      const wit = this.#wit.principal;
      this.#principal = wit == null ? null : principal(wit);
    }
    return this.#principal;
  }

  /**
   * The decoded body as JSON text, whatever format the client sent (JSON, YAML, XML,
   * forms, multipart, pickle, MessagePack), or `undefined` when the request has none.
   *
   * @returns {string | undefined}
   */
  get rawData() {
    return this.#wit.data ?? NO_BODY;
  }

  /**
   * The body (django-piston's `request.data`), parsed from its JSON text when first
   * read, or `undefined` when the request has none. Numbers beyond 2^53 lose precision;
   * read `rawData` for those.
   */
  get data() {
    if (!this.#dataParsed) {
      const raw = this.rawData;
      this.#data = raw === NO_BODY ? NO_BODY : JSON.parse(raw);
      this.#dataParsed = true;
    }
    return this.#data;
  }

  /**
   * The body, or a 400 "this request needs a body" when there is none.
   *
   * @returns {unknown}
   */
  requireData() {
    if (this.rawData === NO_BODY) {
      throw new Problem(400, 'Bad Request', 'this request needs a body');
    }
    return this.data;
  }
}

function principal(wit) {
  let claims;
  return Object.freeze({
    id: wit.id,
    scheme: wit.scheme,
    scopes: Object.freeze([...wit.scopes]),
    /** The claims, parsed when first read; `null` when there are none. */
    get claims() {
      if (claims === undefined) claims = wit.claims == null ? null : parseClaims(wit.claims);
      return claims;
    },
    /** The claims as the host passed them (JSON text), or `undefined`. */
    rawClaims: wit.claims ?? undefined,
  });
}

function parseClaims(text) {
  try {
    return JSON.parse(text);
  } catch {
    // The host checks claims are a JSON object; keep the request going if not.
    return null;
  }
}

// The two helpers below run on every request. They index the arrays rather than use
// `Object.fromEntries`, `Array.prototype.find` or destructuring, which go through the
// iterator protocol: the engine interprets it a step at a time, at several microseconds
// per step.

function find(pairs, name) {
  for (let index = 0; index < pairs.length; index += 1) {
    const pair = pairs[index];
    if (pair[0] === name) return pair[1];
  }
  return undefined;
}

/** `Object.fromEntries(pairs)` for an array of `[key, value]` pairs. */
function fromPairs(pairs) {
  const object = {};
  for (let index = 0; index < pairs.length; index += 1) {
    const pair = pairs[index];
    Object.defineProperty(object, pair[0], {
      value: pair[1],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  return object;
}
