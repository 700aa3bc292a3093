// Over 600 lines: a third is tests; filters, shapes and URI templates share the dotted-path syntax.
//! Which fields of the data a client sees: django-piston's `fields` and `exclude`,
//! narrowed per request by `?fields=` and `?exclude=`, and `resource_uri`.
//!
//! A resource's spec compiles once, at load, into a [`FieldFilter`]; a request may
//! narrow it, never widen it. The filter is a tree of [`Shape`]s the transcoder walks
//! while it copies the guest's data into the output format, so no document is ever
//! built in memory to be filtered.
//!
//! - `fields`: dotted paths (`title`, `author.username`). A path names a key and, through
//!   its prefix, the objects it is nested in. Empty means every field.
//! - `exclude`: a plain name hides that key at every level (as django-piston's default
//!   `('id',)` hid every model's id); a dotted path hides one nested key; `re:PATTERN`
//!   hides every key the regular expression matches from its start (Python's
//!   `re.match`).
//! - Lists are transparent: a path applies to the objects in a list as to an object.
//!
//! Paths are bounded — at most [`MAX_PATHS`] in one list, [`MAX_SEGMENTS`] names each,
//! [`MAX_LIST_CHARS`] of text — and checked before anything is built from them, so a
//! client's `?fields=a.a.a…` costs a 400, not a deep tree (the tree's code recurses
//! along paths, at most [`MAX_SEGMENTS`] deep).

use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The key the host adds to each item when its resource has an item URI template.
pub const RESOURCE_URI: &str = "resource_uri";

/// The most paths one `fields` or `exclude` list may have.
pub const MAX_PATHS: usize = 256;

/// The most names one dotted path may have.
pub const MAX_SEGMENTS: usize = 32;

/// The longest `?fields=` or `?exclude=` value, in characters (as JSON Schema's
/// `maxLength` counts them): both lists at their longest, percent-encoded four-byte
/// characters each, take 24 KiB of the 64 KiB request head.
pub const MAX_LIST_CHARS: usize = 1024;

/// What is trimmed around each path of a list: ASCII spaces only, so that
/// [`list_pattern`] means the same in every regular expression dialect.
const LIST_SPACES: [char; 4] = [' ', '\t', '\n', '\r'];

/// A resource's compiled field rules, possibly narrowed for one request.
#[derive(Clone)]
pub struct FieldFilter {
    root: Arc<Node>,
    everywhere: Arc<Everywhere>,
    /// Whether items get a `resource_uri` (if the resource has a template).
    resource_uri: bool,
}

/// The rules for one level of the data.
#[derive(Debug, Default, Clone, PartialEq)]
struct Node {
    /// The only keys shown here; `None` shows every key.
    only: Option<BTreeSet<String>>,
    /// Rules for the values of particular keys (when they are objects or lists).
    children: BTreeMap<String, Node>,
    /// Keys hidden at this level only.
    exclude: BTreeSet<String>,
}

/// Keys hidden at every level.
#[derive(Debug, Default)]
struct Everywhere {
    names: BTreeSet<String>,
    patterns: Vec<Pattern>,
}

/// An exclude pattern: most are plain prefixes (`re:private_`), checked without the
/// regular expression engine.
#[derive(Debug, Clone)]
enum Pattern {
    Prefix(String),
    Regex(Regex),
}

impl Pattern {
    fn matches(&self, key: &str) -> bool {
        match self {
            Pattern::Prefix(prefix) => key.starts_with(prefix.as_str()),
            Pattern::Regex(regex) => regex.is_match(key),
        }
    }
}

/// Why a set of field rules is unusable.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FieldError {
    /// A dotted path with an empty segment (`author..name`, `.title`), or an empty list.
    #[error("`{0}` is not a field path (names joined by dots)")]
    Malformed(String),
    /// Too many paths, too many names in a path, or too long a list.
    #[error(
        "field lists are limited to {MAX_PATHS} paths of at most {MAX_SEGMENTS} names, \
         {MAX_LIST_CHARS} characters in all: {0}"
    )]
    TooLarge(String),
    /// A `re:` pattern that does not compile.
    #[error("exclude pattern `{pattern}` is not a regular expression: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Clients may not send patterns.
    #[error("`{0}`: only a resource's spec may exclude by pattern")]
    ClientPattern(String),
}

impl FieldFilter {
    /// Compiles a resource's `fields` and `exclude`.
    pub fn compile(fields: &[String], exclude: &[String]) -> Result<FieldFilter, FieldError> {
        for rules in [fields, exclude] {
            if rules.len() > MAX_PATHS {
                return Err(FieldError::TooLarge(format!("{} paths", rules.len())));
            }
        }
        let mut root = Node::default();
        if !fields.is_empty() {
            root = Node::only(fields)?;
        }
        let mut everywhere = Everywhere::default();
        for rule in exclude {
            if let Some(pattern) = rule.strip_prefix("re:") {
                let anchored = format!("^(?:{pattern})");
                let regex = Regex::new(&anchored).map_err(|error| FieldError::Pattern {
                    pattern: pattern.to_owned(),
                    reason: error.to_string(),
                })?;
                let literal = pattern.trim_start_matches('^');
                let is_literal = !literal.is_empty() && regex_syntax_is_literal(literal);
                everywhere.patterns.push(if is_literal {
                    Pattern::Prefix(literal.to_owned())
                } else {
                    Pattern::Regex(regex)
                });
            } else {
                root.exclude_path(rule, &mut everywhere)?;
            }
        }
        Ok(FieldFilter {
            root: Arc::new(root),
            resource_uri: !everywhere.hides(RESOURCE_URI),
            everywhere: Arc::new(everywhere),
        })
    }

    /// A filter that shows everything, for data the host writes itself.
    pub fn everything() -> FieldFilter {
        static EVERYTHING: std::sync::LazyLock<FieldFilter> = std::sync::LazyLock::new(|| {
            FieldFilter::compile(&[], &[]).expect("no rules always compile")
        });
        EVERYTHING.clone()
    }

    /// This filter narrowed by a client's `?fields=` and `?exclude=` (comma-separated
    /// dotted paths). Asking for a field the resource hides, or does not have, is not an
    /// error: it is simply absent.
    pub fn narrow(
        &self,
        fields: Option<&str>,
        exclude: Option<&str>,
    ) -> Result<FieldFilter, FieldError> {
        if fields.is_none() && exclude.is_none() {
            return Ok(self.clone());
        }
        let mut root = (*self.root).clone();
        let mut everywhere_names = BTreeSet::new();
        let mut resource_uri = self.resource_uri;
        if let Some(fields) = fields {
            let paths = split_list(fields)?;
            resource_uri &= paths.iter().any(|path| path == RESOURCE_URI);
            root = root.intersect(&Node::only(&paths)?);
        }
        if let Some(exclude) = exclude {
            for path in split_list(exclude)? {
                if path.starts_with("re:") {
                    return Err(FieldError::ClientPattern(path));
                }
                if path == RESOURCE_URI {
                    resource_uri = false;
                }
                let mut names = Everywhere::default();
                root.exclude_path(&path, &mut names)?;
                everywhere_names.extend(names.names);
            }
        }
        let everywhere = if everywhere_names.is_empty() {
            self.everywhere.clone()
        } else {
            everywhere_names.extend(self.everywhere.names.iter().cloned());
            Arc::new(Everywhere {
                names: everywhere_names,
                patterns: self.everywhere.patterns.clone(),
            })
        };
        Ok(FieldFilter {
            root: Arc::new(root),
            everywhere,
            resource_uri: resource_uri && !self.everywhere.hides(RESOURCE_URI),
        })
    }

    /// Whether the filter lets everything through (the data can be passed on as is).
    pub fn is_identity(&self) -> bool {
        *self.root == Node::default() && self.everywhere.is_empty()
    }

    /// Whether items get a `resource_uri`.
    pub fn shows_resource_uri(&self) -> bool {
        self.resource_uri
    }

    /// The shape of the top level of the data.
    pub fn shape(&self) -> Shape<'_> {
        Shape {
            node: Some(&self.root),
            everywhere: &self.everywhere,
        }
    }
}

impl fmt::Debug for FieldFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldFilter")
            .field("root", &self.root)
            .field("everywhere", &self.everywhere.names)
            .field("patterns", &self.everywhere.patterns.len())
            .finish()
    }
}

/// The rules at one point in the data: which keys of an object there are shown, and
/// the shape of each shown key's value.
#[derive(Clone, Copy)]
pub struct Shape<'a> {
    /// `None` below a key that has no rules of its own: every key is shown (except
    /// those hidden everywhere).
    node: Option<&'a Node>,
    everywhere: &'a Everywhere,
}

impl<'a> Shape<'a> {
    /// The shape of `key`'s value, or `None` if `key` is hidden.
    pub fn child(&self, key: &str) -> Option<Shape<'a>> {
        if self.everywhere.hides(key) {
            return None;
        }
        let Some(node) = self.node else {
            return Some(*self);
        };
        if node.exclude.contains(key) || node.only.as_ref().is_some_and(|only| !only.contains(key))
        {
            return None;
        }
        Some(Shape {
            node: node.children.get(key),
            everywhere: self.everywhere,
        })
    }
}

impl Node {
    /// A node showing only `paths`.
    fn only<S: AsRef<str>>(paths: &[S]) -> Result<Node, FieldError> {
        let mut node = Node {
            only: Some(BTreeSet::new()),
            ..Node::default()
        };
        // Whole fields first, so that `author` wins over `author.username`.
        let mut sorted: Vec<&str> = paths.iter().map(AsRef::as_ref).collect();
        sorted.sort_by_key(|path| path.matches('.').count());
        for path in sorted {
            node.include_path(path)?;
        }
        Ok(node)
    }

    fn include_path(&mut self, path: &str) -> Result<(), FieldError> {
        let segments = segments(path)?;
        let mut node = self;
        for (index, segment) in segments.iter().enumerate() {
            let only = node.only.get_or_insert_with(BTreeSet::new);
            let newly_named = only.insert((*segment).to_owned());
            if index + 1 == segments.len() {
                // The whole value: no restriction below.
                node.children.remove(*segment);
                return Ok(());
            }
            if !newly_named && !node.children.contains_key(*segment) {
                // Already shown whole.
                return Ok(());
            }
            node = node.children.entry((*segment).to_owned()).or_default();
        }
        Ok(())
    }

    fn exclude_path(&mut self, path: &str, everywhere: &mut Everywhere) -> Result<(), FieldError> {
        let mut segments = segments(path)?;
        let last = segments.pop().expect("at least one segment");
        if segments.is_empty() {
            everywhere.names.insert(last.to_owned());
            return Ok(());
        }
        let mut node = self;
        for segment in segments {
            node = node.children.entry(segment.to_owned()).or_default();
        }
        node.exclude.insert(last.to_owned());
        Ok(())
    }

    /// What both `self` and `other` show.
    fn intersect(&self, other: &Node) -> Node {
        let only = match (&self.only, &other.only) {
            (None, None) => None,
            (Some(only), None) | (None, Some(only)) => Some(only.clone()),
            (Some(a), Some(b)) => Some(a.intersection(b).cloned().collect()),
        };
        let mut children = BTreeMap::new();
        let keys: BTreeSet<&String> = self.children.keys().chain(other.children.keys()).collect();
        for key in keys {
            let all = Node::default();
            let mine = self.children.get(key).unwrap_or(&all);
            let theirs = other.children.get(key).unwrap_or(&all);
            children.insert(key.clone(), mine.intersect(theirs));
        }
        Node {
            only,
            children,
            exclude: self.exclude.union(&other.exclude).cloned().collect(),
        }
    }
}

impl Everywhere {
    fn hides(&self, key: &str) -> bool {
        self.names.contains(key) || self.patterns.iter().any(|pattern| pattern.matches(key))
    }

    fn is_empty(&self) -> bool {
        self.names.is_empty() && self.patterns.is_empty()
    }
}

/// Whether a pattern matches only its own text: letters, digits, `_` and `-`, which no
/// regular expression treats specially.
fn regex_syntax_is_literal(pattern: &str) -> bool {
    pattern
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn segments(path: &str) -> Result<Vec<&str>, FieldError> {
    if path.split('.').nth(MAX_SEGMENTS).is_some() {
        return Err(FieldError::TooLarge(format!(
            "a path of more than {MAX_SEGMENTS} names"
        )));
    }
    let segments: Vec<&str> = path.split('.').collect();
    if segments.iter().any(|segment| segment.is_empty()) {
        return Err(FieldError::Malformed(shorten(path)));
    }
    Ok(segments)
}

/// `title, author.username` → the paths, trimmed; checked for size before anything is
/// built from them.
fn split_list(list: &str) -> Result<Vec<String>, FieldError> {
    if list.chars().nth(MAX_LIST_CHARS).is_some() {
        return Err(FieldError::TooLarge(format!(
            "{} characters",
            list.chars().count()
        )));
    }
    if list.split(',').nth(MAX_PATHS).is_some() {
        return Err(FieldError::TooLarge(format!("more than {MAX_PATHS} paths")));
    }
    let paths: Vec<String> = list
        .split(',')
        .map(|path| path.trim_matches(LIST_SPACES).to_owned())
        .collect();
    if paths.iter().any(String::is_empty) {
        return Err(FieldError::Malformed(shorten(list)));
    }
    Ok(paths)
}

/// A regular expression (ECMA-262 and Python's alike) for exactly the `?fields=`
/// lists a client may send, but for their length: what the API document says of them.
/// A path is names joined by dots, none empty, and no more than [`MAX_SEGMENTS`] of
/// them; spaces around a path are trimmed, so its first and last names need more than
/// spaces.
pub fn fields_pattern() -> String {
    list_pattern("")
}

/// [`fields_pattern`] for `?exclude=`, whose paths may not be `re:` patterns.
pub fn exclude_pattern() -> String {
    list_pattern(&format!("(?![{}]*re:)", escaped(&LIST_SPACES)))
}

/// A list of paths, each after `guard` (a lookahead, or nothing).
fn list_pattern(guard: &str) -> String {
    let spaces = escaped(&LIST_SPACES);
    let name = "[^,.]";
    let solid = format!("[^,.{spaces}]");
    let middle = MAX_SEGMENTS - 2;
    let path = format!(
        "{guard}[{spaces}]*{solid}{name}*(?:(?:\\.{name}+){{0,{middle}}}\\.{name}*{solid}{name}*)?"
    );
    let more = MAX_PATHS - 1;
    format!("^{path}(?:,{path}){{0,{more}}}$")
}

fn escaped(chars: &[char]) -> String {
    chars.iter().flat_map(|c| c.escape_default()).collect()
}

/// Client text quoted in an error, cut to a readable length.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 64;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// An item URI template such as `/posts/{slug}`, filled from an object's own fields.
#[derive(Debug, Clone)]
pub struct UriTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    /// A dotted path to the field whose value goes here.
    Field(Vec<String>),
}

impl UriTemplate {
    /// Parses a template: a path with `{field}` placeholders.
    pub fn parse(template: &str) -> Result<UriTemplate, &'static str> {
        if !template.starts_with('/') {
            return Err("must start with `/`");
        }
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return Err("has an unclosed `{`");
            };
            let field = &rest[open + 1..open + close];
            if field.is_empty() || field.contains('{') || field.split('.').any(str::is_empty) {
                return Err("has an empty or malformed `{field}`");
            }
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            parts.push(Part::Field(field.split('.').map(str::to_owned).collect()));
            rest = &rest[open + close + 1..];
        }
        if rest.contains('}') {
            return Err("has an unopened `}`");
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(UriTemplate { parts })
    }

    /// Whether a placeholder starts with the field `key`.
    pub fn names(&self, key: &str) -> bool {
        self.parts
            .iter()
            .any(|part| matches!(part, Part::Field(path) if path[0] == key))
    }

    /// The URI for an object after `base` (the public URL, or nothing), looking field
    /// paths up with `lookup` (which returns a field's value as text: a string's
    /// contents, or a number's digits). `None` when a field is missing. Values are
    /// percent-encoded as path segments.
    pub fn fill<'v>(
        &self,
        base: &str,
        mut lookup: impl FnMut(&[String]) -> Option<std::borrow::Cow<'v, str>>,
    ) -> Option<String> {
        let mut uri = String::with_capacity(base.len() + 64);
        uri.push_str(base);
        for part in &self.parts {
            match part {
                Part::Literal(text) => uri.push_str(text),
                Part::Field(path) => {
                    let value = lookup(path)?;
                    uri.extend(percent_encoding::utf8_percent_encode(&value, SEGMENT));
                }
            }
        }
        Some(uri)
    }
}

/// What must be escaped in a path segment: everything but unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    fn blog() -> FieldFilter {
        FieldFilter::compile(
            &strings(&[
                "slug",
                "title",
                "author.username",
                "author.first_name",
                "content_size",
            ]),
            &strings(&["id", "re:private_"]),
        )
        .unwrap()
    }

    fn shown<'a>(shape: Shape<'_>, keys: &[&'a str]) -> Vec<&'a str> {
        keys.iter()
            .copied()
            .filter(|key| shape.child(key).is_some())
            .collect()
    }

    #[test]
    fn spec_fields_and_excludes() {
        let filter = blog();
        let top = filter.shape();
        assert_eq!(
            shown(
                top,
                &[
                    "slug",
                    "title",
                    "id",
                    "private_notes",
                    "author",
                    "content",
                    "content_size"
                ]
            ),
            ["slug", "title", "author", "content_size"]
        );
        let author = top.child("author").unwrap();
        assert_eq!(
            shown(author, &["username", "first_name", "email", "id"]),
            ["username", "first_name"]
        );
        assert!(!filter.is_identity());
        assert!(FieldFilter::compile(&[], &[]).unwrap().is_identity());
    }

    #[test]
    fn patterns_match_from_the_start_only() {
        let filter = FieldFilter::compile(&[], &strings(&["re:private_", "re:x$"])).unwrap();
        let top = filter.shape();
        assert_eq!(
            shown(top, &["private_a", "not_private_a", "x", "ax", "xa"]),
            ["not_private_a", "ax", "xa"]
        );
        assert!(matches!(
            FieldFilter::compile(&[], &strings(&["re:(unclosed"])),
            Err(FieldError::Pattern { .. })
        ));
    }

    #[test]
    fn plain_excludes_apply_everywhere_and_dotted_ones_at_their_path() {
        let filter = FieldFilter::compile(&[], &strings(&["id", "author.email"])).unwrap();
        let top = filter.shape();
        assert_eq!(shown(top, &["id", "email", "author"]), ["email", "author"]);
        let author = top.child("author").unwrap();
        assert_eq!(shown(author, &["id", "email", "name"]), ["name"]);
        let deeper = top.child("comments").unwrap().child("author").unwrap();
        assert_eq!(shown(deeper, &["id", "email"]), ["email"]);
    }

    #[test]
    fn clients_narrow_but_never_widen() {
        let filter = blog()
            .narrow(Some("title, author.username, id, content, nonsense"), None)
            .unwrap();
        let top = filter.shape();
        assert_eq!(
            shown(
                top,
                &["slug", "title", "id", "content", "author", "nonsense"]
            ),
            ["title", "author"]
        );
        assert_eq!(
            shown(top.child("author").unwrap(), &["username", "first_name"]),
            ["username"]
        );
        assert!(!filter.shows_resource_uri());

        let filter = blog().narrow(Some("author,resource_uri"), None).unwrap();
        let top = filter.shape();
        assert_eq!(
            shown(
                top.child("author").unwrap(),
                &["username", "first_name", "email"]
            ),
            ["username", "first_name"]
        );
        assert!(filter.shows_resource_uri());

        let filter = blog()
            .narrow(None, Some("title,author.first_name,resource_uri"))
            .unwrap();
        let top = filter.shape();
        assert_eq!(shown(top, &["slug", "title"]), ["slug"]);
        assert_eq!(
            shown(top.child("author").unwrap(), &["username", "first_name"]),
            ["username"]
        );
        assert!(!filter.shows_resource_uri());
    }

    #[test]
    fn client_mistakes() {
        assert_eq!(
            blog().narrow(Some("title,,slug"), None).unwrap_err(),
            FieldError::Malformed("title,,slug".into())
        );
        assert_eq!(
            blog().narrow(Some("a..b"), None).unwrap_err(),
            FieldError::Malformed("a..b".into())
        );
        assert_eq!(
            blog().narrow(Some(""), None).unwrap_err(),
            FieldError::Malformed("".into())
        );
        assert_eq!(
            blog().narrow(None, Some("re:.*")).unwrap_err(),
            FieldError::ClientPattern("re:.*".into())
        );
    }

    #[test]
    fn hostile_lists_are_refused_before_anything_is_built() {
        let deep = vec!["a"; 30_000].join(".");
        assert!(matches!(
            blog().narrow(Some(&deep), None),
            Err(FieldError::TooLarge(_))
        ));
        assert!(matches!(
            blog().narrow(None, Some(&deep)),
            Err(FieldError::TooLarge(_))
        ));
        let wide = vec!["a"; 1000].join(",");
        assert!(matches!(
            blog().narrow(Some(&wide), None),
            Err(FieldError::TooLarge(_))
        ));
        // At the limits, it works.
        let deepest = vec!["a"; MAX_SEGMENTS].join(".");
        let widest = vec![deepest.as_str(); MAX_PATHS].join(",");
        assert!(
            widest.chars().count() > MAX_LIST_CHARS || blog().narrow(Some(&widest), None).is_ok()
        );
        assert!(blog().narrow(Some(&deepest), Some(&deepest)).is_ok());
        // Specs are held to the same limits.
        assert!(matches!(
            FieldFilter::compile(&[deep], &[]),
            Err(FieldError::TooLarge(_))
        ));
    }

    #[test]
    fn whole_fields_win_over_their_parts() {
        let filter = FieldFilter::compile(&strings(&["author.username", "author"]), &[]).unwrap();
        let author = filter.shape().child("author").unwrap();
        assert_eq!(shown(author, &["username", "email"]), ["username", "email"]);
    }

    proptest::proptest! {
        /// The API document's pattern for `?fields=` admits exactly the lists the
        /// host accepts (short of the length limit, which the document states apart).
        #[test]
        fn the_documented_pattern_admits_exactly_the_lists_accepted(
            list in proptest::prop_oneof![
                "[a. ,\t\n\u{a0}\u{1e}é]{0,40}",
                "(a ?\\.){30,33} ?a",
                "(a,){254,257}a",
            ]
        ) {
            static PATTERN: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
                regex::RegexBuilder::new(&fields_pattern())
                    .size_limit(1 << 28)
                    .build()
                    .unwrap()
            });
            let pattern = &*PATTERN;
            let accepted = blog().narrow(Some(&list), None).is_ok();
            proptest::prop_assert_eq!(pattern.is_match(&list), accepted, "{:?}", list);
        }
    }

    #[test]
    fn uri_templates() {
        let template = UriTemplate::parse("/posts/{slug}/by/{author.username}").unwrap();
        let uri = template.fill("", |path| match path.join(".").as_str() {
            "slug" => Some("a b/c".into()),
            "author.username" => Some("jane".into()),
            _ => None,
        });
        assert_eq!(uri.as_deref(), Some("/posts/a%20b%2Fc/by/jane"));
        assert_eq!(template.fill("", |_| None), None);
        for bad in [
            "posts/{slug}",
            "/posts/{slug",
            "/posts/{}",
            "/posts/slug}",
            "/p/{a..b}",
        ] {
            assert!(UriTemplate::parse(bad).is_err(), "{bad}");
        }
    }
}
