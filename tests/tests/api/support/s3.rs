//! S3 test support: a real S3-compatible server (`moto_server`, PyPI `moto[server]`) started
//! per test on its own port, plain S3 calls to inspect buckets, and a fault-injecting HTTP
//! proxy placed between Backline and the server.
#![allow(dead_code)]

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use backline_infra::storage::ArtifactStore;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A `moto_server` process, killed when dropped.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    client: reqwest::Client,
    /// Holds the credentials file Backline is pointed at.
    dir: tempfile::TempDir,
}

impl S3Server {
    pub async fn start() -> S3Server {
        let port = free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = std::fs::File::create(dir.path().join("moto.log")).expect("log file");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("moto_server is not installed: pip install 'moto[server]' (see .ci/run)");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if client.get(&endpoint).send().await.is_ok() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "moto_server did not answer on {endpoint} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::fs::write(
            dir.path().join("credentials"),
            "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
        )
        .expect("credentials file");
        S3Server {
            child,
            endpoint,
            client,
            dir,
        }
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.dir.path().join("credentials")
    }

    /// A fresh, uniquely named bucket.
    pub async fn bucket(&self, prefix: &str) -> String {
        let name = format!(
            "{prefix}-{}",
            &uuid::Uuid::now_v7().simple().to_string()[16..]
        );
        let r = self
            .client
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(
            r.status().is_success(),
            "create bucket {name}: {}",
            r.status()
        );
        name
    }

    /// The storage URL Backline uses for `bucket/prefix`, through `endpoint` (the server or
    /// a proxy in front of it).
    pub fn url_via(&self, endpoint: &str, bucket: &str, prefix: &str) -> String {
        format!(
            "s3://{bucket}/{prefix}?endpoint={endpoint}&region=us-east-1&credentials_file={}",
            self.credentials_file().display()
        )
    }

    pub fn url(&self, bucket: &str, prefix: &str) -> String {
        self.url_via(&self.endpoint, bucket, prefix)
    }

    /// The whole bucket, through OpenDAL with signed requests (moto refuses anonymous reads).
    pub fn store(&self, bucket: &str) -> ArtifactStore {
        ArtifactStore::from_url(&self.url(bucket, "")).expect("store")
    }

    /// Every key in `bucket`.
    pub async fn keys(&self, bucket: &str) -> Vec<String> {
        let entries = self
            .store(bucket)
            .operator()
            .list_with("")
            .recursive(true)
            .await
            .expect("list");
        entries
            .into_iter()
            .map(|e| e.path().to_string())
            .filter(|p| !p.ends_with('/'))
            .collect()
    }

    /// Multipart uploads begun and neither completed nor aborted.
    pub async fn pending_uploads(&self, bucket: &str) -> Vec<String> {
        let text = self
            .client
            .get(format!("{}/{bucket}?uploads", self.endpoint))
            .send()
            .await
            .expect("list uploads")
            .text()
            .await
            .expect("uploads body");
        xml_values(&text, "UploadId")
    }

    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.store(bucket)
            .get(key)
            .await
            .unwrap_or_else(|e| panic!("GET {bucket}/{key}: {e}"))
    }

    pub async fn delete(&self, bucket: &str, key: &str) {
        self.store(bucket)
            .operator()
            .delete(key)
            .await
            .unwrap_or_else(|e| panic!("DELETE {bucket}/{key}: {e}"))
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("moto.log")
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn xml_values(text: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    text.split(&open)
        .skip(1)
        .filter_map(|s| s.split_once(&close).map(|(v, _)| v.to_string()))
        .collect()
}

/// What the proxy does to the requests it sees.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Answers every `n`-th request with a 500 InternalError (S3 clients retry those).
    FailEvery(usize),
    /// Lets `k` part uploads (`PUT ?partNumber=`) through, then fails every later one.
    FailPartsAfter(usize),
    /// Delays every request by this many milliseconds (a slow destination).
    Delay(u64),
    /// Answers every write (PUT/POST) with a 500.
    FailWrites,
}

/// An HTTP proxy on a free port that forwards to `upstream` and injects `fault`.
pub struct FaultProxy {
    pub endpoint: String,
    pub seen: Arc<AtomicUsize>,
    pub failed: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let parts = Arc::new(AtomicUsize::new(0));
        let upstream = upstream.to_string();
        let client = reqwest::Client::new();
        let (s, f) = (seen.clone(), failed.clone());
        let app = axum::Router::new().fallback(move |req: Request| {
            let (client, upstream, seen, failed, parts) = (
                client.clone(),
                upstream.clone(),
                s.clone(),
                f.clone(),
                parts.clone(),
            );
            async move {
                let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
                let query = req.uri().query().unwrap_or("").to_string();
                let is_write = matches!(req.method().as_str(), "PUT" | "POST");
                let is_part = req.method() == "PUT" && query.contains("partNumber=");
                let fail = match fault {
                    Fault::FailEvery(k) => n % k == 0,
                    Fault::FailPartsAfter(k) => {
                        is_part && parts.fetch_add(1, Ordering::SeqCst) >= k
                    }
                    Fault::Delay(ms) => {
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        false
                    }
                    Fault::FailWrites => is_write,
                };
                if fail {
                    failed.fetch_add(1, Ordering::SeqCst);
                    // Drain the body as a real server would before answering.
                    let _ = axum::body::to_bytes(req.into_body(), usize::MAX).await;
                    return (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        [("content-type", "application/xml")],
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>injected by the test proxy</Message></Error>",
                    )
                        .into_response();
                }
                forward(&client, &upstream, req).await
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultProxy {
            endpoint,
            seen,
            failed,
            task,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(client: &reqwest::Client, upstream: &str, req: Request) -> Response {
    let method = req.method().clone();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut headers = HeaderMap::new();
    for (k, v) in req.headers() {
        if k != "host" && k != "content-length" && k != "transfer-encoding" {
            headers.append(k.clone(), v.clone());
        }
    }
    let body = match axum::body::to_bytes(req.into_body(), usize::MAX).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let r = match client
        .request(method, format!("{upstream}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    };
    let status = r.status();
    let mut out = Response::builder().status(status);
    for (k, v) in r.headers() {
        // Content-Length stays: a HEAD answer (stat) carries the object's size in it.
        if k != "transfer-encoding" && k != "connection" {
            out = out.header(k, v);
        }
    }
    let bytes = r.bytes().await.unwrap_or_default();
    out.body(Body::from(bytes))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

/// sha256 of a file's or buffer's bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
