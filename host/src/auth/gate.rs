//! The authentication step of the request flow: a resource's chain of authenticators,
//! its anonymous methods, its required scopes and the failed-login limit, turned into a
//! principal (or none) or the answer that refuses the request.
//!
//! - credentials an authenticator refuses: 401 with every challenge of the chain (even
//!   on an anonymous method: wrong credentials are never silently ignored);
//! - no credentials (or none the chain knows) on a method that is not anonymous: 401;
//! - a principal whose credential lacks a required scope, or that a custom
//!   authenticator forbids: 403;
//! - credentials over their failed-login limit (this account from this address, this
//!   account, or this address: see `lockout`): 429, checked before the credentials are;
//! - a check the coordination backend cannot answer (failed logins, nonces): 503 with
//!   `Retry-After`.
//!
//! Failed logins and nonces live in the [`Coordination`] backend, which outlives the
//! gate; a gate made on a configuration reload takes over the rest of the state of the
//! one it replaces (the Digest nonce key, the OAuth endpoints' throttle, the slots for
//! password hashing), so a reload neither forgives failures, nor lets a captured
//! request be replayed, nor lets more passwords be hashed at once.

use super::basic::Basic;
use super::bearer::ApiTokens;
use super::digest::{Digest, NonceKey};
use super::jwt::Jwt;
use super::lockout::{Lock, Lockout};
use super::oauth::{EndpointThrottle, OAuth1, Provider, Verifier};
use super::password::Checker;
use super::settings::AuthSettings;
use super::store::AuthStore;
use super::{Authenticator, Principal, Refusal, RequestHead, header_value, quoted};
use crate::coordination::{Coordination, Unavailable};
use crate::problem::Problem;
use crate::reachability;
use crate::registry::ResourceSpec;
use crate::telemetry::AuthOutcome;
use crate::vocab::{BUILT_IN, Method};
use http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Decides who is calling, for every resource.
pub struct Gate {
    default_chain: Chain,
    plugins: HashMap<String, PluginPolicy>,
    lockout: Arc<Lockout>,
    digest_key: Arc<NonceKey>,
    oauth_throttle: Arc<EndpointThrottle>,
    passwords: Arc<Checker>,
    quoted_realm: String,
    oauth: Option<Arc<Provider>>,
}

/// Why a request was not let in.
#[derive(Debug)]
pub enum Denied {
    /// No credentials the chain accepts, or credentials one of its authenticators
    /// refused (401), with every challenge of the chain.
    Unauthenticated {
        detail: String,
        challenges: Vec<HeaderValue>,
        cause: Option<String>,
    },
    /// An authenticator refused the credentials with a status of its own (400 for
    /// malformed ones, 403 from a custom authenticator).
    Refused {
        status: StatusCode,
        detail: String,
        cause: String,
    },
    /// The credential lacks a scope the method requires (403).
    InsufficientScope {
        scope: String,
        challenge: HeaderValue,
        cause: String,
    },
    /// The credentials are over a failed-login limit (429).
    LockedOut { lock: Lock, cause: String },
    /// An authenticator plugin of the chain is not loaded (503).
    AuthenticatorMissing { name: String },
    /// The credentials cannot be checked now: a backend they need does not answer
    /// (503, `Retry-After`). Nothing is logged per request: the outage is logged once,
    /// when it begins.
    Unavailable,
}

impl From<Denied> for Problem {
    fn from(denied: Denied) -> Problem {
        match denied {
            Denied::Unauthenticated {
                detail,
                challenges,
                cause,
            } => {
                let problem = challenges.into_iter().fold(
                    Problem::new(StatusCode::UNAUTHORIZED).detail(detail),
                    |problem, challenge| problem.header(WWW_AUTHENTICATE, challenge),
                );
                match cause {
                    Some(cause) => problem.cause(cause),
                    None => problem,
                }
            }
            Denied::Refused {
                status,
                detail,
                cause,
            } => Problem::new(status).detail(detail).cause(cause),
            Denied::InsufficientScope {
                scope,
                challenge,
                cause,
            } => Problem::new(StatusCode::FORBIDDEN)
                .detail(format!(
                    "this credential lacks the scopes this needs: {scope}"
                ))
                .header(WWW_AUTHENTICATE, challenge)
                .cause(cause),
            Denied::LockedOut { lock, cause } => {
                let seconds = lock.seconds();
                Problem::new(StatusCode::TOO_MANY_REQUESTS)
                    .detail(format!("{}; try again in {seconds} s", lock.reason()))
                    .header(RETRY_AFTER, HeaderValue::from(seconds))
                    .cause(cause)
            }
            Denied::AuthenticatorMissing { name } => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .detail("the request cannot be authenticated right now")
                .cause(format!(
                    "authenticator plugin `{name}` is not loaded: requests that need it are refused"
                )),
            Denied::Unavailable => Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .detail(super::CANNOT_CHECK)
                .header(RETRY_AFTER, reachability::retry_after()),
        }
    }
}

/// Finds a loaded authenticator plugin by name. Plugins come and go while the host
/// serves, so chains hold plugin names and look them up for each request.
pub trait AuthenticatorPlugins: Sync {
    /// The authenticator plugin called `name`, if one is loaded.
    fn find(&self, name: &str) -> Option<Arc<dyn Authenticator>>;
}

/// Authenticators in the order they are tried.
type Chain = Arc<[Link]>;

/// One authenticator of a chain.
enum Link {
    /// Built into the host.
    Host(Arc<dyn Authenticator>),
    /// An authenticator plugin, by name.
    Plugin(String),
}

struct PluginPolicy {
    chain: Option<Chain>,
    resources: HashMap<String, ResourcePolicy>,
}

struct ResourcePolicy {
    chain: Option<Chain>,
    scopes: BTreeMap<Method, Vec<String>>,
}

impl Gate {
    /// The chains `settings` describe, with the built-in authenticators checking
    /// credentials in `store`, and failed logins and nonces in `coordination`.
    /// `public_url` is where clients reach the server (OAuth signatures cover it).
    /// `previous`, on a configuration reload, is the gate this one replaces: its Digest
    /// nonce key, OAuth throttle and password hashing slots carry on here.
    pub fn new(
        settings: &AuthSettings,
        store: Arc<AuthStore>,
        public_url: &str,
        coordination: &Arc<Coordination>,
        previous: Option<&Gate>,
    ) -> Result<Gate, String> {
        let passwords =
            previous.map_or_else(|| Arc::new(Checker::new()), |gate| gate.passwords.clone());
        let lockout = Arc::new(Lockout::new(settings.failures, coordination.clone()));
        let digest_key = previous.map_or_else(Arc::default, |gate| gate.digest_key.clone());
        let oauth_throttle = previous.map_or_else(
            || Arc::new(EndpointThrottle::new()),
            |gate| gate.oauth_throttle.clone(),
        );
        let mut oauth = None;
        let mut built_in: HashMap<&str, Arc<dyn Authenticator>> = HashMap::new();
        for name in settings.named() {
            let realm = &settings.realm;
            let authenticator: Arc<dyn Authenticator> = match name {
                "basic" => Arc::new(Basic::new(store.clone(), realm, passwords.clone())),
                "digest" => Arc::new(Digest::new(
                    store.clone(),
                    realm,
                    settings.digest.algorithms.clone(),
                    settings.digest.nonce_lifetime,
                    digest_key.clone(),
                    coordination.clone(),
                )),
                "bearer" => Arc::new(ApiTokens::new(store.clone(), realm)),
                "jwt" => match &settings.jwt {
                    Some(jwt) => Arc::new(Jwt::new(jwt.clone(), realm)),
                    None => return Err("`jwt` is named but not configured".to_owned()),
                },
                "oauth1" => {
                    let verifier = Arc::new(Verifier::new(
                        store.clone(),
                        coordination.clone(),
                        settings.oauth1.timestamp_window,
                        public_url,
                    ));
                    oauth = Some(Arc::new(Provider::new(
                        verifier.clone(),
                        store.clone(),
                        passwords.clone(),
                        lockout.clone(),
                        (oauth_throttle.clone(), settings.oauth1.throttle),
                        settings.oauth1.request_token_lifetime,
                        realm,
                    )));
                    Arc::new(OAuth1::new(verifier, realm))
                }
                _ => continue,
            };
            built_in.insert(name, authenticator);
        }
        debug_assert!(built_in.keys().all(|name| BUILT_IN.contains(name)));
        let chain = |names: &[String]| -> Chain {
            names
                .iter()
                .map(|name| match built_in.get(name.as_str()) {
                    Some(authenticator) => Link::Host(authenticator.clone()),
                    None => Link::Plugin(name.clone()),
                })
                .collect()
        };
        let plugins = settings
            .plugins
            .iter()
            .map(|(name, plugin)| {
                let resources = plugin
                    .resources
                    .iter()
                    .map(|(name, resource)| {
                        let policy = ResourcePolicy {
                            chain: resource.chain.as_deref().map(chain),
                            scopes: resource.scopes.clone(),
                        };
                        (name.clone(), policy)
                    })
                    .collect();
                let policy = PluginPolicy {
                    chain: plugin.chain.as_deref().map(chain),
                    resources,
                };
                (name.clone(), policy)
            })
            .collect();
        Ok(Gate {
            default_chain: chain(&settings.default_chain),
            plugins,
            lockout,
            digest_key,
            oauth_throttle,
            passwords,
            quoted_realm: quoted(&settings.realm),
            oauth,
        })
    }

    /// The OAuth 1.0a provider's endpoints, when `oauth1` is configured.
    pub fn oauth_provider(&self) -> Option<&Arc<Provider>> {
        self.oauth.as_ref()
    }

    /// Whether a resource's chain needs a form body before it can authenticate (an
    /// OAuth signature covers the form's fields).
    pub fn reads_forms(&self, plugin: &str, resource: &str) -> bool {
        let (chain, _) = self.policy(plugin, resource, Method::Get);
        chain.iter().any(
            |link| matches!(link, Link::Host(authenticator) if authenticator.name() == "oauth1"),
        )
    }

    /// Who is calling `method` on `resource` of `plugin`: a principal, or none for an
    /// anonymous call. Chains that name authenticator plugins find them in `plugins`.
    pub async fn check(
        &self,
        plugin: &str,
        resource: &ResourceSpec,
        method: Method,
        head: &RequestHead<'_>,
        plugins: &dyn AuthenticatorPlugins,
    ) -> Result<Option<Principal>, Denied> {
        let (chain, scopes) = self.policy(plugin, &resource.name, method);
        if chain.is_empty() {
            return Ok(None);
        }
        let anonymous = resource.anonymous_methods.contains(method);
        let offered = head.headers.contains_key(AUTHORIZATION);
        if (offered || !anonymous)
            && let Some(lock) = self
                .lockout
                .address_lock(head.client)
                .await
                .map_err(unavailable)?
        {
            count("address", AuthOutcome::locked_out);
            return Err(locked_out(lock, head));
        }
        let mut missing = None;
        for (index, link) in chain.iter().enumerate() {
            let Some(authenticator) = link.resolve(plugins) else {
                missing.get_or_insert(link.name());
                continue;
            };
            // The account the credentials claim is refused while it is locked, before
            // its credentials are checked (a guess is not even tried).
            let claimed = authenticator.account(head);
            if let Some(account) = &claimed
                && let Some(lock) = self
                    .lockout
                    .lock(head.client, Some(account))
                    .await
                    .map_err(unavailable)?
            {
                count(authenticator.name(), AuthOutcome::locked_out);
                return Err(locked_out(lock, head));
            }
            let answer = authenticator.authenticate(head).await;
            let account = match &answer {
                Err(refusal) => refusal.account.or(claimed),
                Ok(_) => claimed,
            };
            // Credentials that name no account (malformed ones, a custom plugin's
            // header) meet the failed-login limit here, once they have been found.
            if !matches!(answer, Ok(None))
                && let Some(lock) = self
                    .lockout
                    .lock(head.client, account.as_ref())
                    .await
                    .map_err(unavailable)?
            {
                count(authenticator.name(), AuthOutcome::locked_out);
                return Err(locked_out(lock, head));
            }
            match answer {
                Ok(None) => {}
                Ok(Some(principal)) => {
                    let authorized = self.authorize(principal, scopes);
                    count(
                        authenticator.name(),
                        match authorized {
                            Ok(_) => AuthOutcome::admitted,
                            Err(_) => AuthOutcome::refused,
                        },
                    );
                    return authorized;
                }
                Err(refusal) => {
                    if !refusal.unavailable {
                        count(authenticator.name(), AuthOutcome::refused);
                    }
                    // A failure that cannot be counted is not answered as one.
                    if refusal.is_failed_login() {
                        self.lockout
                            .fail(head.client, account.as_ref())
                            .await
                            .map_err(unavailable)?;
                    }
                    let cause = format!(
                        "`{}` refused the credentials from {}: {}",
                        authenticator.name(),
                        head.client,
                        refusal.detail
                    );
                    return Err(if refusal.unavailable {
                        Denied::Unavailable
                    } else if refusal.status == StatusCode::UNAUTHORIZED {
                        Denied::Unauthenticated {
                            detail: refusal.detail.to_string(),
                            challenges: challenges(chain, plugins, Some((index, &refusal))),
                            cause: Some(cause),
                        }
                    } else {
                        Denied::Refused {
                            status: refusal.status,
                            detail: refusal.detail.into_owned(),
                            cause,
                        }
                    });
                }
            }
        }
        if anonymous {
            return Ok(None);
        }
        if let Some(name) = missing {
            return Err(Denied::AuthenticatorMissing {
                name: name.to_owned(),
            });
        }
        count("none", AuthOutcome::refused);
        let accepted = accepted_schemes(chain);
        let detail = match head.scheme() {
            Some(scheme) => {
                format!("`{scheme}` credentials are not accepted here; use {accepted}")
            }
            None if offered => format!("these credentials are not accepted here; use {accepted}"),
            None => format!("this request needs credentials: {accepted}"),
        };
        Err(Denied::Unauthenticated {
            detail,
            challenges: challenges(chain, plugins, None),
            cause: None,
        })
    }

    /// The chain and the scopes required for `method` on a resource.
    fn policy(&self, plugin: &str, resource: &str, method: Method) -> (&[Link], &[String]) {
        let plugin = self.plugins.get(plugin);
        let resource = plugin.and_then(|plugin| plugin.resources.get(resource));
        let chain = resource
            .and_then(|resource| resource.chain.as_deref())
            .or_else(|| plugin.and_then(|plugin| plugin.chain.as_deref()))
            .unwrap_or(&self.default_chain);
        let scopes = resource
            .and_then(|resource| resource.scopes.get(&method))
            .map_or(&[][..], Vec::as_slice);
        (chain, scopes)
    }

    /// A principal may go on if its credential has every required scope.
    fn authorize(
        &self,
        principal: Principal,
        required: &[String],
    ) -> Result<Option<Principal>, Denied> {
        if principal.has_scopes(required) {
            return Ok(Some(principal));
        }
        let scope = required.join(" ");
        let challenge = header_value(format!(
            "Bearer realm={}, error=\"insufficient_scope\", scope={}",
            self.quoted_realm,
            quoted(&scope)
        ));
        let cause = format!(
            "`{}` (by {}) lacks scopes {scope}",
            principal.id, principal.scheme
        );
        Err(Denied::InsufficientScope {
            scope,
            challenge,
            cause,
        })
    }
}

impl Link {
    /// The authenticator, if it is built in or its plugin is loaded.
    fn resolve(&self, plugins: &dyn AuthenticatorPlugins) -> Option<Arc<dyn Authenticator>> {
        match self {
            Link::Host(authenticator) => Some(authenticator.clone()),
            Link::Plugin(name) => plugins.find(name),
        }
    }

    /// The name `piston.toml` gives it.
    fn name(&self) -> &str {
        match self {
            Link::Host(authenticator) => authenticator.name(),
            Link::Plugin(name) => name,
        }
    }
}

/// The challenges of a 401: one per available authenticator of the chain (each once).
fn challenges(
    chain: &[Link],
    plugins: &dyn AuthenticatorPlugins,
    refused: Option<(usize, &Refusal)>,
) -> Vec<HeaderValue> {
    let mut challenges = Vec::new();
    for (index, link) in chain.iter().enumerate() {
        if let Some(authenticator) = link.resolve(plugins) {
            let refusal = refused
                .filter(|(refused, _)| *refused == index)
                .map(|(_, refusal)| refusal);
            authenticator.challenges(refusal, &mut challenges);
        }
    }
    let mut unique: Vec<HeaderValue> = Vec::with_capacity(challenges.len());
    for challenge in challenges {
        if !unique.contains(&challenge) {
            unique.push(challenge);
        }
    }
    unique
}

/// The schemes a chain accepts, for a client reading a 401.
fn accepted_schemes(chain: &[Link]) -> String {
    let mut schemes: Vec<&str> = Vec::new();
    for link in chain {
        let name = link.name();
        if !schemes.contains(&name) {
            schemes.push(name);
        }
    }
    schemes.join(", ")
}

/// Counts one authentication outcome, when metrics are on. `scheme` is the
/// authenticator's configured name, `address` for a lock on the client's address,
/// `none` when no credentials were offered where they are needed.
fn count(scheme: &str, outcome: AuthOutcome) {
    if let Some(metrics) = crate::telemetry::metrics() {
        metrics.authenticated(scheme, outcome);
    }
}

/// A check the coordination backend could not answer (its reachability logs why).
fn unavailable(_: Unavailable) -> Denied {
    Denied::Unavailable
}

/// Credentials over a failed-login limit.
fn locked_out(lock: Lock, head: &RequestHead<'_>) -> Denied {
    let cause = format!(
        "{} is over a failed-login limit ({:?})",
        head.client, lock.scope
    );
    Denied::LockedOut { lock, cause }
}
