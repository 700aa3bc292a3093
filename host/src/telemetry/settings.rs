//! The `[telemetry]` section: where request spans are exported.
//!
//! ```toml
//! [telemetry]
//! otlp_endpoint = "http://127.0.0.1:4318" # an OTLP/HTTP collector (default: no export)
//! service_name = "piston"                # the `service.name` spans carry
//! ```

use crate::vocab::ConfigError;
use serde::Deserialize;

/// The `[telemetry]` section, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TelemetrySection {
    otlp_endpoint: Option<String>,
    service_name: Option<String>,
}

/// The `[telemetry]` section, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelemetrySettings {
    /// Where spans go; `None`: they are not collected at all.
    pub otlp: Option<OtlpSettings>,
}

/// An OTLP/HTTP collector to export spans to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpSettings {
    /// The collector's traces endpoint: the configured base URL's `/v1/traces`.
    pub traces_url: String,
    /// The `service.name` of the spans.
    pub service_name: String,
}

impl TelemetrySection {
    /// Checks the section; `key` names a key of the file as the error shows it.
    pub(crate) fn resolve(
        self,
        key: impl Fn(&str) -> String,
    ) -> Result<TelemetrySettings, ConfigError> {
        let service_name = self.service_name.unwrap_or_else(|| "piston".to_owned());
        if service_name.is_empty() || service_name.len() > 256 {
            return Err(ConfigError::new(
                key("telemetry.service_name"),
                "must be 1 to 256 characters",
            ));
        }
        let Some(endpoint) = self.otlp_endpoint else {
            return Ok(TelemetrySettings::default());
        };
        let parsed: Option<http::Uri> = endpoint.parse().ok();
        let usable = parsed.as_ref().is_some_and(|uri| {
            uri.scheme_str() == Some("http")
                && uri.authority().is_some()
                && uri.query().is_none()
                && !endpoint.contains('#')
        });
        if !usable {
            return Err(ConfigError::new(
                key("telemetry.otlp_endpoint"),
                format!(
                    "`{endpoint}` is not an http:// URL of an OTLP/HTTP collector, like \
                     http://127.0.0.1:4318 (spans are sent to its /v1/traces; for a \
                     collector elsewhere over TLS, run a local collector that forwards)"
                ),
            ));
        }
        Ok(TelemetrySettings {
            otlp: Some(OtlpSettings {
                traces_url: format!("{}/v1/traces", endpoint.trim_end_matches('/')),
                service_name,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(endpoint: &str) -> Result<TelemetrySettings, ConfigError> {
        TelemetrySection {
            otlp_endpoint: Some(endpoint.to_owned()),
            service_name: None,
        }
        .resolve(str::to_owned)
    }

    #[test]
    fn the_traces_endpoint_is_under_the_collectors_base_url() {
        let settings = resolve("http://127.0.0.1:4318/").unwrap();
        let otlp = settings.otlp.unwrap();
        assert_eq!(otlp.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(otlp.service_name, "piston");
    }

    #[test]
    fn anything_but_a_plain_http_url_is_refused_naming_the_key() {
        for bad in [
            "",
            "127.0.0.1:4318",
            "https://collector:4318",
            "http://x/?a=b",
            "ftp://x",
        ] {
            let error = resolve(bad).unwrap_err().to_string();
            assert!(error.contains("telemetry.otlp_endpoint"), "{bad}: {error}");
        }
    }

    #[test]
    fn without_an_endpoint_nothing_is_exported() {
        let settings = TelemetrySection::default().resolve(str::to_owned).unwrap();
        assert_eq!(settings.otlp, None);
    }
}
