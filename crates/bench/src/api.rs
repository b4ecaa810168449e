//! A small client of the server's JSON API, for the checks and the file benchmark.

use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

pub struct Api {
    pub client: reqwest::Client,
    base: String,
    authorization: String,
}

impl Api {
    pub fn new(base_url: &str, token: &str) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: format!("{}/api/v1", base_url.trim_end_matches('/')),
            authorization: format!("Bearer {token}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the request with the token; a 2xx answer's JSON, else an error with its body.
    pub async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value, String> {
        let response = request
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|e| format!("not JSON ({e}): {body}"))
    }

    /// `GET` of an API path: the status and the body's JSON (`Null` when it is not JSON).
    pub async fn get(&self, path: &str) -> Result<(StatusCode, Value), String> {
        let response = self
            .client
            .get(self.url(path))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("GET {path}: {e}"))?;
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }

    /// Streams a file's content; returns its length (hashing it when asked).
    pub async fn download(
        &self,
        node: &str,
        mut hasher: Option<&mut Sha256>,
    ) -> Result<usize, String> {
        let mut response = self
            .client
            .get(self.url(&format!("/documents/{node}/content")))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("download of {node}: {}", response.status()));
        }
        let mut total = 0;
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            total += chunk.len();
            if let Some(h) = hasher.as_deref_mut() {
                h.update(&chunk);
            }
        }
        Ok(total)
    }
}
