//! The document transfer benchmark: files uploaded (`PUT …/documents/files`) and downloaded
//! (`GET /documents/{node}/content`) through the running server, against a raw loopback TCP
//! copy of the same bytes in the same run, with the server's resident memory sampled during
//! each phase (a streamed transfer keeps it flat: a 50 MiB file should cost what a 5 MiB one
//! does).

use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::Api;
use crate::server::{status_kb, RssSampler};
use crate::stats::median;

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct FilePlan {
    /// Sizes in bytes, each measured in turn (smallest first: the memory baseline).
    pub sizes: [usize; 2],
    /// Transfers of each size in each direction.
    pub reps: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub bytes: usize,
    /// Medians over the reps, MiB/s.
    pub upload_mib_s: f64,
    pub download_mib_s: f64,
    pub raw_copy_mib_s: f64,
    /// The server's highest resident memory while uploading / downloading (MiB); `None`
    /// when its process is not known.
    pub peak_rss_upload_mib: Option<f64>,
    pub peak_rss_download_mib: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    /// The server's resident memory before the first transfer (MiB).
    pub idle_rss_mib: Option<f64>,
    pub sizes: Vec<SizeReport>,
    /// The server's `VmHWM` at the end: its peak over its whole life (MiB).
    pub hwm_mib: Option<f64>,
}

/// Deterministic incompressible content; `rep` changes it, so that every upload is a new
/// blob (the store keeps one copy per SHA-256 and would skip the write of a known one).
pub fn content(size: usize, rep: usize) -> Bytes {
    let mut rng = ChaCha8Rng::seed_from_u64(0x7468_7265_6164 ^ rep as u64);
    let mut data = vec![0u8; size];
    rng.fill_bytes(&mut data);
    Bytes::from(data)
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn mib_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / MIB / took.as_secs_f64()
}

/// Runs the plan against the server at `base_url` (process `pid`, for its memory).
pub async fn run(
    base_url: &str,
    token: &str,
    pid: Option<u32>,
    plan: FilePlan,
) -> Result<FileReport, String> {
    let api = Api::new(base_url, token);
    let company = api
        .json(
            api.client
                .post(api.url("/companies"))
                .json(&serde_json::json!({ "name": "Files bench" })),
        )
        .await?;
    let company = company["id"]
        .as_str()
        .ok_or("a company without id")?
        .to_string();
    let rss_mib = |field: &str| {
        pid.and_then(|p| status_kb(p, field))
            .map(|kb| kb as f64 / 1024.0)
    };
    let idle_rss_mib = rss_mib("VmRSS");
    let mut sizes = Vec::new();
    for (n, &size) in plan.sizes.iter().enumerate() {
        let contents: Vec<Bytes> = (0..plan.reps)
            .map(|rep| content(size, n * 100 + rep))
            .collect();
        let raw: Vec<f64> = {
            let mut figures = Vec::new();
            for data in &contents {
                figures.push(mib_per_s(size, raw_copy(data).await?));
            }
            figures
        };

        let sampler = pid.map(RssSampler::start);
        let mut nodes = Vec::new();
        let mut up = Vec::new();
        for (rep, data) in contents.iter().enumerate() {
            let name = format!("file-{size}-{rep}.bin");
            let started = Instant::now();
            let node = api
                .json(
                    api.client
                        .put(api.url(&format!("/companies/{company}/documents/files")))
                        .query(&[("name", name.as_str())])
                        .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                        .body(data.clone()),
                )
                .await?;
            up.push(mib_per_s(size, started.elapsed()));
            if node["size"].as_u64() != Some(size as u64) {
                return Err(format!("upload of {name}: the node says {node}"));
            }
            nodes.push(node["id"].as_str().ok_or("a node without id")?.to_string());
        }
        let peak_rss_upload_mib = sampler.map(RssSampler::finish);

        let sampler = pid.map(RssSampler::start);
        let mut down = Vec::new();
        for node in &nodes {
            let started = Instant::now();
            let received = api.download(node, None).await?;
            down.push(mib_per_s(size, started.elapsed()));
            if received != size {
                return Err(format!("download of {node}: {received} bytes of {size}"));
            }
        }
        let peak_rss_download_mib = sampler.map(RssSampler::finish);
        // The content itself, once per size (outside the timing: hashing is the client's
        // work, not the transfer's).
        let mut hasher = Sha256::new();
        api.download(&nodes[0], Some(&mut hasher)).await?;
        let got: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if got != sha256_hex(&contents[0]) {
            return Err(format!(
                "download of {}: not the uploaded content",
                nodes[0]
            ));
        }
        sizes.push(SizeReport {
            bytes: size,
            upload_mib_s: median(&up),
            download_mib_s: median(&down),
            raw_copy_mib_s: median(&raw),
            peak_rss_upload_mib,
            peak_rss_download_mib,
        });
    }
    Ok(FileReport {
        idle_rss_mib,
        sizes,
        hwm_mib: rss_mib("VmHWM"),
    })
}

/// The same bytes over a loopback TCP connection, written in one go and read in 512 KiB
/// chunks (the server's chunk size) into nothing: the ceiling for a transfer on this
/// machine.
pub async fn raw_copy(data: &Bytes) -> Result<Duration, String> {
    let io = |e: std::io::Error| format!("raw loopback copy: {e}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(io)?;
    let addr = listener.local_addr().map_err(io)?;
    let reader = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let mut buf = vec![0u8; 512 * 1024];
        let mut total = 0usize;
        loop {
            match socket.read(&mut buf).await? {
                0 => return Ok::<usize, std::io::Error>(total),
                n => total += n,
            }
        }
    });
    let started = Instant::now();
    let mut socket = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
    socket.write_all(data).await.map_err(io)?;
    socket.shutdown().await.map_err(io)?;
    let total = reader.await.map_err(|e| e.to_string())?.map_err(io)?;
    let took = started.elapsed();
    if total != data.len() {
        return Err(format!(
            "raw loopback copy: {total} bytes of {}",
            data.len()
        ));
    }
    Ok(took)
}
