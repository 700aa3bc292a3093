//! The authorization page a user approves (or denies) a consumer on.
//!
//! Plain HTML with no script, styled inline; every value is escaped. The form carries
//! a CSRF token that must match a cookie set with the page (double submit): another
//! site can make a browser post the form, but cannot read or set the cookie.

use axum::body::Body;
use axum::response::Response;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, SET_COOKIE};
use http::{HeaderMap, StatusCode};

/// The cookie carrying the CSRF token.
pub const CSRF_COOKIE: &str = "piston_oauth_csrf";

/// What the page shows.
pub enum Page<'a> {
    /// The login-and-approve form.
    Approve {
        /// The consumer asking.
        consumer: &'a str,
        /// The request token being approved.
        token: &'a str,
        /// The CSRF token (also set as a cookie).
        csrf: &'a str,
        /// An error from a previous attempt.
        error: Option<&'a str>,
    },
    /// The verifier, for a consumer without a callback (`oob`).
    Verifier {
        /// The consumer.
        consumer: &'a str,
        /// What the user gives the consumer.
        verifier: &'a str,
    },
    /// The user said no.
    Denied {
        /// The consumer.
        consumer: &'a str,
    },
    /// Something is wrong with the link or the form.
    Error {
        /// What.
        message: &'a str,
    },
}

impl Page<'_> {
    /// The page as a response with `status`; `cookie` sets the CSRF cookie.
    pub fn respond(&self, status: StatusCode, cookie: Option<&str>) -> Response {
        let mut response = Response::new(Body::from(self.html()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        );
        headers.insert(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        );
        headers.insert(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("no-referrer"),
        );
        if let Some(cookie) = cookie.and_then(|cookie| HeaderValue::from_str(cookie).ok()) {
            headers.insert(SET_COOKIE, cookie);
        }
        response
    }

    fn html(&self) -> String {
        let body = match self {
            Page::Approve {
                consumer,
                token,
                csrf,
                error,
            } => format!(
                r#"<h1>Allow {consumer} to use your account?</h1>
<p><strong>{consumer}</strong> asks to act on your behalf. Log in to allow or deny it.</p>
{error}<form method="post" action="/oauth/authorize">
<input type="hidden" name="oauth_token" value="{token}">
<input type="hidden" name="csrf_token" value="{csrf}">
<p><label>Username <input name="username" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button name="decision" value="allow">Allow</button> <button name="decision" value="deny">Deny</button></p>
</form>"#,
                consumer = escape(consumer),
                token = escape(token),
                csrf = escape(csrf),
                error = error
                    .map(|error| format!("<p class=\"error\">{}</p>\n", escape(error)))
                    .unwrap_or_default(),
            ),
            Page::Verifier { consumer, verifier } => format!(
                "<h1>Access allowed</h1>\n<p>Give {} this code:</p>\n<p><code id=\"verifier\">{}</code></p>",
                escape(consumer),
                escape(verifier)
            ),
            Page::Denied { consumer } => format!(
                "<h1>Access denied</h1>\n<p>{} was not allowed to use your account.</p>",
                escape(consumer)
            ),
            Page::Error { message } => format!(
                "<h1>This authorization cannot go on</h1>\n<p>{}</p>",
                escape(message)
            ),
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\"><title>Authorize</title>\
             <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
             .error{{color:#b00}}</style></head><body>\n{body}\n</body></html>\n"
        )
    }
}

/// The `Set-Cookie` value for a CSRF token.
pub fn csrf_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{CSRF_COOKIE}={token}; Path=/oauth; HttpOnly; SameSite=Strict{secure}")
}

/// The CSRF cookie the browser sent, if any.
pub fn csrf_from(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == CSRF_COOKIE)
        .map(|(_, value)| value)
}

/// Text safe inside HTML elements and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped() {
        let page = Page::Approve {
            consumer: "<script>alert('x')</script>",
            token: "t\"><",
            csrf: "c",
            error: Some("a & b"),
        };
        let html = page.html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(html.contains("value=\"t&quot;&gt;&lt;\""));
        assert!(html.contains("a &amp; b"));
    }

    #[test]
    fn the_csrf_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            http::header::COOKIE,
            "a=1; piston_oauth_csrf=xyz".parse().unwrap(),
        );
        assert_eq!(csrf_from(&headers), Some("xyz"));
        assert_eq!(csrf_from(&HeaderMap::new()), None);
        assert!(csrf_cookie("xyz", true).ends_with("SameSite=Strict; Secure"));
    }
}
