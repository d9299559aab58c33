//! The configuration of OIDC single sign-on: the provider, our client, how a claim maps to a
//! role and which claim names the user; checked once at start.

use backline_domain::Role;
use backline_infra::oidc::OidcClient;

/// The client secret: read from the environment only, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSecret(pub String);

impl std::fmt::Debug for OidcSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// OIDC single sign-on (off until `BACKLINE_OIDC_ISSUER` is set).
#[derive(Debug, Clone)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct OidcSettings {
    /// OIDC single sign-on: the provider's issuer URL (its discovery document is
    /// <issuer>/.well-known/openid-configuration). Unset: no single sign-on.
    #[cfg_attr(
        feature = "cli",
        arg(long = "oidc-issuer", env = "BACKLINE_OIDC_ISSUER", global = true)
    )]
    pub issuer: Option<String>,
    /// Backline's client id at the OpenID provider.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "oidc-client-id",
            env = "BACKLINE_OIDC_CLIENT_ID",
            global = true
        )
    )]
    pub client_id: Option<String>,
    /// The client secret (environment BACKLINE_OIDC_CLIENT_SECRET only: never an argument).
    #[cfg_attr(feature = "cli", arg(skip = std::env::var("BACKLINE_OIDC_CLIENT_SECRET").ok().map(OidcSecret)))]
    pub client_secret: Option<OidcSecret>,
    /// Scopes asked for, space-separated (`openid` is always asked).
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "oidc-scopes",
            env = "BACKLINE_OIDC_SCOPES",
            default_value = "openid profile email",
            global = true
        )
    )]
    pub scopes: String,
    /// The claim whose values map to roles (a string or an array of strings).
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "oidc-role-claim",
            env = "BACKLINE_OIDC_ROLE_CLAIM",
            default_value = "groups",
            global = true
        )
    )]
    pub role_claim: String,
    /// `value=role` pairs, comma-separated (e.g. `backline-admins=admin,backline-ops=operator`):
    /// a person gets the highest role any of its claim values maps to, and is refused when
    /// none maps.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "oidc-role-map",
            env = "BACKLINE_OIDC_ROLE_MAP",
            value_delimiter = ',',
            global = true
        )
    )]
    pub role_map: Vec<String>,
    /// The claim that names the user (its Backline username); it must be unique and stable at
    /// the provider.
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "oidc-username-claim",
            env = "BACKLINE_OIDC_USERNAME_CLAIM",
            default_value = "preferred_username",
            global = true
        )
    )]
    pub username_claim: String,
    /// The provider's name on the sign-in page's button ("Sign in with <name>").
    #[cfg_attr(
        feature = "cli",
        arg(
            long = "oidc-name",
            env = "BACKLINE_OIDC_NAME",
            default_value = "SSO",
            global = true
        )
    )]
    pub name: String,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: None,
            client_secret: None,
            scopes: "openid profile email".into(),
            role_claim: "groups".into(),
            role_map: Vec::new(),
            username_claim: "preferred_username".into(),
            name: "SSO".into(),
        }
    }
}

/// Single sign-on, checked and ready.
pub struct OidcConfig {
    pub name: String,
    pub role_claim: String,
    pub username_claim: String,
    /// Claim value → role.
    pub roles: Vec<(String, Role)>,
    pub client: OidcClient,
}

/// The path of the callback under the public URL.
pub const CALLBACK_PATH: &str = "/api/v1/oidc/callback";

impl OidcConfig {
    /// `None` when no issuer is set; an error saying what to set when the rest is missing or
    /// wrong.
    pub fn from_settings(
        oidc: &OidcSettings,
        public_url: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let Some(issuer) = oidc
            .issuer
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return Ok(None);
        };
        let client_id = oidc
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or("BACKLINE_OIDC_ISSUER is set: set BACKLINE_OIDC_CLIENT_ID too")?;
        let secret = oidc
            .client_secret
            .as_ref()
            .map(|s| s.0.trim())
            .filter(|s| !s.is_empty())
            .ok_or("BACKLINE_OIDC_ISSUER is set: set BACKLINE_OIDC_CLIENT_SECRET too")?;
        let public = public_url
            .map(|u| u.trim().trim_end_matches('/'))
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .ok_or(
                "single sign-on needs BACKLINE_PUBLIC_URL (http(s)://host[:port], as browsers \
                 reach Backline): the provider sends them back to <public URL>/api/v1/oidc/callback",
            )?;
        let roles = parse_role_map(&oidc.role_map)?;
        let mut scopes: Vec<String> = vec!["openid".into()];
        for s in oidc.scopes.split_whitespace() {
            if !scopes.iter().any(|k| k == s) {
                scopes.push(s.to_string());
            }
        }
        let client = OidcClient::new(
            issuer,
            client_id,
            secret,
            &format!("{public}{CALLBACK_PATH}"),
            scopes,
        )
        .map_err(|e| e.to_string())?;
        Ok(Some(Self {
            name: oidc.name.trim().to_string(),
            role_claim: oidc.role_claim.trim().to_string(),
            username_claim: oidc.username_claim.trim().to_string(),
            roles,
            client,
        }))
    }

    /// The highest role any of `values` maps to.
    pub fn role_for(&self, values: &[String]) -> Option<Role> {
        self.roles
            .iter()
            .filter(|(v, _)| values.iter().any(|x| x == v))
            .map(|(_, r)| *r)
            .max()
    }
}

fn parse_role_map(items: &[String]) -> Result<Vec<(String, Role)>, String> {
    let mut out = Vec::new();
    for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let (value, role) = item.rsplit_once('=').ok_or_else(|| {
            format!(
                "BACKLINE_OIDC_ROLE_MAP: {item:?} is not value=role (e.g. backline-admins=admin)"
            )
        })?;
        let role = Role::parse(role.trim()).ok_or_else(|| {
            format!("BACKLINE_OIDC_ROLE_MAP: {item:?}: the role must be viewer, operator or admin")
        })?;
        out.push((value.trim().to_string(), role));
    }
    if out.is_empty() {
        return Err(
            "single sign-on needs BACKLINE_OIDC_ROLE_MAP (e.g. backline-admins=admin,backline-ops=operator): \
             without it nobody could sign in"
                .into(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> OidcSettings {
        OidcSettings {
            issuer: Some("http://127.0.0.1:9/".into()),
            client_id: Some("backline".into()),
            client_secret: Some(OidcSecret("s3cret-value".into())),
            role_map: vec![
                "backline-admins=admin".into(),
                " backline-ops = operator".into(),
                "everyone=viewer".into(),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn the_highest_mapped_role_wins_and_nothing_maps_to_nothing() {
        let c = OidcConfig::from_settings(&settings(), Some("http://b.example:8080/"))
            .unwrap()
            .unwrap();
        assert_eq!(
            c.client.party().redirect_url,
            "http://b.example:8080/api/v1/oidc/callback"
        );
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            c.role_for(&v(&["everyone", "backline-ops"])),
            Some(Role::Operator)
        );
        assert_eq!(
            c.role_for(&v(&["backline-admins", "everyone"])),
            Some(Role::Admin)
        );
        assert_eq!(c.role_for(&v(&["other"])), None);
        assert_eq!(c.role_for(&[]), None);
    }

    #[test]
    fn what_is_missing_is_named() {
        assert!(OidcConfig::from_settings(&OidcSettings::default(), None)
            .unwrap()
            .is_none());
        let err = |s: OidcSettings, public: Option<&str>| {
            OidcConfig::from_settings(&s, public).err().unwrap()
        };
        let mut s = settings();
        s.client_secret = None;
        assert!(err(s, Some("http://x")).contains("BACKLINE_OIDC_CLIENT_SECRET"));
        assert!(err(settings(), None).contains("BACKLINE_PUBLIC_URL"));
        let mut s = settings();
        s.role_map = vec!["admins=root".into()];
        assert!(err(s, Some("http://x")).contains("viewer, operator or admin"));
        let mut s = settings();
        s.role_map = vec![];
        assert!(err(s, Some("http://x")).contains("BACKLINE_OIDC_ROLE_MAP"));
    }

    #[test]
    fn the_secret_is_never_printed() {
        assert!(!format!("{:?}", settings()).contains("s3cret-value"));
    }
}
