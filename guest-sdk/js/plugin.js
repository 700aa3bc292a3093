/**
 * The plugin: what the component exports as the WIT interface `handler`.
 *
 * @module
 */

import { guestFailure, Problem } from './errors.js';
import { Request } from './request.js';
import { specOf, SpecError, VERBS } from './resource.js';
import { Response, toWitResponse } from './response.js';
import { ItemStream } from './stream.js';

const NAME = /^[a-z0-9-]+$/;

/**
 * The plugin serving `resources`, as the `handler` interface the component exports:
 *
 * ```js
 * export const handler = plugin({
 *   name: 'blog',
 *   version: '0.1.0',
 *   description: 'Blog posts',
 *   resources: [BlogPosts, BlogPost],
 * });
 * ```
 *
 * The specs are checked here, so a plugin with an unusable one fails to build, saying
 * which resource and why. Keep `name` stable: it namespaces the plugin's stored data and
 * its `[plugins.NAME]` section in `piston.toml`.
 *
 * @param {{name: string, version: string, description?: string, resources: Function[]}} info
 */
export function plugin(info) {
  const pluginInfo = describePlugin(info);
  const classes = new Map(info.resources.map((cls, index) => [pluginInfo.resources[index].name, cls]));
  /** @type {Map<string, object>} The resource instances, made on first use. */
  const instances = new Map();

  function instance(name) {
    let resource = instances.get(name);
    if (resource === undefined) {
      const cls = classes.get(name);
      if (cls === undefined) throw new Error(`this plugin has no resource named \`${name}\``);
      resource = new cls();
      instances.set(name, resource);
    }
    return resource;
  }

  return {
    /** The plugin's description, computed once when it was built. */
    describe() {
      return pluginInfo;
    },

    /**
     * Answers one request: what the verb returns is the `ok` of the WIT result, a
     * thrown problem a problem response, and anything else thrown the `err`.
     */
    handle(wit) {
      let verb = 'handler';
      let result;
      try {
        const resource = instance(wit.resourceName);
        const request = new Request(wit);
        verb = VERBS[request.method];
        if (typeof resource[verb] !== 'function') {
          throw new Problem(
            501,
            'Not Implemented',
            `resource \`${request.resource}\` does not implement ${request.method}`,
          );
        }
        result = resource[verb](request);
      } catch (error) {
        return failed(error, verb);
      }
      if (result !== null && typeof result === 'object' && typeof result.then === 'function') {
        return result.then(
          (value) => answer(value, verb),
          (error) => failed(error, verb),
        );
      }
      return answer(result, verb);
    },

    /** The WIT `item-stream` resource; made by `stream(items)`. */
    ItemStream,
  };
}

function answer(value, verb) {
  try {
    return toWitResponse(value, verb);
  } catch (error) {
    return failed(error, verb);
  }
}

/** A thrown problem or `rc` code is an answer; anything else is the WIT `err`. */
function failed(error, verb) {
  if (error instanceof Problem) return toWitResponse(Response.problem(error), verb);
  if (error !== null && typeof error === 'object' && typeof error.toError === 'function') {
    return failed(error.toError(), verb);
  }
  throw guestFailure(error);
}

/** The WIT `plugin-info`, checked. */
function describePlugin(info) {
  if (info === null || typeof info !== 'object') {
    throw new SpecError('plugin() takes { name, version, description, resources }');
  }
  const { name, version, description = '', resources } = info;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new SpecError(`plugin name must be lower-case letters, digits and '-', not ${JSON.stringify(name)}`);
  }
  if (typeof version !== 'string' || version === '') {
    throw new SpecError(`plugin ${name}: version must be a string such as '0.1.0'`);
  }
  if (typeof description !== 'string') {
    throw new SpecError(`plugin ${name}: description must be a string`);
  }
  if (!Array.isArray(resources) || resources.length === 0) {
    throw new SpecError(`plugin ${name}: resources must be an array of at least one Resource class`);
  }
  const specs = resources.map(specOf);
  const seen = new Set();
  for (const spec of specs) {
    if (seen.has(spec.name)) {
      throw new SpecError(`plugin ${name}: two resources are named '${spec.name}'`);
    }
    seen.add(spec.name);
  }
  return { name, version, description, resources: specs };
}
