//! A post with its author's profile, from two other services: a resource whose data
//! lives elsewhere, fetched over outbound HTTP.
//!
//! `GET /enriched/{post_slug}` reads the post from the posts API (the blog plugin's
//! `/posts/{post_slug}`, on this host or another), then its author's profile from the
//! profiles API (`PROFILES/{username}`), and answers the post with the profile under
//! `author.profile`. The post is the resource: no post, or a posts API that fails,
//! is the answer (404, 502). The profile is extra: when the profiles API fails, the post
//! comes without it and `enrichment` says why, so a slow or broken profile service
//! never takes the posts down with it.
//!
//! Settings (`[plugins.enrich.config]`): `posts_api` (default `http://127.0.0.1:8000`)
//! and `profiles_api`. Both hosts must be in the plugin's `allowed_outbound_hosts`.

use piston_guest::http::{self, ErrorKind, HttpError};
use piston_guest::rc::{self, Rc};
use piston_guest::{Error, Request, Resource, Response, Result, Spec, config, resource};
use serde_json::{Value, json};

/// Where the posts come from unless `posts_api` says otherwise: this host's blog.
const DEFAULT_POSTS_API: &str = "http://127.0.0.1:8000";

const BAD_GATEWAY: Rc = Rc {
    status: 502,
    title: "Bad Gateway",
};
const GATEWAY_TIMEOUT: Rc = Rc {
    status: 504,
    title: "Gateway Timeout",
};

#[derive(Default)]
struct EnrichedPost;

/// Why an upstream's document could not be had.
enum Failure {
    /// The request failed (refused by the host, timed out, cut off, not JSON).
    Request(HttpError),
    /// The upstream answered with a status other than 200 or 404.
    Status(u16),
}

impl Failure {
    /// The failure as the client sees it when the resource cannot do without the
    /// document: a timeout is a 504, anything else a 502, and a request the operator
    /// has not allowed says what to configure.
    fn into_error(self, what: &str) -> Error {
        match self {
            Failure::Request(error) => {
                let code = match error.kind() {
                    ErrorKind::Timeout => GATEWAY_TIMEOUT,
                    _ => BAD_GATEWAY,
                };
                let mut detail = format!("the {what} could not be read: {}", error.message());
                if matches!(error.kind(), ErrorKind::Denied | ErrorKind::Prohibited) {
                    detail.push_str(" (list its host in allowed_outbound_hosts)");
                }
                Error::from(code).with_detail(detail)
            }
            Failure::Status(status) => {
                Error::from(BAD_GATEWAY).with_detail(format!("the {what} API answered {status}"))
            }
        }
    }

    /// The failure in a few words, when the resource answers without the document.
    fn describe(&self) -> String {
        match self {
            Failure::Request(error) => error.kind().as_str().to_owned(),
            Failure::Status(status) => format!("status {status}"),
        }
    }
}

/// The JSON document at `url`, `None` for a 404.
fn get_json(url: &str) -> std::result::Result<Option<Value>, Failure> {
    let answer = http::get(url).map_err(Failure::Request)?;
    match answer.status {
        200 => answer.json().map(Some).map_err(Failure::Request),
        404 => Ok(None),
        status => Err(Failure::Status(status)),
    }
}

#[resource]
impl Resource for EnrichedPost {
    fn spec() -> Spec {
        Spec::new("enriched-post")
            .route("/enriched/{post_slug}")
            .describe("A blog post with its author's profile, from the posts and profiles APIs.")
    }

    fn read(&self, req: &Request) -> Result<Response> {
        let slug = req.param("post_slug").ok_or(rc::NOT_FOUND)?;
        let posts = config::get("posts_api")?.unwrap_or_else(|| DEFAULT_POSTS_API.into());
        let posts_url = format!("{}/posts/{slug}", posts.trim_end_matches('/'));
        let mut post = get_json(&posts_url)
            .map_err(|failure| failure.into_error("post"))?
            .ok_or(rc::NOT_FOUND)?;

        let username = post["author"]["username"].as_str().map(str::to_owned);
        let enrichment = match (config::get("profiles_api")?, username) {
            (None, _) => "no profiles_api is configured".to_owned(),
            (Some(_), None) => "the post has no author".to_owned(),
            (Some(profiles), Some(username)) => {
                let url = format!("{}/{username}", profiles.trim_end_matches('/'));
                match get_json(&url) {
                    Ok(Some(profile)) => {
                        post["author"]["profile"] = profile;
                        "complete".to_owned()
                    }
                    Ok(None) => format!("{username} has no profile"),
                    Err(failure) => format!("the profile is unavailable ({})", failure.describe()),
                }
            }
        };
        post["enrichment"] = json!(enrichment);
        Response::data(&post)
    }
}

piston_guest::export_plugin!(EnrichedPost);
