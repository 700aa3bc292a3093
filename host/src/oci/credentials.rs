//! Who Piston is to a registry: a username and password given on the command line or
//! in `PISTON_REGISTRY_USERNAME` / `PISTON_REGISTRY_PASSWORD`, else what the Docker
//! config file (`$DOCKER_CONFIG/config.json`, `~/.docker/config.json`) or its
//! credential helper holds for that registry, else anonymous. Secrets never reach a
//! log line or an error message.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;
use std::fmt;

/// A username and password for every registry contacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// The username.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Login")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The credentials to present to `registry`: `login` if given, else the Docker
/// config's, else none.
pub fn for_registry(registry: &str, login: Option<&Login>) -> Result<RegistryAuth, String> {
    if let Some(login) = login {
        return Ok(RegistryAuth::Basic(
            login.username.clone(),
            login.password.clone(),
        ));
    }
    match docker_credential::get_credential(registry) {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Ok(RegistryAuth::Basic(username, password))
        }
        Ok(DockerCredential::IdentityToken(_)) => Err(format!(
            "the Docker config holds an identity token for {registry}, which Piston cannot \
             use: give a username and password (--username, PISTON_REGISTRY_PASSWORD)"
        )),
        // No config file, or nothing in it for this registry.
        Err(
            CredentialRetrievalError::ConfigNotFound
            | CredentialRetrievalError::ConfigReadError
            | CredentialRetrievalError::NoCredentialConfigured,
        ) => Ok(RegistryAuth::Anonymous),
        // A helper's output may hold the secret: name the helper only.
        Err(CredentialRetrievalError::HelperFailure { helper, .. }) => Err(format!(
            "the Docker credential helper `{helper}` failed for {registry}"
        )),
        Err(
            CredentialRetrievalError::HelperCommunicationError
            | CredentialRetrievalError::MalformedHelperResponse,
        ) => Err(format!(
            "the Docker credential helper for {registry} did not answer as expected"
        )),
        Err(
            CredentialRetrievalError::CredentialDecodingError
            | CredentialRetrievalError::CredentialMismatchError,
        ) => Err(format!(
            "the Docker config's credential for {registry} cannot be read (`auth` is not \
             base64 of username:password)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_never_shows_its_password() {
        let login = Login {
            username: "ci".into(),
            password: "s3cret".into(),
        };
        let shown = format!("{login:?}");
        assert!(shown.contains("ci") && !shown.contains("s3cret"), "{shown}");
        assert_eq!(
            for_registry("127.0.0.1:5000", Some(&login)).unwrap(),
            RegistryAuth::Basic("ci".into(), "s3cret".into())
        );
    }
}
