"""django-piston's `BlogPostHandler` example, in Python.

The same plugin as `plugins/blog`, answering the same requests with the same statuses,
documents and stored data. Two resources:

- `posts` at `/posts`: `GET` lists every post (streamed a page at a time, so the
  listing's size is not bounded by memory), `POST` creates one (201, or 409 when the
  slug is taken);
- `post` at `/posts/{post_slug}`: `GET` reads one, `PUT` updates it (throttled to 5 per
  10 minutes, as in the seed), `DELETE` removes it, but only for its author (403 for
  anyone else, and for anonymous callers).

Both show `slug`, `title`, `content`, the author's `username` and `first_name`, and the
computed `content_size`; the stored `id` and `private_*` fields never leave the host.
Bodies are checked by the host against JSON Schemas (django-piston's `@validate`)
before the handler runs, so they say everything the handler needs (a title has a
letter or digit, which its slug is made of): the API document is the whole contract.
The handler checks again, answering in the same shape.

The docstrings of the resource classes and their verbs are the API's documentation,
and `responses` the shape of what each method answers with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Optional

from piston_guest import Method, Request, Resource, Violations, kv, plugin, rc, stream, throttle

FIELDS = ("slug", "title", "content", "author.username", "author.first_name", "content_size")
EXCLUDE = ("id", "re:private_")
MAX_TITLE_CHARS = 200
MAX_SLUG_CHARS = 100

SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def view(post: dict[str, Any]) -> dict[str, Any]:
    """A post as shown: the stored fields plus the computed `content_size`
    (django-piston's `content_size(self, blogpost)` method field)."""
    return {
        "id": post["id"],
        "slug": post["slug"],
        "title": post["title"],
        "content": post["content"],
        "author": post["author"],
        "private_edits": post["private_edits"],
        "content_size": len(post["content"]),
    }


def claim_key(slug: str) -> str:
    return f"claim:{slug}"


class Posts:
    """The posts, and (in the `meta` bucket, opened only by writers) the bookkeeping
    that keeps slugs unique and ids increasing."""

    def __init__(self) -> None:
        self.posts = kv.Bucket.open("posts")

    @staticmethod
    def meta() -> kv.Bucket:
        return kv.Bucket.open("meta")

    def get(self, slug: str) -> dict[str, Any]:
        post = self.posts.get_json(slug)
        if post is None:
            raise rc.NOT_FOUND.detail(f"there is no post `{slug}`")
        return post

    def listing(self) -> Iterator[dict[str, Any]]:
        """Every post, read a page of keys at a time as the listing is consumed."""
        for keys in self.posts.key_pages():
            for stored in self.posts.get_many(keys):
                # A key deleted since its page was listed is simply skipped.
                if stored is not None:
                    yield view(json.loads(stored))

    def claim(self, slug: str) -> bool:
        """Claims `slug` atomically: exactly one of any number of concurrent creators
        wins."""
        return Posts.meta().increment(claim_key(slug), 1) == 1

    def next_id(self) -> int:
        return Posts.meta().increment("next-id", 1)

    def save(self, post: dict[str, Any]) -> None:
        self.posts.set_json(post["slug"], post)

    def remove(self, slug: str) -> None:
        self.posts.delete(slug)
        Posts.meta().delete(claim_key(slug))


def author_of(request: Request) -> Optional[dict[str, str]]:
    principal = request.principal
    if principal is None:
        return None
    first_name = principal.claims.get("first_name")
    return {
        "username": principal.id,
        "first_name": first_name if isinstance(first_name, str) else "",
    }


def slugify(title: str) -> str:
    slug = ""
    for c in (lower for char in title for lower in char.lower()):
        if c in ASCII_ALNUM:
            slug += c
        elif slug and not slug.endswith("-"):
            slug += "-"
    return slug.rstrip("-")[:MAX_SLUG_CHARS]


def validate(title: Optional[str], slug: Optional[str]) -> None:
    """Checks the fields a client may set; every problem is reported at once."""
    violations = Violations()
    if title is not None:
        chars = len(title)
        if not any(c in ASCII_ALNUM for c in title):
            violations.add("/title", "must have a letter or digit (A-Z, 0-9)")
        elif chars > MAX_TITLE_CHARS:
            violations.add(
                "/title", f"must be at most {MAX_TITLE_CHARS} characters, not {chars}"
            )
    if slug is not None:
        well_formed = all(c in SLUG_CHARS for c in slug)
        if not slug or len(slug) > MAX_SLUG_CHARS or not well_formed:
            violations.add(
                "/slug", f"must be 1 to {MAX_SLUG_CHARS} lower-case letters, digits or '-'"
            )
    violations.raise_if_any("the post is not valid")


def post_schema(required: list[str]) -> dict[str, Any]:
    """The JSON Schema of a post's fields as a client sends them; `required` names the
    fields a create must have. Keys in the order the Rust plugin emits them, so both
    describe the same text."""
    return {
        "properties": {
            "content": {"type": "string"},
            "slug": {"pattern": f"^[a-z0-9-]{{1,{MAX_SLUG_CHARS}}}$", "type": "string"},
            "title": {
                "description": "has a letter or digit (A-Z, 0-9)",
                "maxLength": MAX_TITLE_CHARS,
                "pattern": "[A-Za-z0-9]",
                "type": "string",
            },
        },
        "required": required,
        "type": "object",
    }


#: A post as `view` makes it, before the host narrows it to `FIELDS`.
VIEW_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "slug": {"type": "string", "pattern": f"^[a-z0-9-]{{1,{MAX_SLUG_CHARS}}}$"},
        "title": {"type": "string", "maxLength": MAX_TITLE_CHARS},
        "content": {"type": "string"},
        "author": {
            "description": "who created the post; null when it was created anonymously",
            "type": ["object", "null"],
            "properties": {"username": {"type": "string"}, "first_name": {"type": "string"}},
            "required": ["username", "first_name"],
        },
        "private_edits": {"type": "integer", "minimum": 0},
        "content_size": {
            "description": "the length of `content`, in characters",
            "type": "integer",
            "minimum": 0,
        },
    },
    "required": ["id", "slug", "title", "content", "author", "private_edits", "content_size"],
}


def body_object(request: Request) -> dict[str, Any]:
    """The body, which the schema has already made an object."""
    data = request.require_data()
    if not isinstance(data, dict):
        raise rc.BAD_REQUEST.detail(
            "the request data does not have the expected shape"
        ).with_violation("", "expected an object")
    return data


class PostResource(Resource):
    """What both resources share: what a post shows and hides."""

    fields = FIELDS
    exclude = EXCLUDE
    item_uri = "/posts/{slug}"
    anonymous = (Method.GET,)


class BlogPosts(PostResource):
    """Every blog post.

    The collection at `/posts`: `GET` lists the posts, `POST` creates one.
    """

    name = "posts"
    routes = ["/posts"]
    schemas = {Method.POST: post_schema(["title"])}
    responses = {Method.GET: {"type": "array", "items": VIEW_SCHEMA}, Method.POST: VIEW_SCHEMA}

    def read(self, request: Request) -> Any:
        """Lists every post.

        The posts are streamed as they are read from the store, a page at a time, so a
        listing of any length is answered in flat memory.
        """
        return stream(Posts().listing())

    def create(self, request: Request) -> Any:
        """Creates a post.

        The slug defaults to the title lower-cased, each run of characters other than
        ASCII letters and digits made one `-`. The caller becomes the post's author.
        Answers 201 with the post and its `Location`, 409 when a post already has the
        slug, and 400 listing every problem with the title and slug.
        """
        new = body_object(request)
        title: str = new["title"]
        slug: str = new["slug"] if new.get("slug") is not None else slugify(title)
        validate(title, slug)

        posts = Posts()
        if not posts.claim(slug):
            raise rc.DUPLICATE_ENTRY.detail(f"a post with slug `{slug}` already exists")
        post = {
            "id": posts.next_id(),
            "slug": slug,
            "title": title,
            "content": new.get("content", ""),
            "author": author_of(request),
            "private_edits": 0,
        }
        posts.save(post)
        return rc.CREATED.data(view(post)).with_header("location", f"/posts/{slug}")


class BlogPostHandler(PostResource):
    """One blog post.

    The post at `/posts/{post_slug}`. Anyone may read it; only its author may delete it.
    """

    name = "post"
    routes = ["/posts/{post_slug}"]
    throttles = [throttle([Method.PUT], 5, 10 * 60)]
    schemas = {Method.PUT: post_schema([])}
    responses = {Method.GET: VIEW_SCHEMA, Method.PUT: VIEW_SCHEMA}

    def read(self, request: Request, post_slug: str) -> Any:
        """Reads a post.

        Answers 404 when no post has the slug.
        """
        return view(Posts().get(post_slug))

    def update(self, request: Request, post_slug: str) -> Any:
        """Changes a post's title or content.

        Only the fields sent change; the slug stays. Each caller may update 5 times in
        10 minutes. Answers the updated post, 404 when no post has the slug, and 400
        listing every problem with the title.
        """
        changes = body_object(request)
        title: Optional[str] = changes.get("title")
        content: Optional[str] = changes.get("content")
        validate(title, None)
        posts = Posts()
        post = posts.get(post_slug)
        if title is not None:
            post["title"] = title
        if content is not None:
            post["content"] = content
        post["private_edits"] += 1
        posts.save(post)
        return view(post)

    def delete(self, request: Request, post_slug: str) -> Any:
        """Deletes a post.

        Only the post's author may: anyone else, and an anonymous caller, is answered
        403. Answers 204, and 404 when no post has the slug.
        """
        posts = Posts()
        post = posts.get(post_slug)
        caller = request.principal.id if request.principal else None
        author = post["author"]["username"] if post["author"] else None
        if caller is None or caller != author:
            raise rc.FORBIDDEN.detail("only the post's author may delete it")
        posts.remove(post["slug"])
        return rc.DELETED


Handler = plugin(
    name="blog-py",
    version="0.1.0",
    description="Blog posts: django-piston's BlogPostHandler example in Python, kept in the key-value store",
    resources=[BlogPosts, BlogPostHandler],
)
