//! What `piston list --url` shows of a running server's traffic: per plugin, the
//! request rate, the share of 5xx answers and the 99th percentile latency over a short
//! window, from two scrapes of its metrics.

use std::collections::BTreeMap;
use std::time::Duration;

/// One plugin's counts at one scrape: requests, 5xx answers, and the cumulative
/// request duration buckets (upper bound in seconds, count).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counts {
    requests: f64,
    errors: f64,
    buckets: BTreeMap<Bound, f64>,
}

/// A bucket's upper bound, ordered (`+Inf` last).
#[derive(Debug, Clone, Copy)]
struct Bound(f64);

impl PartialEq for Bound {
    fn eq(&self, other: &Bound) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Bound) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Bound) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sample's labels, in the order written.
type Labels = Vec<(String, String)>;

/// One plugin's traffic over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic {
    /// Requests a second.
    pub rate: f64,
    /// The share of requests answered 5xx, 0 to 1; `None` without requests.
    pub errors: Option<f64>,
    /// The 99th percentile request duration in seconds; `None` without requests.
    pub p99: Option<f64>,
}

/// Every plugin's counts in an OpenMetrics exposition (requests no resource answered
/// are left out: they belong to no plugin).
pub fn counts(exposition: &str) -> BTreeMap<String, Counts> {
    let mut plugins: BTreeMap<String, Counts> = BTreeMap::new();
    for line in exposition.lines().filter(|line| !line.starts_with('#')) {
        let Some((name, labels, value)) = sample(line) else {
            continue;
        };
        let label = |wanted: &str| {
            labels
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.as_str())
        };
        let Some(plugin) = label("plugin").filter(|plugin| !plugin.is_empty()) else {
            continue;
        };
        match name {
            "piston_requests_total" => {
                let counts = plugins.entry(plugin.to_owned()).or_default();
                counts.requests += value;
                if label("status") == Some("5xx") {
                    counts.errors += value;
                }
            }
            "piston_request_duration_seconds_bucket" => {
                let bound = match label("le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(bound) => match bound.parse() {
                        Ok(bound) => bound,
                        Err(_) => continue,
                    },
                    None => continue,
                };
                *plugins
                    .entry(plugin.to_owned())
                    .or_default()
                    .buckets
                    .entry(Bound(bound))
                    .or_default() += value;
            }
            _ => {}
        }
    }
    plugins
}

/// Each plugin's traffic between two scrapes `window` apart.
pub fn between(
    before: &BTreeMap<String, Counts>,
    after: &BTreeMap<String, Counts>,
    window: Duration,
) -> BTreeMap<String, Traffic> {
    let empty = Counts::default();
    after
        .iter()
        .map(|(plugin, after)| {
            let before = before.get(plugin).unwrap_or(&empty);
            let requests = (after.requests - before.requests).max(0.0);
            let errors = (after.errors - before.errors).max(0.0);
            let buckets: Vec<(f64, f64)> = after
                .buckets
                .iter()
                .map(|(bound, count)| {
                    let earlier = before.buckets.get(bound).copied().unwrap_or(0.0);
                    (bound.0, (count - earlier).max(0.0))
                })
                .collect();
            let traffic = Traffic {
                rate: requests / window.as_secs_f64().max(f64::EPSILON),
                errors: (requests > 0.0).then(|| errors / requests),
                p99: quantile(0.99, &buckets),
            };
            (plugin.clone(), traffic)
        })
        .collect()
}

/// The `q` quantile of cumulative buckets, interpolated linearly within its bucket as
/// Prometheus's `histogram_quantile` does; the largest finite bound when it falls in
/// the `+Inf` bucket.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last()?.1;
    if total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let mut lower = (0.0, 0.0);
    for &(bound, count) in buckets {
        if count >= rank {
            if bound.is_infinite() {
                return Some(lower.0);
            }
            let within = count - lower.1;
            let share = if within > 0.0 {
                (rank - lower.1) / within
            } else {
                1.0
            };
            return Some(lower.0 + (bound - lower.0) * share);
        }
        lower = (bound, count);
    }
    Some(lower.0)
}

/// A sample line's metric name, labels and value.
fn sample(line: &str) -> Option<(&str, Labels, f64)> {
    let (name, rest) = match line.find('{') {
        Some(open) => (&line[..open], &line[open + 1..]),
        None => {
            let (name, value) = line.split_once(' ')?;
            return Some((name, Vec::new(), value.trim().parse().ok()?));
        }
    };
    let mut labels = Vec::new();
    let mut chars = rest.char_indices();
    loop {
        let start = chars.next()?;
        if start.1 == '}' {
            break;
        }
        let mut key = String::from(start.1);
        for (_, char) in chars.by_ref() {
            if char == '=' {
                break;
            }
            key.push(char);
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()?.1 {
                '"' => break,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                other => value.push(other),
            }
        }
        labels.push((key.trim_start_matches(',').to_owned(), value));
        if let Some(next) = chars.clone().next()
            && next.1 == ','
        {
            chars.next();
        }
    }
    let after = chars.next().map_or("", |(index, _)| &rest[index..]);
    let value = after.split_whitespace().next()?.parse().ok()?;
    Some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = r#"# TYPE piston_requests counter
piston_requests_total{plugin="blog",resource="post",method="GET",status="2xx"} 10
piston_requests_total{plugin="",resource="",method="GET",status="4xx"} 3
piston_request_duration_seconds_bucket{plugin="blog",resource="post",le="0.001"} 10
piston_request_duration_seconds_bucket{plugin="blog",resource="post",le="0.002"} 10
piston_request_duration_seconds_bucket{plugin="blog",resource="post",le="+Inf"} 10
# EOF
"#;

    const AFTER: &str = r#"piston_requests_total{plugin="blog",resource="post",method="GET",status="2xx"} 108
piston_requests_total{plugin="blog",resource="post",method="GET",status="5xx"} 2
piston_requests_total{plugin="a \"quoted\", odd",resource="x",method="GET",status="2xx"} 1
piston_request_duration_seconds_bucket{plugin="blog",resource="post",le="0.001"} 60
piston_request_duration_seconds_bucket{plugin="blog",resource="post",le="0.002"} 110
piston_request_duration_seconds_bucket{plugin="blog",resource="post",le="+Inf"} 110
piston_build_info{version="0.1.0",wasmtime="48.0.8"} 1
"#;

    #[test]
    fn rates_shares_and_the_p99_come_from_the_difference_of_two_scrapes() {
        let traffic = between(&counts(BEFORE), &counts(AFTER), Duration::from_secs(2));
        let blog = &traffic["blog"];
        assert_eq!(blog.rate, 50.0);
        assert_eq!(blog.errors, Some(0.02));
        // 100 new requests: 50 under 1 ms, 50 between 1 and 2 ms; the 99th is at
        // 49/50 of the second bucket.
        let p99 = blog.p99.unwrap();
        assert!((p99 - 0.00198).abs() < 1e-9, "{p99}");
        assert_eq!(traffic["a \"quoted\", odd"].rate, 0.5);
        assert!(!traffic.contains_key(""), "no plugin, no row");
    }

    #[test]
    fn a_quiet_window_has_no_shares_and_no_percentile() {
        let traffic = between(&counts(AFTER), &counts(AFTER), Duration::from_secs(1));
        assert_eq!(
            traffic["blog"],
            Traffic {
                rate: 0.0,
                errors: None,
                p99: None
            }
        );
    }

    #[test]
    fn a_percentile_past_every_finite_bound_is_the_largest_one() {
        let buckets = [(0.1, 1.0), (0.2, 1.0), (f64::INFINITY, 100.0)];
        assert_eq!(quantile(0.99, &buckets), Some(0.2));
    }

    #[test]
    fn malformed_lines_are_skipped() {
        for line in [
            "piston_requests_total{plugin=\"blog\" 3",
            "piston_requests_total{plugin=blog} 3",
            "piston_requests_total{plugin=\"blog\"} many",
            "piston_requests_total{plugin=\"unterminated",
        ] {
            assert_eq!(sample(line), None, "{line}");
        }
    }
}
