// Over 600 lines: a sixth is tests; the three endpoints and the authorization page share
// the signed-request checks and the token life cycle.
//! The provider's three endpoints (RFC 5849 §2): temporary credentials, the user's
//! authorization, and the exchange for token credentials.
//!
//! - `POST /oauth/request_token`: signed by the consumer, with `oauth_callback` (a URL,
//!   or `oob`); answers `oauth_token`, `oauth_token_secret`, `oauth_callback_confirmed`.
//! - `GET /oauth/authorize?oauth_token=...`: the page where the user logs in and
//!   approves; `POST` (the form) redirects to the callback with `oauth_verifier`, or
//!   shows the verifier for `oob`.
//! - `POST /oauth/access_token`: signed with the approved temporary credentials, with
//!   `oauth_verifier`; answers the token credentials. Temporary credentials work once.
//!
//! Each client address may call them `[auth.oauth1] throttle` times per period (429
//! with `Retry-After` past it, before anything is read); the authorization form's
//! wrong passwords count in the failed-login limit, against the username given. A
//! consumer may have at most [`MAX_PENDING_REQUEST_TOKENS`] temporary credentials
//! waiting at once.
//!
//! A callback must lead where the consumer's registered callback does, compared as
//! parsed URLs (the way a browser will read the redirect): the same scheme, host
//! (without case) and port (the scheme's default when none is given), and a path at
//! or under the registered one, segment by segment (`/cb` admits `/cb` and `/cb/x`,
//! not `/cbx`). A callback with a user name or password, or a fragment, is refused;
//! the redirect goes to the callback as parsed.

use super::page::{Page, csrf_cookie, csrf_from};
use super::signature::Signed;
use super::throttle::EndpointThrottle;
use super::{ExpectedToken, OAuthError, OAuthToken, TokenKind, Verified, Verifier, challenge};
use crate::auth::lockout::Lockout;
use crate::auth::password::Checker;
use crate::auth::settings::Rate;
use crate::auth::store::{AuthStore, now};
use crate::auth::{Account, RequestHead, random_text};
use crate::decode::{self, BodyLimits};
use crate::problem::Problem;
use crate::reachability::RETRY_AFTER as UNAVAILABLE_RETRY_AFTER;
use axum::body::Body;
use axum::response::Response;
use http::header::{ALLOW, CONTENT_TYPE, LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;

/// The largest body the endpoints read (their forms are a few short fields).
const MAX_FORM_BYTES: u64 = 16 * 1024;
/// The longest callback accepted.
const MAX_CALLBACK_BYTES: usize = 4096;
/// The most temporary credentials one consumer may have waiting for approval.
pub const MAX_PENDING_REQUEST_TOKENS: u64 = 10_000;

/// One of the provider's endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/oauth/request_token`.
    RequestToken,
    /// `/oauth/authorize`.
    Authorize,
    /// `/oauth/access_token`.
    AccessToken,
}

/// The OAuth 1.0a provider.
pub struct Provider {
    verifier: Arc<Verifier>,
    store: Arc<AuthStore>,
    passwords: Arc<Checker>,
    lockout: Arc<Lockout>,
    throttle: Arc<EndpointThrottle>,
    rate: Rate,
    request_token_lifetime: Duration,
    secure_cookies: bool,
    challenge: HeaderValue,
}

impl Provider {
    /// A provider issuing temporary credentials good for `request_token_lifetime`,
    /// checking users' passwords with `passwords` under the failed-login `lockout`,
    /// admitting each client address at `throttle`'s rate (counted in its table).
    pub fn new(
        verifier: Arc<Verifier>,
        store: Arc<AuthStore>,
        passwords: Arc<Checker>,
        lockout: Arc<Lockout>,
        (throttle, rate): (Arc<EndpointThrottle>, Rate),
        request_token_lifetime: Duration,
        realm: &str,
    ) -> Provider {
        let secure_cookies = verifier.public_url.starts_with("https:");
        Provider {
            verifier,
            store,
            passwords,
            lockout,
            throttle,
            rate,
            request_token_lifetime,
            secure_cookies,
            challenge: challenge(realm),
        }
    }

    /// Answers a request to `endpoint`. What it reads and writes in the credentials runs
    /// on the store's lanes.
    pub async fn handle(
        self: &Arc<Self>,
        endpoint: Endpoint,
        head: &RequestHead<'_>,
        parts: &Parts,
        body: Body,
        limits: BodyLimits,
    ) -> Result<Response, Problem> {
        if let Err(wait) = self.throttle.admit(head.client, self.rate) {
            let seconds = wait
                .as_secs()
                .saturating_add(u64::from(wait.subsec_nanos() > 0));
            return Err(Problem::new(StatusCode::TOO_MANY_REQUESTS)
                .detail(format!(
                    "too many requests to the OAuth endpoints from this address: {} per {} s; try again in {seconds} s",
                    self.rate.requests,
                    self.rate.period.as_secs()
                ))
                .header(RETRY_AFTER, HeaderValue::from(seconds))
                .cause(format!("{} is over the OAuth endpoints' rate", head.client)));
        }
        let allowed: &[Method] = match endpoint {
            Endpoint::Authorize => &[Method::GET, Method::POST],
            _ => &[Method::POST],
        };
        if !allowed.contains(head.method) {
            let allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
            return Err(Problem::new(StatusCode::METHOD_NOT_ALLOWED)
                .detail(format!("{} is not allowed here", head.method))
                .header(
                    ALLOW,
                    HeaderValue::from_str(&allow.join(", ")).expect("method names"),
                ));
        }
        let limits = BodyLimits {
            max_bytes: MAX_FORM_BYTES.min(limits.max_bytes),
            ..limits
        };
        let form = if is_form(head.headers) {
            Some(
                decode::read_body(&parts.headers, body, limits)
                    .await
                    .map_err(Problem::from)?,
            )
        } else {
            None
        };
        let head = &RequestHead {
            form: form.as_deref(),
            ..*head
        };
        match endpoint {
            Endpoint::RequestToken | Endpoint::AccessToken => {
                let signed = self
                    .verifier
                    .collect(head)
                    .map_err(|error| self.problem(error))?;
                let signed = Arc::new(signed);
                let expect = if endpoint == Endpoint::RequestToken {
                    ExpectedToken::Absent
                } else {
                    ExpectedToken::Request
                };
                let verified = self
                    .verifier
                    .verify(&signed, expect)
                    .await
                    .map_err(|error| self.problem(error))?;
                let provider = self.clone();
                self.store
                    .writing(move |_| {
                        if endpoint == Endpoint::RequestToken {
                            provider.request_token(&signed, verified)
                        } else {
                            provider.access_token(&signed, verified)
                        }
                    })
                    .await
                    .map_err(|error| self.problem(error))
            }
            Endpoint::Authorize if head.method == Method::GET => {
                Ok(self.authorize_page(head).await)
            }
            Endpoint::Authorize => Ok(self.authorize(head, head.form.unwrap_or_default()).await),
        }
    }

    fn problem(&self, error: OAuthError) -> Problem {
        let mut problem = Problem::new(error.status).detail(error.detail.clone());
        if let Some(seconds) = error.retry_after {
            problem = problem.header(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if error.status == StatusCode::UNAUTHORIZED {
            return problem
                .header(WWW_AUTHENTICATE, self.challenge.clone())
                .cause(format!("OAuth refused: {}", error.detail));
        }
        problem
    }

    fn request_token(&self, signed: &Signed, verified: Verified) -> Result<Response, OAuthError> {
        let callback = check_callback(
            signed.required("oauth_callback")?,
            verified.consumer.callback.as_deref(),
        )?;
        let now = now();
        let lifetime = i64::try_from(self.request_token_lifetime.as_secs()).unwrap_or(i64::MAX);
        let token = OAuthToken {
            token: random_text(24)?,
            secret: random_text(24)?,
            kind: TokenKind::Request,
            consumer: verified.consumer.key,
            username: None,
            callback: Some(callback),
            verifier: None,
            expires_at: Some(now.saturating_add(lifetime)),
            revoked: false,
            created_at: now,
        };
        if !self
            .store
            .add_request_token(&token, now, MAX_PENDING_REQUEST_TOKENS)?
        {
            return Err(OAuthError {
                status: StatusCode::TOO_MANY_REQUESTS,
                detail: format!(
                    "this consumer has {MAX_PENDING_REQUEST_TOKENS} temporary credentials waiting for approval; try again when some have expired"
                ),
                retry_after: Some(self.request_token_lifetime.as_secs()),
            });
        }
        Ok(form_response(&[
            ("oauth_token", &token.token),
            ("oauth_token_secret", &token.secret),
            ("oauth_callback_confirmed", "true"),
        ]))
    }

    fn access_token(&self, signed: &Signed, verified: Verified) -> Result<Response, OAuthError> {
        let Some(request) = verified.token else {
            return Err(OAuthError::unauthorized(
                "the temporary credentials are not valid",
            ));
        };
        let (Some(username), Some(expected)) = (&request.username, &request.verifier) else {
            return Err(OAuthError::unauthorized(
                "the temporary credentials have not been approved by the user",
            ));
        };
        let given = signed.required("oauth_verifier")?;
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Err(OAuthError::unauthorized("the verifier is wrong"));
        }
        let access = OAuthToken {
            token: random_text(24)?,
            secret: random_text(24)?,
            kind: TokenKind::Access,
            consumer: request.consumer.clone(),
            username: Some(username.clone()),
            callback: None,
            verifier: None,
            expires_at: None,
            revoked: false,
            created_at: now(),
        };
        if !self.store.exchange_request_token(&request.token, &access)? {
            return Err(OAuthError::unauthorized(
                "the temporary credentials were already exchanged",
            ));
        }
        Ok(form_response(&[
            ("oauth_token", &access.token),
            ("oauth_token_secret", &access.secret),
        ]))
    }

    /// The request token a page is about, if it can still be approved, with its
    /// consumer's name.
    async fn pending(&self, token: String) -> Result<(OAuthToken, String), &'static str> {
        self.store
            .reading(move |store| Provider::pending_in(store, &token))
            .await
    }

    fn pending_in(store: &AuthStore, token: &str) -> Result<(OAuthToken, String), &'static str> {
        let invalid = "This authorization link is invalid, expired or already used. Start again from the application.";
        let token = store
            .oauth_token(token)
            .ok()
            .flatten()
            .filter(|token| {
                token.kind == TokenKind::Request
                    && token.username.is_none()
                    && !token.revoked
                    && token.expires_at.is_none_or(|expires| expires > now())
            })
            .ok_or(invalid)?;
        let consumer = store
            .consumer(&token.consumer)
            .ok()
            .flatten()
            .filter(|consumer| !consumer.revoked)
            .ok_or(invalid)?;
        Ok((token, consumer.name))
    }

    async fn authorize_page(&self, head: &RequestHead<'_>) -> Response {
        let token = form_urlencoded::parse(head.uri.query().unwrap_or_default().as_bytes())
            .find(|(name, _)| name == "oauth_token")
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        let (token, consumer) = match self.pending(token).await {
            Ok(pending) => pending,
            Err(message) => return Page::Error { message }.respond(StatusCode::BAD_REQUEST, None),
        };
        let Ok(csrf) = random_text(24) else {
            return Page::Error {
                message: "The page cannot be made right now; try again.",
            }
            .respond(StatusCode::SERVICE_UNAVAILABLE, None);
        };
        let page = Page::Approve {
            consumer: &consumer,
            token: &token.token,
            csrf: &csrf,
            error: None,
        };
        page.respond(
            StatusCode::OK,
            Some(&csrf_cookie(&csrf, self.secure_cookies)),
        )
    }

    async fn authorize(&self, head: &RequestHead<'_>, form: &[u8]) -> Response {
        let field = |wanted: &str| {
            form_urlencoded::parse(form)
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
        };
        let csrf = field("csrf_token");
        let cookie = csrf_from(head.headers).unwrap_or_default();
        if csrf.is_empty() || !bool::from(csrf.as_bytes().ct_eq(cookie.as_bytes())) {
            return Page::Error {
                message: "The form was not sent from this site's authorization page, or it expired. Reload the page and try again.",
            }
            .respond(StatusCode::FORBIDDEN, None);
        }
        let (token, consumer) = match self.pending(field("oauth_token")).await {
            Ok(pending) => pending,
            Err(message) => return Page::Error { message }.respond(StatusCode::BAD_REQUEST, None),
        };
        if field("decision") != "allow" {
            let denied = token.token.clone();
            let revoked = self
                .store
                .writing(move |store| store.revoke_oauth_token(&denied))
                .await;
            if let Err(error) = revoked {
                tracing::error!("cannot revoke a denied OAuth token: {error}");
            }
            return Page::Denied {
                consumer: &consumer,
            }
            .respond(StatusCode::OK, None);
        }
        let username = field("username");
        let account = Account::user(&username);
        let locked = match self.lockout.lock(head.client, Some(&account)).await {
            Ok(locked) => locked,
            Err(_) => return unavailable_page(),
        };
        if let Some(lock) = locked {
            let message = format!(
                "Too many failed logins; try again in {} s.",
                lock.seconds().max(1)
            );
            let mut response =
                Page::Error { message: &message }.respond(StatusCode::TOO_MANY_REQUESTS, None);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(lock.seconds().max(1)));
            return response;
        }
        let name = username.clone();
        let user = self
            .store
            .reading(move |store| store.user(&name))
            .await
            .ok()
            .flatten();
        let hash = user.as_ref().map(|user| user.password_hash.as_str());
        if !self.passwords.check(hash, &field("password")).await {
            if self
                .lockout
                .fail(head.client, Some(&account))
                .await
                .is_err()
            {
                return unavailable_page();
            }
            tracing::info!(
                "OAuth authorization: wrong password for `{username}` from {}",
                head.client
            );
            let page = Page::Approve {
                consumer: &consumer,
                token: &token.token,
                csrf: &csrf,
                error: Some("Wrong username or password."),
            };
            return page.respond(StatusCode::UNAUTHORIZED, None);
        }
        let Ok(verifier) = random_text(16) else {
            return Page::Error {
                message: "The approval cannot be recorded right now; try again.",
            }
            .respond(StatusCode::SERVICE_UNAVAILABLE, None);
        };
        let (approved, approver, code) = (token.token.clone(), username.clone(), verifier.clone());
        let approval = self
            .store
            .writing(move |store| store.approve_request_token(&approved, &approver, &code))
            .await;
        match approval {
            Ok(true) => {}
            _ => {
                return Page::Error {
                    message: "This authorization was already answered.",
                }
                .respond(StatusCode::BAD_REQUEST, None);
            }
        }
        match token.callback.as_deref() {
            Some(callback) if callback != "oob" => redirect(callback, &token.token, &verifier),
            _ => Page::Verifier {
                consumer: &consumer,
                verifier: &verifier,
            }
            .respond(StatusCode::OK, None),
        }
    }
}

/// The callback to redirect to: `oob`, or an absolute http(s) URL without user name,
/// password or fragment (as parsed: what a browser will follow) that leads where
/// `registered` does, when the consumer registered one: the same scheme, host and port,
/// and a path at or under the registered path, segment by segment.
/// The page for a form that cannot be checked now: the failed-login counts do not
/// answer (503, `Retry-After`).
fn unavailable_page() -> Response {
    let mut response = Page::Error {
        message: "Logins cannot be checked right now; try again in a moment.",
    }
    .respond(StatusCode::SERVICE_UNAVAILABLE, None);
    response.headers_mut().insert(
        RETRY_AFTER,
        HeaderValue::from(UNAVAILABLE_RETRY_AFTER.as_secs()),
    );
    response
}

fn check_callback(callback: &str, registered: Option<&str>) -> Result<String, OAuthError> {
    if callback == "oob" {
        return Ok(callback.to_owned());
    }
    if callback.len() > MAX_CALLBACK_BYTES {
        return Err(OAuthError::bad_request(format!(
            "`oauth_callback` is longer than {MAX_CALLBACK_BYTES} bytes"
        )));
    }
    let parsed = web_url(callback).map_err(|problem| {
        OAuthError::bad_request(format!(
            "`oauth_callback` {problem}: it must be `oob`, or an absolute http(s) URL without user name, password or fragment"
        ))
    })?;
    if let Some(registered) = registered {
        let registered = web_url(registered).map_err(|problem| {
            tracing::warn!("a consumer's registered callback {problem}: its callbacks are refused");
            OAuthError::bad_request("the consumer's registered callback is not a valid URL")
        })?;
        if !leads_under(&parsed, &registered) {
            return Err(OAuthError::bad_request(
                "`oauth_callback` is not under the consumer's registered callback",
            ));
        }
    }
    Ok(parsed.into())
}

/// `text` as an absolute http(s) URL with a host and no user name, password or
/// fragment; else what is wrong with it.
pub(super) fn web_url(text: &str) -> Result<url::Url, &'static str> {
    let parsed = url::Url::parse(text).map_err(|_| "is not a URL")?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err("is not an absolute http(s) URL");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("holds a user name or password");
    }
    if parsed.fragment().is_some() {
        return Err("has a fragment");
    }
    Ok(parsed)
}

/// Whether `callback` leads where `registered` does: same scheme, host (parsed hosts
/// are lower-case) and port (defaults filled in), and a path at or under the
/// registered path on a segment boundary. Queries lead nowhere else, and are not
/// compared.
fn leads_under(callback: &url::Url, registered: &url::Url) -> bool {
    let same_origin = callback.scheme() == registered.scheme()
        && callback.host() == registered.host()
        && callback.port_or_known_default() == registered.port_or_known_default();
    let base = registered.path();
    let path = callback.path();
    let under = match path.strip_prefix(base) {
        Some(rest) => base.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
        None => false,
    };
    same_origin && under
}

fn redirect(callback: &str, token: &str, verifier: &str) -> Response {
    let separator = if callback.contains('?') { '&' } else { '?' };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("oauth_token", token)
        .append_pair("oauth_verifier", verifier)
        .finish();
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::FOUND;
    match HeaderValue::from_str(&format!("{callback}{separator}{query}")) {
        Ok(location) => {
            response.headers_mut().insert(LOCATION, location);
            response
        }
        Err(_) => Page::Error {
            message: "The application's callback address is not valid.",
        }
        .respond(StatusCode::BAD_REQUEST, None),
    }
}

fn form_response(fields: &[(&str, &str)]) -> Response {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        serializer.append_pair(name, value);
    }
    let mut response = Response::new(Body::from(serializer.finish()));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    response
}

/// Whether the body is a form (whose fields the signature covers).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<mime::Mime>().ok())
        .is_some_and(|mime| mime.essence_str() == "application/x-www-form-urlencoded")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_are_oob_or_absolute_and_registered() {
        assert!(check_callback("oob", Some("https://app.example/")).is_ok());
        assert!(check_callback("https://app.example/cb?x=1", Some("https://app.example/")).is_ok());
        assert!(check_callback("https://evil.example/", Some("https://app.example/")).is_err());
        assert!(check_callback("/relative", None).is_err());
        assert!(check_callback("javascript:alert(1)", None).is_err());
    }

    fn admits(callback: &str, registered: &str) -> bool {
        check_callback(callback, Some(registered)).is_ok()
    }

    #[test]
    fn callbacks_must_lead_to_the_registered_host() {
        let registered = "https://app.example";
        assert!(admits("https://app.example/", registered));
        assert!(admits("https://app.example/cb?state=1", registered));
        assert!(
            admits("https://APP.Example/cb", registered),
            "hosts without case"
        );
        assert!(
            admits("https://app.example:443/cb", registered),
            "the default port"
        );
        assert!(
            !admits("https://app.example.evil/cb", registered),
            "a longer host"
        );
        assert!(!admits("https://app.example.evil", registered));
        assert!(
            !admits("https://app.example@evil/", registered),
            "user info"
        );
        assert!(!admits("https://app.example:x@evil/", registered));
        assert!(
            !admits("https://app.example:444/", registered),
            "another port"
        );
        assert!(!admits("http://app.example/", registered), "another scheme");
        assert!(!admits("https://evil/?https://app.example", registered));
        // Read as a browser reads it: the backslash ends the host.
        assert_eq!(
            check_callback("https://app.example\\@evil.example/", Some(registered)).unwrap(),
            "https://app.example/@evil.example/"
        );
        assert!(!admits("https://app.example/cb#fragment", registered));
        assert!(
            !admits("https://ann@app.example/", registered),
            "user info even there"
        );
    }

    #[test]
    fn callback_paths_compare_on_segment_boundaries() {
        let registered = "https://app.example/cb";
        assert!(admits("https://app.example/cb", registered));
        assert!(admits("https://app.example/cb/x", registered));
        assert!(admits("https://app.example/cb?x=1", registered));
        assert!(!admits("https://app.example/cbx", registered));
        assert!(!admits("https://app.example/", registered));
        assert!(!admits("https://app.example/other/cb", registered));
        assert!(
            !admits("https://app.example/cb/../evil", registered),
            "dot segments"
        );
        assert!(!admits("https://app.example/cb/%2e%2e/evil", registered));
        assert!(!admits("https://app.example/cb%2F..%2Fevil", registered));
        assert!(admits(
            "https://app.example/cb/x",
            "https://app.example/cb/"
        ));
        assert!(!admits("https://app.example/cb", "https://app.example/cb/"));
        assert!(admits("http://localhost:8080/cb", "http://localhost:8080"));
        assert!(!admits("http://localhost:8081/cb", "http://localhost:8080"));
    }

    #[test]
    fn the_redirect_goes_where_the_callback_was_checked_to_lead() {
        let checked = check_callback("https://APP.example:443/cb/./x?s=1", None).unwrap();
        assert_eq!(checked, "https://app.example/cb/x?s=1");
        assert_eq!(check_callback("oob", None).unwrap(), "oob");
        let error = check_callback("https://app.example/", Some("not a url")).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        let huge = format!("https://app.example/{}", "a".repeat(1 << 20));
        let error = check_callback(&huge, Some("https://app.example/")).unwrap_err();
        assert!(error.detail.contains("longer than"), "{}", error.detail);
    }

    #[test]
    fn redirects_keep_the_callbacks_query() {
        let response = redirect("https://app.example/cb?state=1", "t", "v w");
        assert_eq!(
            response.headers()[LOCATION],
            "https://app.example/cb?state=1&oauth_token=t&oauth_verifier=v+w"
        );
    }
}
