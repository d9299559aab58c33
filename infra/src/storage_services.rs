//! Storage URLs besides `fs://` and `s3://`: WebDAV, Azure Blob Storage and Google Cloud
//! Storage, each an OpenDAL service. Credentials never come from the URL (it is logged and
//! recorded as the artifact's `storage`): they come from the environment or from a file named
//! by `credentials_file=`, of `key = value` lines.
//!
//! - `webdav+https://host[:port]/path` (or `webdav+http://`): `WEBDAV_USERNAME` and
//!   `WEBDAV_PASSWORD` (file keys `username`, `password`), or `WEBDAV_TOKEN` (`token`, a bearer
//!   token).
//! - `azblob://<container>/<prefix>?account=<name>[&endpoint=<url>]`: `AZURE_STORAGE_ACCOUNT_KEY`
//!   (file key `account_key`) or `AZURE_STORAGE_SAS_TOKEN` (`sas_token`); the endpoint defaults
//!   to `https://<account>.blob.core.windows.net`.
//! - `gcs://<bucket>/<prefix>[?endpoint=<url>]`: a service account's JSON key file named by
//!   `credential_path=` or `GOOGLE_APPLICATION_CREDENTIALS`; `anonymous=true` for an emulator.

use crate::storage::{redact_url, StorageError};
use opendal::Operator;
use std::collections::HashMap;
use std::path::Path;

/// The URL's query, with the credentials file (when named) read as `key = value` lines.
struct Parsed {
    url: url::Url,
    query: HashMap<String, String>,
    file: HashMap<String, String>,
}

impl Parsed {
    fn new(raw: &str, allowed: &[&str]) -> Result<Self, StorageError> {
        let url = url::Url::parse(raw).map_err(|e| invalid(raw, &e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                raw,
                "credentials do not belong in the storage URL (it is logged and recorded): use \
                 the environment or credentials_file=<path>",
            ));
        }
        let mut query = HashMap::new();
        for (k, v) in url.query_pairs() {
            if k != "credentials_file" && !allowed.contains(&k.as_ref()) {
                return Err(invalid(raw, &format!("unknown parameter {k:?}")));
            }
            query.insert(k.into_owned(), v.into_owned());
        }
        let file = match query.get("credentials_file") {
            Some(path) => read_credentials(Path::new(path)).map_err(|m| invalid(raw, &m))?,
            None => HashMap::new(),
        };
        Ok(Self { url, query, file })
    }

    /// A credential from the file, else from the environment.
    fn secret(&self, file_key: &str, env: &str) -> Option<String> {
        self.file
            .get(file_key)
            .cloned()
            .or_else(|| std::env::var(env).ok())
            .filter(|v| !v.is_empty())
    }

    fn host(&self, raw: &str, what: &str) -> Result<String, StorageError> {
        self.url
            .host_str()
            .map(str::to_string)
            .ok_or_else(|| invalid(raw, &format!("no {what}")))
    }

    fn root(&self) -> String {
        format!("/{}", self.url.path().trim_matches('/'))
    }
}

fn invalid(raw: &str, message: &str) -> StorageError {
    StorageError::Invalid {
        url: redact_url(raw),
        message: message.to_string(),
    }
}

/// `key = value` lines; `#` comments and `[section]` headers are skipped.
fn read_credentials(path: &Path) -> Result<HashMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the credentials file {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect())
}

pub(crate) fn webdav(raw: &str) -> Result<Operator, StorageError> {
    let p = Parsed::new(raw, &[])?;
    let scheme = match p.url.scheme() {
        "webdav+https" => "https",
        "webdav+http" => "http",
        other => return Err(invalid(raw, &format!("unknown scheme {other:?}"))),
    };
    let host = p.host(raw, "host")?;
    let port = p.url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let mut b = opendal::services::Webdav::default()
        .endpoint(&format!("{scheme}://{host}{port}"))
        .root(&p.root());
    match (
        p.secret("username", "WEBDAV_USERNAME"),
        p.secret("password", "WEBDAV_PASSWORD"),
        p.secret("token", "WEBDAV_TOKEN"),
    ) {
        (Some(user), password, _) => {
            b = b.username(&user).password(&password.unwrap_or_default());
        }
        (None, _, Some(token)) => b = b.token(&token),
        (None, _, None) => {
            tracing::warn!(host, "no WebDAV credentials (WEBDAV_USERNAME/WEBDAV_PASSWORD, WEBDAV_TOKEN or credentials_file=): requests are sent without authentication");
        }
    }
    Ok(Operator::new(b)?)
}

pub(crate) fn azblob(raw: &str) -> Result<Operator, StorageError> {
    let p = Parsed::new(raw, &["account", "endpoint"])?;
    let container = p.host(raw, "container")?;
    let account = p
        .query
        .get("account")
        .cloned()
        .or_else(|| std::env::var("AZURE_STORAGE_ACCOUNT").ok())
        .filter(|a| !a.is_empty())
        .ok_or_else(|| invalid(raw, "no storage account: add account=<name>"))?;
    let endpoint = p
        .query
        .get("endpoint")
        .cloned()
        .unwrap_or_else(|| format!("https://{account}.blob.core.windows.net"));
    let mut b = opendal::services::Azblob::default()
        .container(&container)
        .root(&p.root())
        .endpoint(&endpoint)
        .account_name(&account);
    match (
        p.secret("account_key", "AZURE_STORAGE_ACCOUNT_KEY"),
        p.secret("sas_token", "AZURE_STORAGE_SAS_TOKEN"),
    ) {
        (Some(key), _) => b = b.account_key(&key),
        (None, Some(sas)) => b = b.sas_token(&sas),
        (None, None) => {
            return Err(invalid(
                raw,
                "no Azure credentials: set AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN, \
                 or add credentials_file=<path> with account_key = … or sas_token = …",
            ))
        }
    }
    Ok(Operator::new(b)?)
}

pub(crate) fn gcs(raw: &str) -> Result<Operator, StorageError> {
    let p = Parsed::new(raw, &["endpoint", "credential_path", "anonymous"])?;
    let bucket = p.host(raw, "bucket")?;
    // No gcloud configuration and no VM metadata probing: only what is configured here.
    let mut b = opendal::services::Gcs::default()
        .bucket(&bucket)
        .root(&p.root())
        .disable_config_load()
        .disable_vm_metadata();
    if let Some(e) = p.query.get("endpoint") {
        b = b.endpoint(e);
    }
    let path = p
        .query
        .get("credential_path")
        .cloned()
        .or_else(|| std::env::var("GOOGLE_APPLICATION_CREDENTIALS").ok())
        .filter(|v| !v.is_empty());
    match (path, p.query.get("anonymous").map(String::as_str)) {
        (_, Some("true")) => b = b.skip_signature(),
        (Some(path), _) => b = b.credential_path(&path),
        (None, _) => {
            return Err(invalid(
                raw,
                "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS or add \
                 credential_path=<service account JSON>",
            ))
        }
    }
    Ok(Operator::new(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_come_from_the_url() {
        for url in [
            "webdav+https://u:sekrit@dav.example/backups",
            "azblob://u:sekrit@c/p?account=a",
        ] {
            let e = match url.starts_with("webdav") {
                true => webdav(url),
                false => azblob(url),
            }
            .unwrap_err()
            .to_string();
            assert!(
                e.contains("credentials do not belong") && !e.contains("sekrit"),
                "{e}"
            );
        }
    }

    #[test]
    fn each_url_says_what_is_missing() {
        let e = azblob("azblob://c/p?endpoint=http://127.0.0.1:1/a").unwrap_err();
        assert!(e.to_string().contains("account="), "{e}");
        let e = webdav("webdav+ftp://h/p").unwrap_err();
        assert!(e.to_string().contains("scheme"), "{e}");
        let e = webdav("webdav+https://h/p?x=1").unwrap_err();
        assert!(e.to_string().contains("unknown parameter"), "{e}");
    }

    #[test]
    fn gcs_needs_a_key_or_says_anonymous() {
        if std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS").is_none() {
            let e = gcs("gcs://b/p").unwrap_err().to_string();
            assert!(e.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{e}");
        }
        assert!(gcs("gcs://b/p?endpoint=http://127.0.0.1:1&anonymous=true").is_ok());
        assert!(gcs("gcs://b/p?bucket=x").is_err());
    }

    #[test]
    fn a_credentials_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("dav");
        std::fs::write(
            &f,
            "# dav\n[default]\nusername = backline\npassword = p=w\n",
        )
        .unwrap();
        let c = read_credentials(&f).unwrap();
        assert_eq!(c["username"], "backline");
        assert_eq!(c["password"], "p=w");
    }
}
