/**
 * Piston handlers in JavaScript: django-piston's class-based handlers, served from a
 * WebAssembly component built with componentize-js.
 *
 * ```js
 * import { Resource, plugin } from './piston-guest.js';
 *
 * class Greeting extends Resource {
 *   static resourceName = 'greeting';
 *   static routes = ['/hello/{name}'];
 *   read(request) {
 *     return { hello: request.param('name') };
 *   }
 * }
 *
 * export const handler = plugin({ name: 'greeting', version: '0.1.0', resources: [Greeting] });
 * ```
 *
 * @module
 */

export * as rc from './rc.js';
export * as kv from './kv.js';
export * as config from './config.js';
export * as http from './http.js';
export { HttpError, HttpResponse } from './http.js';
export { Rc } from './rc.js';
export { Problem, Violation, Violations } from './errors.js';
export { Request } from './request.js';
export { Resource, SpecError, throttle } from './resource.js';
export { Response, stream } from './response.js';
export { plugin } from './plugin.js';
