/**
 * django-piston's `BlogPostHandler` example, in JavaScript: the same HTTP API as the
 * Rust `blog` plugin.
 *
 * Posts live in the plugin's key-value store, so they survive restarts. Two resources:
 * - `posts` at `/posts`: `GET` lists every post (streamed a page at a time, so the
 *   listing's size is not bounded by memory), `POST` creates one (201, or 409 when the
 *   slug is taken);
 * - `post` at `/posts/{post_slug}`: `GET` reads one, `PUT` updates it (throttled to 5
 *   per 10 minutes, as in the seed), `DELETE` removes it, but only for its author (403
 *   for anyone else, and for anonymous callers).
 *
 * Both show `slug`, `title`, `content`, the author's `username` and `first_name`, and the
 * computed `content_size`; the stored `id` and `private_*` fields never leave the host.
 * Bodies are checked by the host against JSON Schemas (django-piston's `@validate`)
 * before the handler runs, so they say everything the handler needs (a title has a
 * letter or digit, which its slug is made of): the API document is the whole contract.
 * The handler checks again, answering in the same shape.
 *
 * Each resource documents itself and its methods (`description`, `docs`) for the
 * generated API documentation, and the shape of what they answer with (`responses`).
 */

import { Resource, Violations, kv, plugin, rc, stream, throttle } from '../../guest-sdk/js/piston-guest.js';

const FIELDS = ['slug', 'title', 'content', 'author.username', 'author.first_name', 'content_size'];
const EXCLUDE = ['id', 're:private_'];
const MAX_TITLE_CHARS = 200;
const MAX_SLUG_CHARS = 100;

/** Two UTF-16 units that together make one character. */
const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/**
 * The number of Unicode characters (code points, not UTF-16 units) in `text`: its length
 * less one for each surrogate pair. One regular-expression search rather than a loop over
 * the string, which the engine runs a character at a time through the iterator protocol
 * (several microseconds per character, on every request for `content_size`).
 */
function chars(text) {
  const pairs = text.match(SURROGATE_PAIR);
  return text.length - (pairs === null ? 0 : pairs.length);
}

/**
 * A post as shown: the stored fields plus the computed `content_size` (django-piston's
 * `content_size(self, blogpost)` method field).
 */
function view(post) {
  return {
    id: post.id,
    slug: post.slug,
    title: post.title,
    content: post.content,
    author: post.author ?? null,
    private_edits: post.private_edits,
    content_size: chars(post.content),
  };
}

/**
 * The posts, and (in the `meta` bucket, opened only by writers) the bookkeeping that
 * keeps slugs unique and ids increasing.
 */
class Posts {
  constructor() {
    this.posts = kv.Bucket.open('posts');
  }

  static meta() {
    return kv.Bucket.open('meta');
  }

  get(slug) {
    const post = this.posts.getJson(slug);
    if (post === undefined) throw rc.NOT_FOUND.detail(`there is no post \`${slug}\``);
    return post;
  }

  /** Every post, read a page of keys at a time as the listing is consumed. */
  *listing() {
    for (const keys of this.posts.keyPages()) {
      for (const stored of this.posts.getMany(keys)) {
        // A key deleted since its page was listed is simply skipped.
        if (stored === undefined) continue;
        yield view(parsePost(stored));
      }
    }
  }

  /** Claims `slug` atomically: exactly one of any number of concurrent creators wins. */
  claim(slug) {
    return Posts.meta().increment(claimKey(slug), 1) === 1;
  }

  nextId() {
    return Posts.meta().increment('next-id', 1);
  }

  save(post) {
    this.posts.setJson(post.slug, post);
  }

  remove(slug) {
    this.posts.delete(slug);
    Posts.meta().delete(claimKey(slug));
  }
}

const decoder = new TextDecoder();

function parsePost(bytes) {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw new Error(`a stored post does not deserialize: ${error.message}`);
  }
}

function claimKey(slug) {
  return `claim:${slug}`;
}

function authorOf(principal) {
  const firstName = principal.claims?.first_name;
  return {
    username: principal.id,
    first_name: typeof firstName === 'string' ? firstName : '',
  };
}

function slugify(title) {
  let slug = '';
  for (const original of title) {
    // Lower-cased a character at a time, as Rust's `char::to_lowercase` does.
    for (const c of original.toLowerCase()) {
      if (/^[A-Za-z0-9]$/.test(c)) {
        slug += c;
      } else if (slug !== '' && !slug.endsWith('-')) {
        slug += '-';
      }
    }
  }
  return slug.replace(/-+$/, '').slice(0, MAX_SLUG_CHARS);
}

/** Checks the fields a client may set; every problem is reported at once. */
function validate(title, slug) {
  const violations = new Violations();
  if (title !== undefined) {
    const count = chars(title);
    if (!/[A-Za-z0-9]/.test(title)) {
      violations.add('/title', 'must have a letter or digit (A-Z, 0-9)');
    } else if (count > MAX_TITLE_CHARS) {
      violations.add('/title', `must be at most ${MAX_TITLE_CHARS} characters, not ${count}`);
    }
  }
  if (slug !== undefined) {
    const wellFormed = /^[a-z0-9-]*$/.test(slug);
    if (slug === '' || chars(slug) > MAX_SLUG_CHARS || !wellFormed) {
      violations.add('/slug', `must be 1 to ${MAX_SLUG_CHARS} lower-case letters, digits or '-'`);
    }
  }
  violations.check('the post is not valid');
}

/**
 * The JSON Schema of a post's fields as a client sends them; `required` names the fields
 * a create must have.
 */
function postSchema(required) {
  return {
    properties: {
      content: { type: 'string' },
      slug: { pattern: `^[a-z0-9-]{1,${MAX_SLUG_CHARS}}$`, type: 'string' },
      title: {
        description: 'has a letter or digit (A-Z, 0-9)',
        maxLength: MAX_TITLE_CHARS,
        pattern: '[A-Za-z0-9]',
        type: 'string',
      },
    },
    required,
    type: 'object',
  };
}

/** A post as `view` makes it, before the host narrows it to `FIELDS`. */
const VIEW_SCHEMA = {
  type: 'object',
  properties: {
    id: { type: 'integer', minimum: 1 },
    slug: { type: 'string', pattern: `^[a-z0-9-]{1,${MAX_SLUG_CHARS}}$` },
    title: { type: 'string', maxLength: MAX_TITLE_CHARS },
    content: { type: 'string' },
    author: {
      description: 'who created the post; null when it was created anonymously',
      type: ['object', 'null'],
      properties: { username: { type: 'string' }, first_name: { type: 'string' } },
      required: ['username', 'first_name'],
    },
    private_edits: { type: 'integer', minimum: 0 },
    content_size: { description: 'the length of `content`, in characters', type: 'integer', minimum: 0 },
  },
  required: ['id', 'slug', 'title', 'content', 'author', 'private_edits', 'content_size'],
};

/** What both resources show and hide. */
class PostResource extends Resource {
  static fields = FIELDS;
  static exclude = EXCLUDE;
  static itemUri = '/posts/{slug}';
  static anonymous = ['GET'];
}

/** `/posts`: the collection. */
class BlogPosts extends PostResource {
  static resourceName = 'posts';
  static description = 'Every blog post.\n\nThe collection at `/posts`: `GET` lists the posts, `POST` creates one.';
  static routes = ['/posts'];
  static schemas = { POST: postSchema(['title']) };
  static docs = {
    GET:
      'Lists every post.\n\nThe posts are streamed as they are read from the store, a page at a ' +
      'time, so a listing of any length is answered in flat memory.',
    POST:
      "Creates a post.\n\nThe slug defaults to the title lower-cased, each run of characters other than ASCII " +
      "letters and digits made one `-`. The caller becomes the post's author. Answers 201 with the post " +
      'and its `Location`, 409 when a post already has the slug, and 400 listing every problem with the ' +
      'title and slug.',
  };
  static responses = { GET: { type: 'array', items: VIEW_SCHEMA }, POST: VIEW_SCHEMA };

  read() {
    return stream(new Posts().listing());
  }

  create(request) {
    const body = request.requireData();
    const slug = body.slug ?? slugify(body.title);
    validate(body.title, slug);

    const posts = new Posts();
    if (!posts.claim(slug)) {
      throw rc.DUPLICATE_ENTRY.detail(`a post with slug \`${slug}\` already exists`);
    }
    const post = {
      id: posts.nextId(),
      slug,
      title: body.title,
      content: body.content ?? '',
      author: request.principal ? authorOf(request.principal) : null,
      private_edits: 0,
    };
    posts.save(post);
    return rc.CREATED.data(view(post)).withHeader('location', `/posts/${post.slug}`);
  }
}

/** `/posts/{post_slug}`: one post. */
class BlogPost extends PostResource {
  static resourceName = 'post';
  static description =
    'One blog post.\n\nThe post at `/posts/{post_slug}`. Anyone may read it; only its author may delete it.';
  static routes = ['/posts/{post_slug}'];
  static throttles = [throttle(['PUT'], 5, 10 * 60)];
  static schemas = { PUT: postSchema([]) };
  static docs = {
    GET: 'Reads a post.\n\nAnswers 404 when no post has the slug.',
    PUT:
      "Changes a post's title or content.\n\nOnly the fields sent change; the slug stays. Each caller may " +
      'update 5 times in 10 minutes. Answers the updated post, 404 when no post has the slug, and 400 ' +
      'listing every problem with the title.',
    DELETE:
      "Deletes a post.\n\nOnly the post's author may: anyone else, and an anonymous caller, is answered " +
      '403. Answers 204, and 404 when no post has the slug.',
  };
  static responses = { GET: VIEW_SCHEMA, PUT: VIEW_SCHEMA };

  read(request) {
    return view(new Posts().get(request.param('post_slug') ?? ''));
  }

  update(request) {
    const changes = request.requireData();
    validate(changes.title ?? undefined, undefined);
    const posts = new Posts();
    const post = posts.get(request.param('post_slug') ?? '');
    if (changes.title != null) post.title = changes.title;
    if (changes.content != null) post.content = changes.content;
    post.private_edits += 1;
    posts.save(post);
    return view(post);
  }

  delete(request) {
    const posts = new Posts();
    const post = posts.get(request.param('post_slug') ?? '');
    const caller = request.principal?.id;
    const author = post.author?.username;
    if (caller === undefined || caller !== author) {
      throw rc.FORBIDDEN.detail("only the post's author may delete it");
    }
    posts.remove(post.slug);
    return rc.DELETED;
  }
}

export const handler = plugin({
  name: 'blog-js',
  version: '0.1.0',
  description: "Blog posts: django-piston's BlogPostHandler example, kept in the key-value store (JavaScript)",
  resources: [BlogPosts, BlogPost],
});
