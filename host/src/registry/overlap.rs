//! Whether two route patterns can match the same path.
//!
//! The routing table gives a static segment priority over a parameter (`/users/admin`
//! wins over `/users/{id}`), which within one plugin is a feature. Between two plugins
//! it would let one take over part of another's resource, under its own
//! authentication chain, so a route that overlaps another plugin's is refused like a
//! collision. The check is conservative: patterns are compared segment by segment,
//! and when a parameter could match a static segment (or another parameter), they
//! overlap.

/// One segment of a route pattern.
#[derive(Debug, PartialEq, Eq)]
enum Segment<'a> {
    /// Literal text (escaped braces `{{`, `}}` left as they are: equal texts compare
    /// equal either way).
    Static(&'a str),
    /// `prefix{name}`: any non-empty text after `prefix`, up to the next `/`.
    Param { prefix: &'a str },
    /// `{*name}`: the rest of the path, slashes included (at least one character).
    CatchAll,
}

fn segments(pattern: &str) -> Vec<Segment<'_>> {
    pattern
        .trim_start_matches('/')
        .split('/')
        .map(|segment| {
            let unescaped_open = segment
                .char_indices()
                .find(|&(index, c)| c == '{' && !segment[index + 1..].starts_with('{'));
            match unescaped_open {
                Some((index, _)) if segment[index + 1..].starts_with('*') => Segment::CatchAll,
                Some((index, _)) if !segment[..index].ends_with('{') => Segment::Param {
                    prefix: &segment[..index],
                },
                _ => Segment::Static(segment),
            }
        })
        .collect()
}

/// Whether one path could match both segments (neither is a catch-all).
fn compatible(a: &Segment<'_>, b: &Segment<'_>) -> bool {
    match (a, b) {
        (Segment::Static(a), Segment::Static(b)) => a == b,
        (Segment::Static(text), Segment::Param { prefix })
        | (Segment::Param { prefix }, Segment::Static(text)) => {
            text.len() > prefix.len() && text.starts_with(prefix)
        }
        (Segment::Param { prefix: a }, Segment::Param { prefix: b }) => {
            a.starts_with(b) || b.starts_with(a)
        }
        (Segment::CatchAll, _) | (_, Segment::CatchAll) => true,
    }
}

/// Whether some path is matched by both `a` and `b`.
pub fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (segments(a), segments(b));
    let mut index = 0;
    loop {
        match (a.get(index), b.get(index)) {
            (None, None) => return true,
            (Some(Segment::CatchAll), Some(_)) | (Some(_), Some(Segment::CatchAll)) => {
                return true;
            }
            (Some(a), Some(b)) if compatible(a, b) => index += 1,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::overlaps;

    #[test]
    fn static_segments_over_parameters_overlap() {
        assert!(overlaps("/users/admin", "/users/{id}"));
        assert!(overlaps("/users/{id}", "/users/{name}"));
        assert!(overlaps("/users/{id}/posts", "/users/ann/{what}"));
        assert!(overlaps("/files/{*path}", "/files/a/b/c"));
        assert!(overlaps("/{*everything}", "/posts"));
        assert!(overlaps("/posts", "/posts"));
        assert!(overlaps("/img/logo-{id}", "/img/logo-big"));
    }

    #[test]
    fn distinct_routes_do_not() {
        assert!(!overlaps("/users/admin", "/users/{id}/posts"));
        assert!(!overlaps("/posts", "/posts/{slug}"));
        assert!(!overlaps("/files/{*path}", "/files"));
        assert!(!overlaps("/users", "/posts"));
        assert!(!overlaps("/img/logo-{id}", "/img/icon-big"));
        assert!(!overlaps("/img/logo-{id}", "/img/logo-"));
        assert!(!overlaps("/{{literal}}", "/other"));
        assert!(overlaps("/{{literal}}", "/{{literal}}"));
    }
}
