//! The words every layer shares: HTTP methods and sets of them, rate limits, the
//! names plugins and authenticators may take, and the error a setting reports.
//!
//! A leaf: it imports nothing of the crate, so the configuration, the registry, the
//! authentication and the throttling can all use it without depending on each other.

use serde::Serialize;
use std::fmt;

/// A method a resource can implement. `HEAD` and `OPTIONS` are answered by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// `GET` (django-piston's `read`).
    Get,
    /// `POST` (`create`).
    Post,
    /// `PUT` (`update`).
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE` (`delete`).
    Delete,
}

impl Method {
    /// Every method, in the order `Allow` headers list them.
    pub const ALL: [Method; 5] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    /// The method called `name` (upper-case, as on the wire), if Piston routes it.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|method| method.as_str() == name)
    }

    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// The method of an HTTP request, if a resource can implement it.
    pub fn from_http(method: &http::Method) -> Option<Method> {
        Some(match *method {
            http::Method::GET => Method::Get,
            http::Method::POST => Method::Post,
            http::Method::PUT => Method::Put,
            http::Method::PATCH => Method::Patch,
            http::Method::DELETE => Method::Delete,
            _ => return None,
        })
    }

    /// Whether requests with this method carry a body the host decodes.
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A set of methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MethodSet(u8);

impl MethodSet {
    /// Whether `method` is in the set.
    pub fn contains(self, method: Method) -> bool {
        self.0 & method.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether every method of `self` is in `other`.
    pub fn is_subset(self, other: MethodSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The methods, in [`Method::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        Method::ALL
            .into_iter()
            .filter(move |method| self.contains(*method))
    }

    /// The value of an `Allow` header for a resource with these methods: the methods,
    /// plus `HEAD` when `GET` is allowed, plus `OPTIONS`.
    pub fn allow_header(self) -> String {
        let mut names: Vec<&str> = self.iter().map(Method::as_str).collect();
        if self.contains(Method::Get) {
            names.push("HEAD");
        }
        names.push("OPTIONS");
        names.join(", ")
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(methods: I) -> MethodSet {
        MethodSet(
            methods
                .into_iter()
                .fold(0, |bits, method| bits | method.bit()),
        )
    }
}

impl fmt::Display for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Method::as_str).collect();
        f.write_str(&names.join(", "))
    }
}

impl Serialize for MethodSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

/// A rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Throttle {
    /// The methods sharing this counter.
    pub methods: MethodSet,
    /// Requests per period.
    pub requests: u32,
    /// The period, in seconds.
    pub period_seconds: u32,
}

impl fmt::Display for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}/{}s",
            self.methods, self.requests, self.period_seconds
        )
    }
}

/// Whether `name` is a well-formed plugin, resource or authenticator name.
pub fn is_name(name: &str) -> bool {
    let well_formed = name
        .bytes()
        .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
    !name.is_empty() && name.len() <= 64 && well_formed && !name.starts_with('-')
}

/// The authenticators built into the host, by the names the configuration uses.
pub const BUILT_IN: [&str; 5] = ["basic", "digest", "bearer", "jwt", "oauth1"];

/// A configuration value that cannot be used. Its message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct ConfigError {
    origin: String,
    message: String,
}

impl ConfigError {
    /// An error about the key (or file position) `origin`.
    pub fn new(origin: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: origin.into(),
            message: message.into(),
        }
    }
}

/// Checks that `value`, given for `key`, is within the inclusive range.
pub fn check_range<T: PartialOrd + std::fmt::Debug>(
    key: &str,
    value: T,
    (low, high): (T, T),
) -> Result<T, ConfigError> {
    if value < low || value > high {
        return Err(ConfigError::new(
            key,
            format!("{value:?} is out of range (allowed: {low:?} to {high:?})"),
        ));
    }
    Ok(value)
}
