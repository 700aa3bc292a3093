/**
 * Resources: django-piston's handler classes, and the spec the host reads from them.
 *
 * @module
 */

/** The verbs a resource may define, by the method they answer. */
export const VERBS = Object.freeze({
  GET: 'read',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
});

const METHODS = Object.keys(VERBS);
const NAME = /^[a-z0-9-]+$/;
const U32_MAX = 0xffffffff;

/**
 * One REST resource a plugin serves: django-piston's handler class. Extend it, describe
 * the resource in static fields, and define the verbs it answers:
 *
 * ```js
 * class Greeting extends Resource {
 *   static resourceName = 'greeting';
 *   static routes = ['/hello/{name}'];
 *
 *   read(request) {
 *     return { hello: request.param('name') };
 *   }
 * }
 * ```
 *
 * | static           | what                                                              |
 * |------------------|-------------------------------------------------------------------|
 * | `resourceName`   | the name (`post`): lower-case letters, digits, `-`; required       |
 * | `description`    | what the resource is, in Markdown                                 |
 * | `docs`           | what each method does, in Markdown: `{ GET: 'Reads a post.' }`     |
 * | `responses`      | a JSON Schema per method for the data it answers: `{ GET: {...} }` |
 * | `routes`         | URL patterns: `/posts/{post_slug}`, `/files/{*path}`; required     |
 * | `allowedMethods` | fewer methods than the verbs defined                               |
 * | `anonymous`      | methods served without credentials (`['GET']`)                     |
 * | `fields`         | what clients may see, dotted paths (`author.username`)             |
 * | `exclude`        | never shown: names, or `re:` and a regular expression              |
 * | `throttles`      | rate limits, made with {@link throttle}                            |
 * | `schemas`        | a JSON Schema per method for its body: `{ POST: {...} }`           |
 * | `itemUri`        | the URI template of one item (`/posts/{slug}`)                     |
 * | `requestHeaders` | headers the handler reads (lower-case, or `['*']`)                 |
 *
 * The verbs are `read` (GET, and HEAD), `create` (POST), `update` (PUT), `patch`
 * (PATCH) and `delete` (DELETE), each called with the {@link Request}. The allowed
 * methods are those whose verb the class defines, so the host answers every other
 * method with 405 and an accurate `Allow` header.
 *
 * `description`, `docs` and `responses` are for the generated API documentation. A
 * method's first paragraph is the operation's summary. Its response schema describes what the
 * verb returns as a JSON client receives it (for a stream, the array of its items); the
 * host narrows it to `fields` and adds `resource_uri` itself.
 *
 * The plugin makes one instance of each class, when the first request arrives, and
 * reuses it for the requests that instance of the plugin serves; it may cache in
 * memory. Module top-level code runs when the plugin is built, not when it serves: do
 * not open the key-value store or read settings there.
 */
export class Resource {}

/**
 * A rate limit: at most `requests` per `periodSeconds` for each caller, counted together
 * for `methods` (every allowed method when empty), like django-piston's
 * `@throttle(5, 10*60)`. The operator can override it in `piston.toml`.
 *
 * @param {string[]} methods
 * @param {number} requests
 * @param {number} periodSeconds
 */
export function throttle(methods, requests, periodSeconds) {
  return Object.freeze({ methods, requests, periodSeconds });
}

/** A resource class's statics were not usable; says which and why. */
export class SpecError extends Error {
  constructor(message) {
    super(message);
    this.name = 'SpecError';
  }
}

/**
 * The WIT `resource-spec` of a resource class, checked.
 *
 * @param {Function} cls A class extending {@link Resource}.
 * @returns {object}
 */
export function specOf(cls) {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Resource)) {
    throw new SpecError(`${describeValue(cls)} is not a class extending Resource`);
  }
  const where = `resource class ${cls.name || '(anonymous)'}`;
  const bad = (what) => new SpecError(`${where}: ${what}`);

  const name = cls.resourceName;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw bad(
      `static resourceName must be lower-case letters, digits and '-' (e.g. 'post'), not ${describeValue(name)}`,
    );
  }
  const strings = (key, fallback = []) => {
    const value = cls[key] ?? fallback;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      throw bad(`static ${key} must be an array of strings, not ${describeValue(value)}`);
    }
    return [...value];
  };
  const methods = (key, list) =>
    list.map((method) => {
      const upper = method.toUpperCase();
      if (!METHODS.includes(upper)) {
        throw bad(`static ${key} names ${describeValue(method)}; methods are ${METHODS.join(', ')}`);
      }
      return upper;
    });

  const description = cls.description ?? '';
  if (typeof description !== 'string') {
    throw bad(`static description must be a string, not ${describeValue(description)}`);
  }
  const routes = strings('routes');
  if (routes.length === 0) throw bad("static routes must name at least one route, e.g. ['/posts']");
  for (const route of routes) {
    if (!route.startsWith('/')) throw bad(`route ${describeValue(route)} must start with '/'`);
  }

  const implemented = METHODS.filter((method) => typeof cls.prototype[VERBS[method]] === 'function');
  let allowed = implemented;
  if (cls.allowedMethods !== undefined) {
    allowed = methods('allowedMethods', strings('allowedMethods'));
    for (const method of allowed) {
      if (!implemented.includes(method)) {
        throw bad(`static allowedMethods names ${method}, but the class defines no ${VERBS[method]}()`);
      }
    }
  }
  if (allowed.length === 0) {
    throw bad('defines none of read(), create(), update(), patch() and delete()');
  }
  const anonymous = methods('anonymous', strings('anonymous'));

  const throttles = cls.throttles ?? [];
  if (!Array.isArray(throttles)) {
    throw bad(`static throttles must be an array of throttle(...), not ${describeValue(throttles)}`);
  }
  const witThrottles = throttles.map((rule, index) => {
    const at = `static throttles[${index}]`;
    if (rule === null || typeof rule !== 'object') throw bad(`${at} must be made with throttle(methods, requests, periodSeconds)`);
    const { requests, periodSeconds } = rule;
    if (!Array.isArray(rule.methods)) throw bad(`${at}: methods must be an array, e.g. ['PUT']`);
    for (const [key, value] of [['requests', requests], ['periodSeconds', periodSeconds]]) {
      if (!Number.isInteger(value) || value < 1 || value > U32_MAX) {
        throw bad(`${at}: ${key} must be a whole number from 1 to ${U32_MAX}, not ${describeValue(value)}`);
      }
    }
    return {
      methods: methods(`throttles[${index}].methods`, rule.methods.map(String)).map(lower),
      requests,
      periodSeconds,
    };
  });

  const schemas = cls.schemas ?? {};
  if (schemas === null || typeof schemas !== 'object' || Array.isArray(schemas)) {
    throw bad(`static schemas must be an object like { POST: {...} }, not ${describeValue(schemas)}`);
  }
  const witSchemas = Object.entries(schemas).map(([method, schema]) => {
    const [upper] = methods('schemas', [method]);
    if (!['POST', 'PUT', 'PATCH'].includes(upper)) {
      throw bad(`static schemas has one for ${upper}; only POST, PUT and PATCH have bodies`);
    }
    return { method: lower(upper), schema: schemaText(schema, `the ${upper} schema`, bad) };
  });

  // One entry per allowed method, in the standard order: the host refuses a method
  // documented twice or one the resource does not allow.
  const perMethod = (key, check) => {
    const value = cls[key] ?? {};
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw bad(`static ${key} must be an object like { GET: ... }, not ${describeValue(value)}`);
    }
    const found = new Map();
    for (const [method, entry] of Object.entries(value)) {
      const [upper] = methods(key, [method]);
      if (!allowed.includes(upper)) throw bad(`static ${key} has one for ${upper}, which is not an allowed method`);
      if (found.has(upper)) throw bad(`static ${key} has two for ${upper}`);
      found.set(upper, check(entry, upper));
    }
    return found;
  };
  const docs = perMethod('docs', (text, method) => {
    if (typeof text !== 'string') throw bad(`static docs: the ${method} text must be a string, not ${describeValue(text)}`);
    return text;
  });
  const responses = perMethod('responses', (schema, method) =>
    schemaText(schema, `the ${method} response schema`, bad),
  );
  const methodDocs = allowed
    .filter((method) => docs.has(method) || responses.has(method))
    .map((method) => ({
      method: lower(method),
      description: docs.get(method) ?? '',
      responseSchema: responses.get(method),
    }));

  const itemUri = cls.itemUri;
  if (itemUri !== undefined && itemUri !== null && typeof itemUri !== 'string') {
    throw bad(`static itemUri must be a string like '/posts/{slug}', not ${describeValue(itemUri)}`);
  }

  return {
    name,
    description,
    methodDocs,
    routes,
    allowedMethods: allowed.map(lower),
    anonymousMethods: anonymous.map(lower),
    fields: strings('fields'),
    exclude: strings('exclude'),
    throttles: witThrottles,
    schemas: witSchemas,
    itemUri: itemUri ?? undefined,
    requestHeaders: strings('requestHeaders').map((header) => header.toLowerCase()),
  };
}

/** A JSON Schema given as an object or as JSON text, as the JSON text the host compiles. */
function schemaText(schema, what, bad) {
  if (typeof schema === 'string') {
    try {
      JSON.parse(schema);
    } catch (error) {
      throw bad(`${what} is not JSON: ${error.message}`);
    }
    return schema;
  }
  if (schema === null || typeof schema !== 'object') {
    throw bad(`${what} must be an object (or JSON text), not ${describeValue(schema)}`);
  }
  let text;
  try {
    text = JSON.stringify(schema);
  } catch (error) {
    throw bad(`${what} does not serialize to JSON: ${error.message}`);
  }
  return text;
}

function lower(method) {
  return method.toLowerCase();
}

function describeValue(value) {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (value === undefined) return 'undefined';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
