//! Choosing the output format, before the handler runs.
//!
//! In order: a format suffix on the path (`/posts/hello.yaml`), then `?format=`, then
//! the `Accept` header (RFC 9110: q-values, the most specific matching range decides,
//! `q=0` excludes), then JSON. JSON can be indented with `?indent=N` or an `indent`
//! parameter on the accepted media type. When the client accepts none of the formats
//! the answer is 406, listing them, and the handler is never called — django-piston
//! ran the handler (and its side effects) before noticing an unknown format.

use crate::emit::{EMITTERS, Emitter, Negotiated, Options};
use crate::problem::Problem;
use http::StatusCode;

/// The widest indent accepted.
pub const MAX_INDENT: u8 = 16;

/// The most media ranges of an `Accept` header considered; the rest are ignored (no
/// client lists more than a handful).
const MAX_RANGES: usize = 32;

/// What the client said about formats.
#[derive(Debug, Default, Clone, Copy)]
pub struct Asked<'a> {
    /// The format named by the path's suffix, if it has a known one.
    pub suffix: Option<&'static dyn Emitter>,
    /// `?format=`.
    pub format: Option<&'a str>,
    /// `?indent=`.
    pub indent: Option<&'a str>,
    /// The `Accept` header.
    pub accept: Option<&'a str>,
}

/// The format a path's suffix names, and the path without it: `/posts/a.yaml` →
/// (`/posts/a`, YAML). `None` when the suffix is not a format's.
pub fn split_suffix(path: &str) -> Option<(&str, &'static dyn Emitter)> {
    let (stem, extension) = path.rsplit_once('.')?;
    if stem.is_empty() || stem.ends_with('/') || extension.contains('/') {
        return None;
    }
    let emitter = EMITTERS
        .iter()
        .find(|emitter| emitter.format().extensions.contains(&extension))?;
    Some((stem, *emitter))
}

/// Why no format could be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// `?indent=` is not a width from 0 to [`MAX_INDENT`] (400).
    Indent(String),
    /// `?format=` names no format (406).
    Unknown(String),
    /// No format matches the `Accept` header (406).
    NotAcceptable(String),
}

impl From<FormatError> for Problem {
    fn from(error: FormatError) -> Problem {
        let detail = match error {
            FormatError::Indent(text) => {
                return Problem::new(StatusCode::BAD_REQUEST).detail(format!(
                    "indent must be a number of spaces from 0 to {MAX_INDENT}, not `{text}`"
                ));
            }
            FormatError::Unknown(name) => format!("there is no format `{name}`"),
            FormatError::NotAcceptable(accept) => {
                format!("no available format is acceptable to `Accept: {accept}`")
            }
        };
        let available: Vec<&str> = EMITTERS
            .iter()
            .map(|emitter| emitter.format().media_types[0])
            .collect();
        Problem::new(StatusCode::NOT_ACCEPTABLE)
            .detail(format!("{detail}; available: {}", available.join(", ")))
            .extension("available", serde_json::json!(available))
    }
}

/// Chooses the format, or says why none can be.
pub fn negotiate(asked: Asked<'_>) -> Result<Negotiated, FormatError> {
    let mut indent = asked.indent.map(parse_indent).transpose()?;
    let emitter = if let Some(emitter) = asked.suffix {
        emitter
    } else if let Some(name) = asked.format {
        *EMITTERS
            .iter()
            .find(|emitter| {
                emitter.format().name.eq_ignore_ascii_case(name)
                    || emitter.format().media_types.contains(&name)
            })
            .ok_or_else(|| FormatError::Unknown(name.to_owned()))?
    } else if let Some(accept) = asked.accept {
        let (emitter, accept_indent) =
            from_accept(accept).ok_or_else(|| FormatError::NotAcceptable(accept.to_owned()))?;
        indent = indent.or(accept_indent);
        emitter
    } else {
        EMITTERS[0]
    };
    Ok(Negotiated {
        emitter,
        options: Options { indent },
    })
}

fn parse_indent(text: &str) -> Result<u8, FormatError> {
    text.parse::<u8>()
        .ok()
        .filter(|width| *width <= MAX_INDENT)
        .ok_or_else(|| FormatError::Indent(text.to_owned()))
}

/// One media range of an `Accept` header.
struct Range {
    kind: String,
    subtype: String,
    quality: f32,
    indent: Option<u8>,
}

impl Range {
    fn parse(text: &str) -> Option<Range> {
        let mime: mime::Mime = text.trim().parse().ok()?;
        let mut quality = 1.0;
        let mut indent = None;
        for (name, value) in mime.params() {
            match name.as_str() {
                "q" => {
                    quality = value
                        .as_str()
                        .parse()
                        .ok()
                        .filter(|q: &f32| (0.0..=1.0).contains(q))?
                }
                "indent" => {
                    indent = value
                        .as_str()
                        .parse()
                        .ok()
                        .filter(|width| *width <= MAX_INDENT)
                }
                _ => {}
            }
        }
        Some(Range {
            kind: mime.type_().as_str().to_ascii_lowercase(),
            subtype: mime.subtype().as_str().to_ascii_lowercase(),
            quality,
            indent,
        })
    }

    /// How specifically this range names `media_type` (3 exactly, 2 by type, 1 as
    /// `*/*`), if it matches at all.
    fn specificity(&self, media_type: &str) -> Option<u8> {
        let (kind, subtype) = media_type.split_once('/')?;
        match (self.kind.as_str(), self.subtype.as_str()) {
            ("*", "*") => Some(1),
            (range_kind, "*") if range_kind == kind => Some(2),
            (range_kind, range_subtype) if range_kind == kind && range_subtype == subtype => {
                Some(3)
            }
            _ => None,
        }
    }
}

/// The best format for an `Accept` header: the highest quality its most specific
/// matching range gives; ties go to the more specific match, then to the host's order.
fn from_accept(accept: &str) -> Option<(&'static dyn Emitter, Option<u8>)> {
    let ranges: Vec<Range> = accept
        .split(',')
        .take(MAX_RANGES)
        .filter_map(Range::parse)
        .collect();
    let mut best: Option<(f32, u8, usize, Option<u8>)> = None;
    for (preference, emitter) in EMITTERS.iter().enumerate() {
        let Some((quality, specificity, indent)) = emitter
            .format()
            .media_types
            .iter()
            .filter_map(|media_type| {
                ranges
                    .iter()
                    .filter_map(|range| Some((range, range.specificity(media_type)?)))
                    .max_by_key(|(_, specificity)| *specificity)
                    .map(|(range, specificity)| (range.quality, specificity, range.indent))
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        else {
            continue;
        };
        if quality <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_quality, best_specificity, _, _)) => {
                quality > best_quality
                    || (quality == best_quality && specificity > best_specificity)
            }
        };
        if better {
            best = Some((quality, specificity, preference, indent));
        }
    }
    best.map(|(_, _, preference, indent)| (EMITTERS[preference], indent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(asked: Asked<'_>) -> Result<(&'static str, Option<u8>), u16> {
        negotiate(asked)
            .map(|negotiated| (negotiated.emitter.format().name, negotiated.options.indent))
            .map_err(|error| Problem::from(error).status().as_u16())
    }

    fn accept(header: &str) -> Result<(&'static str, Option<u8>), u16> {
        chosen(Asked {
            accept: Some(header),
            ..Asked::default()
        })
    }

    #[test]
    fn accept_headers() {
        assert_eq!(accept("application/xml"), Ok(("xml", None)));
        assert_eq!(
            accept("text/xml;q=0.5, application/x-yaml"),
            Ok(("yaml", None))
        );
        assert_eq!(
            accept("text/html, application/xhtml+xml, */*;q=0.8"),
            Ok(("json", None))
        );
        assert_eq!(
            accept("application/*;q=0.2, application/msgpack;q=0.9"),
            Ok(("msgpack", None))
        );
        assert_eq!(
            accept("*/*, application/json;q=0"),
            Ok(("yaml", None)),
            "q=0 excludes json"
        );
        assert_eq!(accept("application/json; indent=4"), Ok(("json", Some(4))));
        assert_eq!(accept("text/html"), Err(406));
        assert_eq!(accept("*/*;q=0"), Err(406));
        assert_eq!(
            accept("application/yaml;q=0.5, application/xml;q=0.5"),
            Ok(("yaml", None)),
            "host order breaks ties"
        );
        assert_eq!(
            accept("application/*, application/xml"),
            Ok(("xml", None)),
            "the specific match wins a tie"
        );
        assert_eq!(accept("garbage, application/jsonl"), Ok(("jsonl", None)));
    }

    #[test]
    fn suffix_then_query_then_accept() {
        let (_, yaml) = split_suffix("/posts/hello.yaml").unwrap();
        assert_eq!(
            chosen(Asked {
                suffix: Some(yaml),
                format: Some("xml"),
                accept: Some("application/json"),
                ..Asked::default()
            }),
            Ok(("yaml", None))
        );
        assert_eq!(
            chosen(Asked {
                format: Some("pickle"),
                accept: Some("application/json"),
                ..Asked::default()
            }),
            Ok(("pickle", None))
        );
        assert_eq!(chosen(Asked::default()), Ok(("json", None)));
        assert_eq!(
            chosen(Asked {
                format: Some("csv"),
                ..Asked::default()
            }),
            Err(406)
        );
        assert_eq!(
            chosen(Asked {
                indent: Some("2"),
                ..Asked::default()
            }),
            Ok(("json", Some(2)))
        );
        assert_eq!(
            chosen(Asked {
                indent: Some("99"),
                ..Asked::default()
            }),
            Err(400)
        );
    }

    #[test]
    fn suffixes() {
        assert_eq!(
            split_suffix("/posts/hello.yml").map(|(path, emitter)| (path, emitter.format().name)),
            Some(("/posts/hello", "yaml"))
        );
        assert!(split_suffix("/posts/release-1.0").is_none());
        assert!(split_suffix("/posts/.json").is_none());
        assert!(split_suffix("/a.json/b").is_none());
        assert!(split_suffix("/posts").is_none());
    }
}
