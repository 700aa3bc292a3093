/**
 * django-piston's `rc` status codes, with correct HTTP statuses.
 *
 * django-piston answered `rc.FORBIDDEN` with 401 and `rc.THROTTLED` with 503; here they
 * are 403 and 429. Use a code as an answer (`return rc.DELETED`), as an error
 * (`throw rc.NOT_FOUND`, `throw rc.NOT_FOUND.detail('...')`), or with data
 * (`return rc.CREATED.data(post)`).
 *
 * @module
 */

import { Problem } from './errors.js';
import { Response } from './response.js';

/** A status code with its standard title. */
export class Rc {
  /**
   * @param {number} status The HTTP status.
   * @param {string} title The short, human title the host puts in problem documents.
   */
  constructor(status, title) {
    this.status = status;
    this.title = title;
    Object.freeze(this);
  }

  /** Whether this is a success (2xx) code. */
  isSuccess() {
    return this.status >= 200 && this.status < 300;
  }

  /** A response with this status carrying `value` as its data. */
  data(value) {
    return Response.data(value).withStatus(this.status);
  }

  /** A response with this status and a header (`rc.CREATED.withHeader('location', ...)`). */
  withHeader(name, value) {
    return this.toResponse().withHeader(name, value);
  }

  /**
   * An error with this status and a detail saying what went wrong this time, to throw.
   * A success code is not an error: using one is a handler bug, answered with a 500.
   */
  detail(detail) {
    if (this.isSuccess()) return new Error(`${misuse(this)}: ${detail}`);
    return new Problem(this.status, this.title, String(detail));
  }

  /** This code as something to throw: a problem, or for a success code a failure. */
  toError() {
    if (this.isSuccess()) return new Error(misuse(this));
    return new Problem(this.status, this.title);
  }

  /** This code as an answer: no body for a success, a problem document for an error. */
  toResponse() {
    if (this.isSuccess()) return Response.empty(this.status);
    return Response.problem(new Problem(this.status, this.title));
  }
}

function misuse(code) {
  return `handler returned success code ${code.status} as an error`;
}

/** 200: the request succeeded. */
export const ALL_OK = new Rc(200, 'OK');
/** 201: something was created. */
export const CREATED = new Rc(201, 'Created');
/** 204: something was deleted; no body. */
export const DELETED = new Rc(204, 'Deleted');
/** 400: the request is malformed or fails a check. */
export const BAD_REQUEST = new Rc(400, 'Bad Request');
/** 403: the caller is known but may not do this. */
export const FORBIDDEN = new Rc(403, 'Forbidden');
/** 404: there is no such thing. */
export const NOT_FOUND = new Rc(404, 'Not Found');
/** 409: the thing to create already exists. */
export const DUPLICATE_ENTRY = new Rc(409, 'Conflict/Duplicate');
/** 410: the thing is gone. */
export const NOT_HERE = new Rc(410, 'Gone');
/** 429: the caller made too many requests. */
export const THROTTLED = new Rc(429, 'Throttled');
/** 500: the handler failed. */
export const INTERNAL_ERROR = new Rc(500, 'Internal Server Error');
/** 501: the resource does not implement this. */
export const NOT_IMPLEMENTED = new Rc(501, 'Not Implemented');
