//! The autoscaler's principal for the master's operator endpoints (`--credential`,
//! `MESOS_SCALE_CREDENTIAL`): an `s3://bucket/key` object the masters create on the cluster's
//! first boot (`<shared-config>.mesos-scale`, readable by the autoscaler's role) or a file, one
//! `principal secret` line per principal, the first the current one. Read at every evaluation,
//! so a rotation reaches a warm Lambda. The secret never reaches a log line.

use base64::Engine;

/// `Basic base64(principal:secret)` and the principal, from the object's first line.
#[derive(Clone)]
pub struct Basic {
    pub principal: String,
    header: String,
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Basic({}, ..)", self.principal)
    }
}

impl Basic {
    /// The `Authorization` header's value.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Parses the object's text; errors name `source` and never hold the secret.
    pub fn parse(text: &str, source: &str) -> Result<Basic, String> {
        let line = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| format!("{source}: empty (expected `principal secret`)"))?;
        let (principal, secret) = line
            .split_once(' ')
            .filter(|(p, s)| !p.is_empty() && s.len() >= 16 && !s.contains(char::is_whitespace))
            .ok_or_else(|| format!("{source} line 1: expected `principal secret`"))?;
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{principal}:{secret}"))
        );
        Ok(Basic {
            principal: principal.to_string(),
            header,
        })
    }
}

/// Reads `source` (`s3://bucket/key` with `sdk`, or a file path).
pub async fn load(source: &str, sdk: &aws_config::SdkConfig) -> Result<Basic, String> {
    let text = match source.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, key) = rest
                .split_once('/')
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
                .ok_or_else(|| {
                    format!(
                        "--credential / MESOS_SCALE_CREDENTIAL = {source:?}: want s3://bucket/key"
                    )
                })?;
            let path_style =
                sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
            let conf = aws_sdk_s3::config::Builder::from(sdk)
                .force_path_style(path_style)
                .build();
            let out = aws_sdk_s3::Client::from_conf(conf)
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| format!("{source}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))?;
            let bytes = out
                .body
                .collect()
                .await
                .map_err(|e| format!("{source}: {e}"))?
                .into_bytes();
            String::from_utf8(bytes.to_vec()).map_err(|_| format!("{source}: not UTF-8"))?
        }
        None => std::fs::read_to_string(source).map_err(|e| format!("{source}: {e}"))?,
    };
    Basic::parse(&text, source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_line_is_used_and_errors_hide_the_secret() {
        let b = Basic::parse(
            "mesos-scale-2 0123456789abcdef0123\nmesos-scale fedcba9876543210fedc\n",
            "f",
        )
        .unwrap();
        assert_eq!(b.principal, "mesos-scale-2");
        let want =
            base64::engine::general_purpose::STANDARD.encode("mesos-scale-2:0123456789abcdef0123");
        assert_eq!(b.header(), format!("Basic {want}"));
        assert!(!format!("{b:?}").contains("0123"));
        let e = Basic::parse("mesos-scale short\n", "s3://b/k.mesos-scale").unwrap_err();
        assert!(
            e.contains("s3://b/k.mesos-scale") && !e.contains("short"),
            "{e}"
        );
    }
}
