//! OpenID Connect relying party (the `openidconnect` crate): discovery, the authorization URL
//! (authorization code flow with PKCE S256, state and nonce), the code exchange, and the ID
//! token's checks (signature against the provider's published keys, issuer, audience, expiry,
//! nonce, access-token hash). The person's claims are the verified ID token's, completed by the
//! userinfo endpoint's (whose `sub` must be the same) when a claim we need is not in the token.
//!
//! HTTP goes through the workspace's reqwest (rustls) without redirects: following one would
//! let a provider's answer send our requests elsewhere.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, HttpResponse,
    IdToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the OpenID provider {issuer} could not be discovered: {message}")]
    Discovery { issuer: String, message: String },
    #[error("the OpenID provider did not accept the authorization code: {0}")]
    Exchange(String),
    #[error("the OpenID provider's ID token was refused: {0}")]
    IdToken(String),
    #[error("the OpenID provider's userinfo answer was refused: {0}")]
    UserInfo(String),
    #[error("OIDC configuration: {0}")]
    Config(String),
}

/// Where the provider is and who we are to it. The client secret never leaves this struct
/// except in the token request's authentication (its `Debug` does not show it).
#[derive(Clone)]
pub struct RelyingParty {
    pub issuer: String,
    pub client_id: String,
    client_secret: String,
    pub redirect_url: String,
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// A sign-in just started: the provider's URL to send the browser to, and what the callback
/// must check (kept by the caller, never shown to anyone but the browser that started it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The person the provider vouches for: its subject and every claim (ID token first, then
/// userinfo for what the token lacks), as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub subject: String,
    pub claims: Map<String, Value>,
}

impl Identity {
    /// The values of claim `name`: a string, or the strings of an array.
    pub fn values(&self, name: &str) -> Vec<String> {
        match self.claims.get(name) {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Every claim beyond the standard ones, kept as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

type FullIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The workspace's reqwest as the `openidconnect` HTTP client.
struct Http(reqwest::Client);

type HttpFuture<'c> = Pin<
    Box<dyn Future<Output = Result<HttpResponse, HttpClientError<reqwest::Error>>> + Send + 'c>,
>;

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpClientError<reqwest::Error>;
    type Future = HttpFuture<'c>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?.to_vec();
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// Talks to one OpenID provider.
pub struct OidcClient {
    party: RelyingParty,
    http: Http,
}

impl OidcClient {
    pub fn new(
        issuer: &str,
        client_id: &str,
        client_secret: &str,
        redirect_url: &str,
        scopes: Vec<String>,
    ) -> Result<Self, OidcError> {
        IssuerUrl::new(issuer.to_string())
            .map_err(|e| OidcError::Config(format!("issuer {issuer:?} is not a URL: {e}")))?;
        RedirectUrl::new(redirect_url.to_string()).map_err(|e| {
            OidcError::Config(format!("redirect URL {redirect_url:?} is not a URL: {e}"))
        })?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .user_agent(concat!("backline/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OidcError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            party: RelyingParty {
                issuer: issuer.to_string(),
                client_id: client_id.to_string(),
                client_secret: client_secret.to_string(),
                redirect_url: redirect_url.to_string(),
                scopes,
            },
            http: Http(http),
        })
    }

    pub fn party(&self) -> &RelyingParty {
        &self.party
    }

    /// The provider's metadata and keys, read fresh (keys rotate; sign-ins are rare).
    async fn client(&self) -> Result<Client, OidcError> {
        let p = &self.party;
        let discovery = |message: String| OidcError::Discovery {
            issuer: p.issuer.clone(),
            message,
        };
        let issuer = IssuerUrl::new(p.issuer.clone()).map_err(|e| discovery(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| discovery(error_chain(&e)))?;
        let redirect =
            RedirectUrl::new(p.redirect_url.clone()).map_err(|e| discovery(e.to_string()))?;
        Ok(Client::from_provider_metadata(
            metadata,
            ClientId::new(p.client_id.clone()),
            Some(ClientSecret::new(p.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's authorization URL with a fresh state, nonce and PKCE
    /// challenge.
    pub async fn authorize(&self) -> Result<Authorization, OidcError> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.party.scopes.iter().filter(|s| s.as_str() != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Finishes a sign-in: exchanges `code` (with the PKCE verifier), checks the ID token, and
    /// returns the person's claims. `needed` names claims to fetch from userinfo when the ID
    /// token lacks them.
    pub async fn finish(
        &self,
        code: &str,
        pending: &Authorization,
        needed: &[&str],
    ) -> Result<Identity, OidcError> {
        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Exchange(error_chain(&e)))?;
        // Verified in a block: nothing of the verifier is held across the userinfo request.
        let (subject, mut all) = {
            let token = response
                .id_token()
                .ok_or_else(|| OidcError::IdToken("the token response has no ID token".into()))?;
            // Read again with every claim kept (the core type drops the ones it does not know).
            let token: FullIdToken = token
                .to_string()
                .parse()
                .map_err(|e: serde_json::Error| OidcError::IdToken(e.to_string()))?;
            let verifier = client.id_token_verifier();
            let nonce = Nonce::new(pending.nonce.clone());
            let claims = token
                .claims(&verifier, &nonce)
                .map_err(|e| OidcError::IdToken(error_chain(&e)))?;
            if let Some(expected) = claims.access_token_hash() {
                let alg = token
                    .signing_alg()
                    .map_err(|e| OidcError::IdToken(e.to_string()))?;
                let key = token
                    .signing_key(&verifier)
                    .map_err(|e| OidcError::IdToken(e.to_string()))?;
                let actual = AccessTokenHash::from_token(response.access_token(), alg, key)
                    .map_err(|e| OidcError::IdToken(e.to_string()))?;
                if actual != *expected {
                    return Err(OidcError::IdToken(
                        "the access token does not match the ID token's at_hash".into(),
                    ));
                }
            }
            (
                claims.subject().clone(),
                as_map(claims).map_err(OidcError::IdToken)?,
            )
        };
        if needed.iter().any(|c| !all.contains_key(*c)) {
            if let Ok(request) =
                client.user_info(response.access_token().clone(), Some(subject.clone()))
            {
                let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
                    .request_async(&self.http)
                    .await
                    .map_err(|e| OidcError::UserInfo(error_chain(&e)))?;
                for (k, v) in as_map(&info).map_err(OidcError::UserInfo)? {
                    all.entry(k).or_insert(v);
                }
            }
        }
        Ok(Identity {
            subject: subject.as_str().to_string(),
            claims: all,
        })
    }
}

fn as_map(claims: &impl Serialize) -> Result<Map<String, Value>, String> {
    match serde_json::to_value(claims).map_err(|e| e.to_string())? {
        Value::Object(m) => Ok(m),
        other => Err(format!("claims are not an object: {other}")),
    }
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_a_string_or_an_array_of_strings() {
        let mut claims = Map::new();
        claims.insert("groups".into(), serde_json::json!(["a", 1, "b"]));
        claims.insert("role".into(), serde_json::json!("admin"));
        claims.insert("n".into(), serde_json::json!(3));
        let id = Identity {
            subject: "s".into(),
            claims,
        };
        assert_eq!(id.values("groups"), vec!["a", "b"]);
        assert_eq!(id.values("role"), vec!["admin"]);
        assert!(id.values("n").is_empty());
        assert!(id.values("missing").is_empty());
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let c = OidcClient::new(
            "http://127.0.0.1:1",
            "backline",
            "very-secret-value",
            "http://127.0.0.1:2/api/v1/oidc/callback",
            vec!["openid".into()],
        )
        .unwrap();
        assert!(!format!("{:?}", c.party()).contains("very-secret-value"));
    }

    #[test]
    fn a_bad_issuer_is_a_configuration_error() {
        let e = OidcClient::new("not a url", "c", "s", "http://x/cb", vec![])
            .err()
            .unwrap();
        assert!(e.to_string().contains("issuer"), "{e}");
    }
}
