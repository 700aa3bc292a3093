// {{name}}: a Piston handler plugin.
//
// Build it with `piston build`, which puts `{{name}}.wasm` where `piston serve` finds it.

import { Resource, plugin } from './piston-guest/piston-guest.js';

/** `GET /{{name}}/{who}`: a greeting. */
class Greeting extends Resource {
  static resourceName = 'greeting';
  static description = 'Says hello at `/{{name}}/{who}`.';
  static routes = ['/{{name}}/{who}'];
  // What each method does and answers with, for the generated API documentation.
  static docs = { GET: 'Greets `who`.' };
  static responses = {
    GET: { type: 'object', properties: { hello: { type: 'string' } }, required: ['hello'] },
  };

  read(request) {
    return { hello: request.param('who') };
  }
}

export const handler = plugin({
  name: '{{name}}',
  version: '0.1.0',
  description: 'A Piston handler plugin.',
  resources: [Greeting],
});
