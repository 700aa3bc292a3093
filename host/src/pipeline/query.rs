//! The query string: the host's own parameters (`format`, `indent`, `fields`,
//! `exclude`), and the rest, bounded in number, for the guest.

use super::Refusal;

/// The query string: the host's own parameters, and the rest for the guest.
#[derive(Debug, Default)]
pub(crate) struct Query {
    /// `?format=`: the output format.
    pub(super) format: Option<String>,
    /// `?indent=`: pretty-printing.
    pub(super) indent: Option<String>,
    /// `?fields=`: fewer fields.
    pub(super) fields: Option<String>,
    /// `?exclude=`: fields to hide.
    pub(super) exclude: Option<String>,
    /// Everything else, in order, for the guest.
    pub(super) pairs: Vec<(String, String)>,
}

/// The most query parameters a request may pass to a guest.
pub(super) const MAX_QUERY_PAIRS: usize = 256;

impl Query {
    /// Splits the query string; more than [`MAX_QUERY_PAIRS`] for the guest are refused.
    pub(crate) fn parse(query: Option<&str>) -> Result<Query, Refusal> {
        let mut parsed = Query::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let slot = match &*name {
                "format" => &mut parsed.format,
                "indent" => &mut parsed.indent,
                "fields" => &mut parsed.fields,
                "exclude" => &mut parsed.exclude,
                _ => {
                    if parsed.pairs.len() == MAX_QUERY_PAIRS {
                        return Err(Refusal::TooManyQueryParameters {
                            max: MAX_QUERY_PAIRS,
                        });
                    }
                    parsed.pairs.push((name.into_owned(), value.into_owned()));
                    continue;
                }
            };
            *slot = Some(value.into_owned());
        }
        Ok(parsed)
    }
}
