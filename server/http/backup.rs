//! The HTTP side of backups, shared by the pages and the API: the archive as a download, and
//! the restore form (multipart `file` + `passphrase`) spooled to a temporary file.

use axum::body::Body;
use axum::extract::Multipart;
use axum::response::Response;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::attachment::{OCTETS, attachment};
use crate::AppState;
use crate::error::{Error, Result};
use crate::ops::backup::{self, TempFile};

/// The archive as an `application/octet-stream` download; the file goes when the body ends.
pub async fn download(file: TempFile, name: &str) -> Result<Response> {
    let f = tokio::fs::File::open(&file.0)
        .await
        .map_err(|e| Error::internal(format!("reading the backup: {e}")))?;
    let len = f.metadata().await.ok().map(|m| m.len());
    let stream = tokio_util::io::ReaderStream::new(f).map(move |chunk| {
        let _keep = &file;
        chunk
    });
    Ok(attachment(Body::from_stream(stream), OCTETS, name, len))
}

/// A restore form as received: the uploaded file (spooled into the data folder, at most
/// `--restore-limit` bytes) and the passphrase.
pub struct RestoreForm {
    pub file: TempFile,
    pub passphrase: String,
}

pub async fn restore_form(state: &AppState, mut form: Multipart) -> Result<RestoreForm> {
    let limit = state.config.restore_limit;
    let bad = |e: axum::extract::multipart::MultipartError| {
        Error::invalid(
            "file",
            format!("The upload did not read: {}", e.body_text()),
        )
    };
    let mut file: Option<TempFile> = None;
    let mut passphrase = None;
    while let Some(mut field) = form.next_field().await.map_err(bad)? {
        match field.name() {
            Some("file") => {
                let spool = TempFile(backup::temp_path(&state.config.data, "restore-upload"));
                let mut out = tokio::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&spool.0)
                    .await
                    .map_err(|e| Error::internal(format!("spooling the upload: {e}")))?;
                let mut n: u64 = 0;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    n += chunk.len() as u64;
                    if n > limit {
                        return Err(Error::TooLarge(format!(
                            "The backup is larger than the limit of {} (--restore-limit).",
                            crate::fmt::size(limit as i64)
                        )));
                    }
                    out.write_all(&chunk)
                        .await
                        .map_err(|e| Error::internal(format!("spooling the upload: {e}")))?;
                }
                out.flush()
                    .await
                    .map_err(|e| Error::internal(format!("spooling the upload: {e}")))?;
                if n == 0 {
                    return Err(Error::invalid("file", "Choose the backup file to restore."));
                }
                file = Some(spool);
            }
            Some("passphrase") => {
                let t = field.text().await.map_err(bad)?;
                if t.len() > 4 * backup::MAX_PASSPHRASE {
                    return Err(Error::invalid("passphrase", "The passphrase is too long."));
                }
                passphrase = Some(t);
            }
            _ => {}
        }
    }
    let file = file.ok_or_else(|| Error::invalid("file", "Choose the backup file to restore."))?;
    let passphrase = passphrase
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::invalid("passphrase", "Give the backup's passphrase."))?;
    Ok(RestoreForm { file, passphrase })
}
