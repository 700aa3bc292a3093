//! django-piston's `BlogPostHandler` example, for real.
//!
//! Posts live in the plugin's key-value store, so they survive restarts. Two resources:
//! - `posts` at `/posts`: `GET` lists every post (streamed a page at a time, so the
//!   listing's size is not bounded by memory), `POST` creates one (201, or 409 when the
//!   slug is taken);
//! - `post` at `/posts/{post_slug}`: `GET` reads one, `PUT` updates it (throttled to 5
//!   per 10 minutes, as in the seed), `DELETE` removes it, but only for its author
//!   (403 for anyone else, and for anonymous callers).
//!
//! Both show `slug`, `title`, `content`, the author's `username` and `first_name`, and
//! the computed `content_size`; the stored `id` and `private_*` fields never leave the
//! host. Bodies are checked by the host against JSON Schemas (django-piston's
//! `@validate`) before the handler runs, so they say everything the handler needs (a
//! title has a letter or digit, which its slug is made of): the API document is the
//! whole contract. The handler checks again, answering in the same shape.

use piston_guest::kv::Bucket;
use piston_guest::{
    Error, Method, Principal, Request, Resource, Response, Result, Spec, Violations, rc, resource,
};
use serde::{Deserialize, Serialize};

const FIELDS: [&str; 6] = [
    "slug",
    "title",
    "content",
    "author.username",
    "author.first_name",
    "content_size",
];
const EXCLUDE: [&str; 2] = ["id", "re:private_"];
const MAX_TITLE_CHARS: usize = 200;
const MAX_SLUG_CHARS: usize = 100;

/// What a title needs: a letter or digit, which its slug is made of. Said so plainly in
/// the schema (`[A-Za-z0-9]` reads the same in every regular expression dialect, where
/// "not blank" would not).
const TITLE_RULE: &str = "must have a letter or digit (A-Z, 0-9)";

/// A post as stored.
#[derive(Serialize, Deserialize)]
struct Post {
    id: u64,
    slug: String,
    title: String,
    content: String,
    author: Option<Author>,
    /// How many times the post was updated. Internal: the spec excludes it.
    private_edits: u32,
}

#[derive(Serialize, Deserialize, Clone)]
struct Author {
    username: String,
    first_name: String,
}

/// A post as shown: the stored fields plus the computed `content_size`
/// (django-piston's `content_size(self, blogpost)` method field).
#[derive(Serialize)]
struct PostView<'a> {
    id: u64,
    slug: &'a str,
    title: &'a str,
    content: &'a str,
    author: Option<&'a Author>,
    private_edits: u32,
    content_size: usize,
}

impl Post {
    fn view(&self) -> PostView<'_> {
        PostView {
            id: self.id,
            slug: &self.slug,
            title: &self.title,
            content: &self.content,
            author: self.author.as_ref(),
            private_edits: self.private_edits,
            content_size: self.content.chars().count(),
        }
    }
}

/// The body of `POST /posts`.
#[derive(Deserialize)]
struct NewPost {
    slug: Option<String>,
    title: String,
    #[serde(default)]
    content: String,
}

/// The body of `PUT /posts/{post_slug}`: the fields to change.
#[derive(Deserialize)]
struct PostChanges {
    title: Option<String>,
    content: Option<String>,
}

/// The posts, and (in the `meta` bucket, opened only by writers) the bookkeeping that
/// keeps slugs unique and ids increasing.
struct Posts {
    posts: Bucket,
}

impl Posts {
    fn open() -> Result<Posts> {
        Ok(Posts {
            posts: Bucket::open("posts")?,
        })
    }

    fn meta() -> Result<Bucket> {
        Bucket::open("meta")
    }

    fn get(&self, slug: &str) -> Result<Post> {
        self.posts
            .get_json(slug)?
            .ok_or_else(|| rc::NOT_FOUND.detail(format!("there is no post `{slug}`")))
    }

    /// Every post, read a page at a time as the listing is consumed.
    fn listing(&self) -> Listing {
        Listing {
            pages: self.posts.key_pages(),
            posts: self.posts.clone(),
            page: Vec::new().into_iter(),
        }
    }

    /// Claims `slug` atomically: exactly one of any number of concurrent creators wins.
    fn claim(&self, slug: &str) -> Result<bool> {
        Ok(Posts::meta()?.increment(&claim_key(slug), 1)? == 1)
    }

    fn next_id(&self) -> Result<u64> {
        Posts::meta()?.increment("next-id", 1)
    }

    fn save(&self, post: &Post) -> Result<()> {
        self.posts.set_json(&post.slug, post)
    }

    fn remove(&self, slug: &str) -> Result<()> {
        self.posts.delete(slug)?;
        Posts::meta()?.delete(&claim_key(slug))
    }
}

/// The posts, fetched a page of keys at a time.
struct Listing {
    posts: Bucket,
    pages: piston_guest::kv::KeyPages,
    page: std::vec::IntoIter<Option<Vec<u8>>>,
}

impl Iterator for Listing {
    type Item = Result<Shown>;

    fn next(&mut self) -> Option<Result<Shown>> {
        loop {
            if let Some(stored) = self.page.next() {
                // A key deleted since its page was listed is simply skipped.
                let Some(bytes) = stored else { continue };
                return Some(serde_json::from_slice(&bytes).map(Shown).map_err(|error| {
                    Error::failure(format!("a stored post does not deserialize: {error}"))
                }));
            }
            let keys = match self.pages.next()? {
                Ok(keys) => keys,
                Err(error) => return Some(Err(error)),
            };
            match self.posts.get_many(&keys) {
                Ok(values) => self.page = values.into_iter(),
                Err(error) => return Some(Err(error)),
            }
        }
    }
}

/// A post that serializes as its view, for streams (which need owned items).
struct Shown(Post);

impl Serialize for Shown {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.0.view().serialize(serializer)
    }
}

fn claim_key(slug: &str) -> String {
    format!("claim:{slug}")
}

/// The spec both resources share: what a post shows and hides.
fn post_spec(name: &str, route: &str) -> Spec {
    Spec::new(name)
        .route(route)
        .fields(FIELDS)
        .exclude(EXCLUDE)
        .item_uri("/posts/{slug}")
        .anonymous([Method::Get])
}

fn author_of(principal: &Principal) -> Author {
    let first_name = principal
        .claims
        .as_deref()
        .and_then(|claims| serde_json::from_str::<serde_json::Value>(claims).ok())
        .and_then(|claims| claims.get("first_name")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    Author {
        username: principal.id.clone(),
        first_name,
    }
}

fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-')
        .chars()
        .take(MAX_SLUG_CHARS)
        .collect()
}

/// Checks the fields a client may set; every problem is reported at once.
fn validate(title: Option<&str>, slug: Option<&str>) -> Result<()> {
    let mut violations = Violations::new();
    if let Some(title) = title {
        let chars = title.chars().count();
        if !title.chars().any(|c| c.is_ascii_alphanumeric()) {
            violations.add("/title", TITLE_RULE);
        } else if chars > MAX_TITLE_CHARS {
            violations.add(
                "/title",
                format!("must be at most {MAX_TITLE_CHARS} characters, not {chars}"),
            );
        }
    }
    if let Some(slug) = slug {
        let well_formed = slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if slug.is_empty() || slug.chars().count() > MAX_SLUG_CHARS || !well_formed {
            violations.add(
                "/slug",
                format!("must be 1 to {MAX_SLUG_CHARS} lower-case letters, digits or '-'"),
            );
        }
    }
    violations.into_result("the post is not valid")
}

/// The JSON Schema of a post's fields as a client sends them; `required` is the JSON
/// array of the fields a create must have. Written as text rather than built as a
/// `serde_json::Value`: every fresh instance evaluates its resources' specs to find
/// them by name, and building the tree cost more than the request it served.
fn post_schema(required: &str) -> String {
    format!(
        concat!(
            r#"{{"type":"object","required":{required},"properties":{{"#,
            r#""title":{{"type":"string","maxLength":{title},"pattern":"[A-Za-z0-9]","description":"has a letter or digit (A-Z, 0-9)"}},"#,
            r#""slug":{{"type":"string","pattern":"^[a-z0-9-]{{1,{slug}}}$"}},"#,
            r#""content":{{"type":"string"}}}}}}"#,
        ),
        required = required,
        title = MAX_TITLE_CHARS,
        slug = MAX_SLUG_CHARS,
    )
}

/// The JSON Schema of a post as the handler returns it, before the host hides `id` and
/// `private_*`.
const POST_RESPONSE: &str = concat!(
    r#"{"type":"object","required":["slug","title","content","content_size"],"properties":{"#,
    r#""id":{"type":"integer"},"slug":{"type":"string"},"title":{"type":"string"},"#,
    r#""content":{"type":"string"},"#,
    r#""author":{"type":["object","null"],"properties":{"username":{"type":"string"},"first_name":{"type":"string"}}},"#,
    r#""private_edits":{"type":"integer"},"content_size":{"type":"integer","minimum":0}}}"#,
);

/// `/posts`: the collection.
#[derive(Default)]
struct BlogPosts;

#[resource]
impl Resource for BlogPosts {
    fn spec() -> Spec {
        post_spec("posts", "/posts")
            .describe("Every blog post. `POST` here creates one.")
            .schema(Method::Post, post_schema(r#"["title"]"#))
            .response(
                Method::Get,
                format!(r#"{{"type":"array","items":{POST_RESPONSE}}}"#),
            )
            .response(Method::Post, POST_RESPONSE)
    }

    /// Every post, oldest first.
    ///
    /// Streamed a page at a time: the listing's size is bounded by nothing but the
    /// store.
    fn read(&self, _req: &Request) -> Result<Response> {
        Ok(Response::try_stream(Posts::open()?.listing()))
    }

    /// Creates a post; the caller, if any, is its author.
    ///
    /// The slug is made from the title unless given. Answers 201 with the post and its
    /// `Location`, 409 when the slug is taken, 400 when the title or slug is not valid.
    fn create(&self, req: &Request) -> Result<Response> {
        let new: NewPost = req.data()?;
        let slug = match new.slug {
            Some(slug) => slug,
            None => slugify(&new.title),
        };
        validate(Some(&new.title), Some(&slug))?;

        let posts = Posts::open()?;
        if !posts.claim(&slug)? {
            return Err(
                rc::DUPLICATE_ENTRY.detail(format!("a post with slug `{slug}` already exists"))
            );
        }
        let post = Post {
            id: posts.next_id()?,
            slug,
            title: new.title,
            content: new.content,
            author: req.principal().map(author_of),
            private_edits: 0,
        };
        posts.save(&post)?;
        Ok(rc::CREATED
            .data(&post.view())?
            .with_header("location", format!("/posts/{}", post.slug)))
    }
}

/// `/posts/{post_slug}`: one post.
#[derive(Default)]
struct BlogPost;

#[resource]
impl Resource for BlogPost {
    fn spec() -> Spec {
        post_spec("post", "/posts/{post_slug}")
            .describe("One blog post. Only its author may delete it.")
            .throttle([Method::Put], 5, 10 * 60)
            .schema(Method::Put, post_schema("[]"))
            .response(Method::Get, POST_RESPONSE)
            .response(Method::Put, POST_RESPONSE)
    }

    /// The post, or 404.
    fn read(&self, req: &Request) -> Result<Response> {
        let post = Posts::open()?.get(req.param("post_slug").unwrap_or_default())?;
        Response::data(&post.view())
    }

    /// Changes the post's title or content (whichever the body has) and answers the
    /// post as it is now.
    fn update(&self, req: &Request) -> Result<Response> {
        let changes: PostChanges = req.data()?;
        validate(changes.title.as_deref(), None)?;
        let posts = Posts::open()?;
        let mut post = posts.get(req.param("post_slug").unwrap_or_default())?;
        if let Some(title) = changes.title {
            post.title = title;
        }
        if let Some(content) = changes.content {
            post.content = content;
        }
        post.private_edits += 1;
        posts.save(&post)?;
        Response::data(&post.view())
    }

    /// Deletes the post: only its author may (403 for anyone else, anonymous callers
    /// included).
    fn delete(&self, req: &Request) -> Result<Response> {
        let posts = Posts::open()?;
        let post = posts.get(req.param("post_slug").unwrap_or_default())?;
        let caller = req.principal().map(|principal| principal.id.as_str());
        let author = post.author.as_ref().map(|author| author.username.as_str());
        if caller.is_none() || caller != author {
            return Err(rc::FORBIDDEN.detail("only the post's author may delete it"));
        }
        posts.remove(&post.slug)?;
        Ok(rc::DELETED.into())
    }
}

piston_guest::export_plugin!(BlogPosts, BlogPost);
