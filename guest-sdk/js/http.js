/**
 * Outbound HTTP: call another service from a handler, over `wasi:http`.
 *
 * The host sends a request only to hosts the operator lists in the plugin's
 * `allowed_outbound_hosts` (`piston.toml`), within the call's caps (requests per call,
 * response size) and its deadline. Redirects come back as they are (3xx with a
 * `location`); the host follows none.
 *
 * ```js
 * import { http } from './piston-guest.js';
 * const answer = http.get('https://api.example.com/authors/ada');
 * if (answer.status === 200) author = answer.json();
 * ```
 *
 * The calls are synchronous, like the handler's verbs: a componentize-js export cannot
 * wait for a promise, so `fetch` is not available in a plugin.
 *
 * Every failure throws an {@link HttpError} whose `kind` says what happened, with the
 * same names in the Rust and Python SDKs: `denied`, `prohibited`, `limit`, `too-large`,
 * `timeout`, `invalid-request`, `body`, `failed`. Left uncaught it is a failure: the
 * client gets a 500, the operator the message in the host log.
 *
 * @module
 */

import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import {
  Fields,
  OutgoingBody,
  OutgoingRequest,
  httpErrorCode,
} from 'wasi:http/types@0.2.12';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How much of the body one read asks for. */
const READ_CHUNK = 64n * 1024n;
/** How much one write may hand the host (`wasi:io` allows 4096 bytes a call). */
const WRITE_CHUNK = 4096;

/** The symbol the bindings drop a resource by, at once rather than when collected. */
const DISPOSE = Symbol.dispose || Symbol.for('dispose');

/** An outbound request that failed: `kind` says how, `message` in words. */
export class HttpError extends Error {
  constructor(kind, message) {
    super(`outbound request ${kind}: ${message}`);
    this.name = 'HttpError';
    this.kind = kind;
    this.detail = message;
  }
}

/** An upstream's answer, whole. */
export class HttpResponse {
  constructor(status, headers, body) {
    /** The HTTP status. */
    this.status = status;
    /** `[name, value]` pairs, names lower-case, in the order they came. */
    this.headers = headers;
    /** The body, as bytes. */
    this.body = body;
  }

  /** The first value of the header `name` (any case), or `undefined`. */
  header(name) {
    const wanted = name.toLowerCase();
    return this.headers.find(([key]) => key.toLowerCase() === wanted)?.[1];
  }

  /** The body as UTF-8 text. */
  text() {
    return decoder.decode(this.body);
  }

  /** The body parsed as JSON. */
  json() {
    try {
      return JSON.parse(this.text());
    } catch (error) {
      throw new HttpError('body', `the response is not the JSON expected: ${error.message}`);
    }
  }
}

/** `GET url`. */
export function get(url) {
  return send('GET', url);
}

/** `POST url` with `body` (bytes or a string) of `contentType`. */
export function post(url, contentType, body) {
  return send('POST', url, [['content-type', contentType]], body);
}

/** `POST url` with `value` as a JSON body. */
export function postJson(url, value) {
  return post(url, 'application/json', JSON.stringify(value));
}

const KINDS = new Map([
  ['http-request-denied', 'denied'],
  ['destination-ip-prohibited', 'prohibited'],
  ['connection-limit-reached', 'limit'],
  ['http-response-body-size', 'too-large'],
  ['connection-timeout', 'timeout'],
  ['connection-read-timeout', 'timeout'],
  ['http-response-timeout', 'timeout'],
  ['http-request-uri-invalid', 'invalid-request'],
  ['http-request-method-invalid', 'invalid-request'],
  ['http-request-uri-too-long', 'invalid-request'],
]);

const MESSAGES = new Map([
  ['denied', "the host is not in the plugin's allowed_outbound_hosts"],
  ['prohibited', 'the host resolves to an internal address no allowed_outbound_hosts entry names'],
  ['limit', 'the call has sent as many requests as it may'],
  ['too-large', 'the response body is larger than the call may receive'],
]);

function fromCode(code) {
  const tag = String(code?.tag ?? code).toLowerCase();
  const kind = KINDS.get(tag) ?? 'failed';
  return new HttpError(kind, MESSAGES.get(kind) ?? tag);
}

/** What a call into the bindings threw: a result's error value, or the exception. */
function payload(error) {
  return error && typeof error === 'object' && 'payload' in error ? error.payload : error;
}

function dispose(resource) {
  resource?.[DISPOSE]?.();
}

/**
 * Sends `method url` with `headers` (`[name, value]` pairs) and an optional `body`
 * (bytes or a string), and reads the whole answer.
 */
export function send(method, url, headers = [], body = undefined) {
  const bytes = body === undefined || body === null ? undefined : typeof body === 'string' ? encoder.encode(body) : body;
  // A declared length rather than chunks: not every upstream takes a chunked body.
  const request = build(method, url, bytes ? [...headers, ['content-length', String(bytes.length)]] : headers);
  const outgoing = request.body();
  let pending;
  try {
    pending = handle(request, undefined);
  } catch (error) {
    dispose(outgoing);
    throw fromCode(payload(error));
  }
  try {
    if (bytes) {
      const stream = outgoing.write();
      let failed;
      try {
        for (let start = 0; start < bytes.length; start += WRITE_CHUNK) {
          stream.blockingWriteAndFlush(bytes.subarray(start, start + WRITE_CHUNK));
        }
      } catch (error) {
        failed = streamError(payload(error));
      } finally {
        dispose(stream);
      }
      if (failed) {
        OutgoingBody.finish(outgoing, undefined);
        let why = failed;
        try {
          dispose(answer(pending));
        } catch (error) {
          why = error;
        }
        throw why;
      }
    }
    try {
      OutgoingBody.finish(outgoing, undefined);
    } catch (error) {
      throw fromCode(payload(error));
    }
    const response = answer(pending);
    try {
      const status = response.status();
      const fields = response.headers();
      const answerHeaders = fields.entries().map(([name, value]) => [name, decoder.decode(value)]);
      dispose(fields);
      const incoming = response.consume();
      try {
        return new HttpResponse(status, answerHeaders, readAll(incoming));
      } finally {
        dispose(incoming);
      }
    } finally {
      dispose(response);
    }
  } finally {
    dispose(pending);
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

function build(method, url, headers) {
  const separator = url.indexOf('://');
  if (separator < 0) throw new HttpError('invalid-request', `\`${url}\` is not an absolute http(s) URL`);
  const scheme = url.slice(0, separator).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') {
    throw new HttpError('invalid-request', `the scheme \`${scheme}\` is not http or https`);
  }
  const rest = url.slice(separator + 3);
  const ends = [rest.indexOf('/'), rest.indexOf('?')].filter((at) => at >= 0);
  const split = ends.length ? Math.min(...ends) : rest.length;
  const authority = rest.slice(0, split);
  let path = rest.slice(split);
  if (!authority) throw new HttpError('invalid-request', `\`${url}\` names no host`);
  if (!path.startsWith('/')) path = `/${path}`;
  let fields;
  try {
    fields = Fields.fromList(headers.map(([name, value]) => [name.toLowerCase(), encoder.encode(value)]));
  } catch (error) {
    throw new HttpError('invalid-request', `a header cannot be sent: ${payload(error)?.tag ?? error}`);
  }
  const request = new OutgoingRequest(fields);
  const verb = method.toUpperCase();
  try {
    request.setMethod(METHODS.has(verb) ? { tag: verb.toLowerCase() } : { tag: 'other', val: verb });
    request.setScheme({ tag: scheme === 'http' ? 'HTTP' : 'HTTPS' });
    request.setAuthority(authority);
    request.setPathWithQuery(path);
  } catch {
    dispose(request);
    throw new HttpError('invalid-request', `\`${verb} ${url}\` cannot be sent`);
  }
  return request;
}

/** Waits for the response's head. */
function answer(pending) {
  for (;;) {
    const result = pending.get();
    if (result === undefined) {
      const ready = pending.subscribe();
      ready.block();
      dispose(ready);
      continue;
    }
    if (result.tag === 'err') throw new HttpError('failed', 'the response was already taken');
    const inner = result.val;
    if (inner.tag === 'ok') return inner.val;
    throw fromCode(inner.val);
  }
}

function readAll(incoming) {
  const stream = incoming.stream();
  const chunks = [];
  let length = 0;
  try {
    for (;;) {
      let chunk;
      try {
        chunk = stream.blockingRead(READ_CHUNK);
      } catch (error) {
        const why = payload(error);
        if (why?.tag === 'closed') break;
        throw streamError(why);
      }
      chunks.push(chunk);
      length += chunk.length;
    }
  } finally {
    dispose(stream);
  }
  const body = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

/** A failed read or write, by the HTTP error behind it when there is one. */
function streamError(error) {
  if (error?.tag === 'closed') return new HttpError('body', 'the stream closed early');
  const failure = error?.val;
  if (!failure) return new HttpError('body', String(error));
  const code = httpErrorCode(failure);
  const message = failure.toDebugString();
  dispose(failure);
  if (code !== undefined) return fromCode(code);
  const lower = message.toLowerCase();
  if (lower.includes('body size exceeds limit') || lower.includes('responsebodysize')) {
    return new HttpError('too-large', MESSAGES.get('too-large'));
  }
  if (lower.includes('timeout') || lower.includes('timed out')) return new HttpError('timeout', message);
  return new HttpError('body', message);
}
