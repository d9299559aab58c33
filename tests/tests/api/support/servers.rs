//! Real storage servers started by a test on a free port, and stopped (killed) by it: a WebDAV
//! server (`wsgidav`, PyPI) with basic authentication, and Azurite's blob service (npm).
#![allow(dead_code)]

use backline_infra::storage::ArtifactStore;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

async fn wait_up(port: u16, child: &mut Child, what: &str) {
    let start = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A server process on a fixed port and data directory; `kill` stops it the hard way and
/// `start` brings it back with the same data.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub dir: tempfile::TempDir,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    WebDav,
    Azurite,
}

pub const DAV_USER: &str = "backline";
pub const DAV_PASSWORD: &str = "dav-Secret-pw";
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";
/// Azurite's documented development key (public: it only opens the local emulator).
pub const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

impl Server {
    pub async fn webdav() -> Server {
        Self::new(Kind::WebDav).await
    }

    pub async fn azurite() -> Server {
        Self::new(Kind::Azurite).await
    }

    async fn new(kind: Kind) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("root")).expect("root");
        let creds = match kind {
            Kind::WebDav => format!("username = {DAV_USER}\npassword = {DAV_PASSWORD}\n"),
            Kind::Azurite => format!("account_key = {AZURE_KEY}\n"),
        };
        std::fs::write(dir.path().join("credentials"), creds).expect("credentials");
        let mut s = Server {
            child: None,
            port: free_port(),
            dir,
            kind,
        };
        s.start().await;
        s
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.dir.path().join("credentials")
    }

    pub async fn start(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).expect("log");
        let child = match self.kind {
            Kind::WebDav => {
                let config = self.dir.path().join("wsgidav.yaml");
                std::fs::write(&config, wsgidav_config(self.port, &self.root())).expect("config");
                Command::new("wsgidav")
                    .arg("--config")
                    .arg(&config)
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()
                    .expect("wsgidav is not installed: pip install wsgidav cheroot (see .ci/run)")
            }
            Kind::Azurite => Command::new("azurite-blob")
                .args([
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    &self.port.to_string(),
                ])
                .arg("--location")
                .arg(self.root())
                .args(["--silent", "--skipApiVersionCheck"])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("azurite is not installed: npm install -g azurite (see .ci/run)"),
        };
        self.child = Some(child);
        let what = match self.kind {
            Kind::WebDav => "wsgidav",
            Kind::Azurite => "azurite-blob",
        };
        wait_up(self.port, self.child.as_mut().expect("child"), what).await;
    }

    /// SIGKILL: the server dies wherever it is, in the middle of a request.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn dav_url(&self, prefix: &str) -> String {
        format!(
            "webdav+http://127.0.0.1:{}/{prefix}?credentials_file={}",
            self.port,
            self.credentials_file().display()
        )
    }

    pub fn azure_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURE_ACCOUNT}", self.port)
    }

    pub fn azure_url(&self, container: &str, prefix: &str) -> String {
        format!(
            "azblob://{container}/{prefix}?account={AZURE_ACCOUNT}&endpoint={}&credentials_file={}",
            self.azure_endpoint(),
            self.credentials_file().display()
        )
    }

    /// Creates a container with a Shared Key signed `PUT ?restype=container`.
    pub async fn azure_container(&self, prefix: &str) -> String {
        let name = format!(
            "{prefix}-{}",
            &uuid::Uuid::now_v7().simple().to_string()[16..]
        );
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURE_ACCOUNT}/{AZURE_ACCOUNT}/{name}\nrestype:container"
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(AZURE_KEY)
            .expect("key");
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).expect("hmac");
        mac.update(to_sign.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let r = reqwest::Client::new()
            .put(format!(
                "{}/{name}?restype=container",
                self.azure_endpoint()
            ))
            .header("x-ms-date", date)
            .header("x-ms-version", version)
            .header("Authorization", format!("SharedKey {AZURE_ACCOUNT}:{sig}"))
            .header("Content-Length", "0")
            .send()
            .await
            .expect("create container");
        let status = r.status();
        assert!(
            status.is_success(),
            "create container {name}: {status} {}",
            r.text().await.unwrap_or_default()
        );
        name
    }

    /// Every object under the store's root, through OpenDAL with the same credentials.
    pub async fn keys(&self, url: &str) -> Vec<String> {
        let store = ArtifactStore::from_url(url).expect("store");
        match store.operator().list_with("").recursive(true).await {
            Ok(entries) => entries
                .into_iter()
                .map(|e| e.path().to_string())
                .filter(|p| !p.ends_with('/'))
                .collect(),
            Err(e) if format!("{e:?}").contains("NotFound") => Vec::new(),
            Err(e) => panic!("list {url}: {e}"),
        }
    }

    pub async fn get(&self, url: &str, key: &str) -> Vec<u8> {
        ArtifactStore::from_url(url)
            .expect("store")
            .get(key)
            .await
            .expect("get")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wsgidav_config(port: u16, root: &Path) -> String {
    format!(
        r#"host: 127.0.0.1
port: {port}
server: cheroot
provider_mapping:
  "/": "{}"
http_authenticator:
  domain_controller: null
  accept_basic: true
  accept_digest: false
  default_to_digest: false
simple_dc:
  user_mapping:
    "*":
      "{DAV_USER}":
        password: "{DAV_PASSWORD}"
verbose: 1
logging:
  enable: false
"#,
        root.display()
    )
}
