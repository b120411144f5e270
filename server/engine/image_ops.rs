//! What can be done to images: pull, build, load (streams reported through [`Progress`]),
//! export, tag, remove, prune with a preview, and the list's filters.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    BuildImageOptions, CreateImageOptions, ImportImageOptions, PruneImagesOptions,
    RemoveImageOptions, TagImageOptions,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::images::ImageRow;
use super::progress::{Msg, Progress};
use super::prune::{self, LabelFilter, PruneItem, PruneOutcome, PrunePreview};
use super::{Mirror, layers, tar};
use crate::error::{Error, Result};

/// `dangling`, `unused`, or anything else for every image.
pub fn filter_rows(rows: Vec<ImageRow>, filter: &str) -> Vec<ImageRow> {
    match filter {
        "dangling" => rows.into_iter().filter(|r| r.image.dangling()).collect(),
        "unused" => rows.into_iter().filter(|r| r.containers == 0).collect(),
        _ => rows,
    }
}

/// Feeds an engine stream into `tx` until it ends; an error (in the stream or as an answer)
/// ends the job with the engine's words.
async fn drive<S, T>(m: &Mirror, stream: S, tx: &watch::Sender<Progress>) -> Result<()>
where
    S: Stream<Item = std::result::Result<T, bollard::errors::Error>>,
    T: Into<Msg>,
{
    let mut stream = std::pin::pin!(stream);
    let mut failure: Option<Error> = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                let msg: Msg = info.into();
                let err = msg.error.clone();
                tx.send_modify(|p| p.apply(msg));
                if let Some(e) = err {
                    failure = Some(Error::EngineRefused {
                        status: 500,
                        message: e.trim().to_string(),
                    });
                }
            }
            Err(bollard::errors::Error::DockerStreamError { error }) => {
                tx.send_modify(|p| p.error = Some(error.trim().to_string()));
                failure = Some(Error::EngineRefused {
                    status: 500,
                    message: error.trim().to_string(),
                });
                break;
            }
            Err(e) => {
                let e = m.err(e);
                tx.send_modify(|p| p.error = Some(e.public_message()));
                failure = Some(e);
                break;
            }
        }
    }
    tx.send_modify(|p| p.done = true);
    let _ = m.refresh_images().await;
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize, Default, Clone, utoipa::ToSchema)]
pub struct PullSpec {
    #[serde(default)]
    pub reference: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub server: String,
}

/// `name` → (`name`, `latest`); `name:tag`, `host:5000/name:tag`, `name@sha256:…` as given.
pub fn split_reference(r: &str) -> Result<(String, Option<String>)> {
    let r = r.trim();
    if r.is_empty() {
        return Err(Error::invalid(
            "reference",
            "Name the image to pull, e.g. nginx:1.27.",
        ));
    }
    if r.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(
            "reference",
            format!("`{r}` is not an image reference."),
        ));
    }
    if r.contains('@') {
        return Ok((r.to_string(), None));
    }
    let last = r.rsplit('/').next().unwrap_or(r);
    match last.rsplit_once(':') {
        Some((_, tag)) if !tag.is_empty() => {
            let repo = &r[..r.len() - tag.len() - 1];
            Ok((repo.to_string(), Some(tag.to_string())))
        }
        _ => Ok((r.to_string(), Some("latest".to_string()))),
    }
}

pub async fn pull(m: &Mirror, spec: &PullSpec, tx: &watch::Sender<Progress>) -> Result<()> {
    let (repo, tag) = split_reference(&spec.reference)?;
    let creds = (!spec.username.trim().is_empty()).then(|| DockerCredentials {
        username: Some(spec.username.trim().to_string()),
        password: Some(spec.password.clone()),
        serveraddress: (!spec.server.trim().is_empty()).then(|| spec.server.trim().to_string()),
        ..Default::default()
    });
    let d = m.docker()?;
    let stream = d.create_image(
        Some(CreateImageOptions {
            from_image: Some(repo),
            tag,
            ..Default::default()
        }),
        None,
        creds,
    );
    drive(m, stream, tx).await
}

#[derive(Debug, Default, Clone)]
pub struct BuildSpec {
    pub tags: Vec<String>,
    pub nocache: bool,
    pub buildargs: HashMap<String, String>,
    /// The Dockerfile's path in the context.
    pub dockerfile: String,
}

/// Whether the bytes are a tar (or a compressed one the engine unpacks) rather than a lone
/// Dockerfile.
pub fn is_archive(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
        || b.starts_with(b"BZh")
        || b.starts_with(&[0xfd, b'7', b'z', b'X', b'Z'])
        || (b.len() >= 262 && &b[257..262] == b"ustar")
}

/// Builds an image (classic builder) from a tar context or a lone Dockerfile; returns its id.
pub async fn build(
    m: &Mirror,
    spec: &BuildSpec,
    context: Bytes,
    tx: &watch::Sender<Progress>,
) -> Result<String> {
    if context.is_empty() {
        return Err(Error::invalid(
            "context",
            "Give a Dockerfile or a tar build context.",
        ));
    }
    for t in &spec.tags {
        split_reference(t)
            .map_err(|_| Error::invalid("tags", format!("`{t}` is not an image tag.")))?;
    }
    let dockerfile = if spec.dockerfile.trim().is_empty() {
        "Dockerfile".to_string()
    } else {
        spec.dockerfile.trim().to_string()
    };
    let context = if is_archive(&context) {
        context
    } else {
        tar::archive(&[(dockerfile.as_str(), &context)])
    };
    let d = m.docker()?;
    let stream = d.build_image(
        BuildImageOptions {
            dockerfile,
            t: spec.tags.first().cloned(),
            nocache: spec.nocache,
            rm: true,
            forcerm: true,
            buildargs: (!spec.buildargs.is_empty()).then(|| spec.buildargs.clone()),
            ..Default::default()
        },
        None,
        Some(bollard::body_full(context)),
    );
    drive(m, stream, tx)
        .await
        .map_err(|e| refused_input(e, "context", "The build failed"))?;
    let p = tx.borrow().clone();
    let id = p
        .images
        .last()
        .cloned()
        .or_else(|| {
            p.log.iter().rev().find_map(|l| {
                l.strip_prefix("Successfully built ")
                    .map(|s| s.trim().to_string())
            })
        })
        .ok_or_else(|| Error::internal("the build ended without naming its image"))?;
    for t in spec.tags.iter().skip(1) {
        tag(m, &id, t).await?;
    }
    let full = d
        .inspect_image(&id)
        .await
        .ok()
        .and_then(|i| i.id)
        .unwrap_or(id);
    tx.send_modify(|p| {
        if !p.images.contains(&full) {
            p.images.push(full.clone());
        }
    });
    let _ = m.refresh_images().await;
    Ok(full)
}

/// Loads images from a `docker save` tar, streamed; more than `limit` bytes is a 413.
pub async fn load<S, E>(
    m: &Mirror,
    body: S,
    limit: u64,
    tx: &watch::Sender<Progress>,
) -> Result<Vec<String>>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let over = Arc::new(AtomicBool::new(false));
    let flag = over.clone();
    let mut seen: u64 = 0;
    let counted = body.map(move |r| match r {
        Ok(b) => {
            seen += b.len() as u64;
            if seen > limit {
                flag.store(true, Ordering::Relaxed);
                Err(std::io::Error::other("upload over the limit"))
            } else {
                Ok(b)
            }
        }
        Err(e) => Err(std::io::Error::other(e.to_string())),
    });
    let d = m.docker()?;
    let stream = d.import_image_stream(
        ImportImageOptions {
            quiet: false,
            ..Default::default()
        },
        counted,
        None,
    );
    let r = drive(m, stream, tx).await;
    if over.load(Ordering::Relaxed) {
        let e = Error::TooLarge(format!(
            "The upload is larger than the limit of {}.",
            crate::fmt::size(limit as i64)
        ));
        tx.send_modify(|p| p.error = Some(e.to_string()));
        return Err(e);
    }
    r.map_err(|e| refused_input(e, "body", "The engine could not load this archive"))?;
    let images = tx.borrow().images.clone();
    if images.is_empty() {
        return Err(Error::invalid(
            "body",
            "The tar held no image (is it a `docker save` archive?).",
        ));
    }
    Ok(images)
}

/// The engine answers 500 to input it cannot use (an archive that is empty, truncated or not
/// a `docker save` tar; a Dockerfile that does not parse or a step that fails): that is the
/// upload's fault, so it is a 422 on `field` with the engine's words. A full disk stays the
/// engine's.
fn refused_input(e: Error, field: &'static str, what: &str) -> Error {
    match e {
        Error::EngineRefused {
            status: 500,
            message,
        } if !message.contains("no space left") => {
            Error::invalid(field, format!("{what}: {message}"))
        }
        other => other,
    }
}

/// The images named (id, short id or tag), checked against the mirror before any byte is sent.
pub fn resolve_names(m: &Mirror, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Err(Error::invalid(
            "ids",
            "Choose at least one image to export.",
        ));
    }
    m.read(|s| {
        names
            .iter()
            .map(|n| {
                let n = n.trim();
                let found = s.images.values().find(|i| {
                    i.id == n
                        || i.id.trim_start_matches("sha256:") == n
                        || (n.len() >= 4 && i.id.trim_start_matches("sha256:").starts_with(n))
                        || i.tags.iter().any(|t| t == n)
                });
                match found {
                    // A tag keeps its name in the archive; an id exports the image untagged
                    // unless it has tags, which go along.
                    Some(i) if i.tags.iter().any(|t| t == n) => Ok(n.to_string()),
                    Some(i) if !i.tags.is_empty() => Ok(i.tags[0].clone()),
                    Some(i) => Ok(i.id.clone()),
                    None => Err(Error::NotFound(format!("No image `{n}` on this engine."))),
                }
            })
            .collect()
    })
}

/// `docker save` of the images, as a stream.
pub fn export(
    m: &Mirror,
    names: &[String],
) -> Result<impl Stream<Item = std::io::Result<Bytes>> + use<>> {
    let d = m.docker()?.clone();
    let names: Vec<String> = names.to_vec();
    Ok(async_stream::stream! {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let inner = d.export_images(&refs);
        let mut inner = std::pin::pin!(inner);
        while let Some(chunk) = inner.next().await {
            match chunk {
                Ok(b) => yield Ok(b),
                Err(e) => {
                    yield Err(std::io::Error::other(e.to_string()));
                    break;
                }
            }
        }
    })
}

/// Pushes `image` (an id or reference) as `target` (`host/repo:tag`): tags it so first when it
/// is not already called that, then streams the push into `tx`.
pub async fn push(
    m: &Mirror,
    image: &str,
    target: &str,
    creds: Option<DockerCredentials>,
    tx: &watch::Sender<Progress>,
) -> Result<()> {
    let (repo, want_tag) = split_reference(target).map_err(|_| {
        Error::invalid(
            "target",
            format!("`{}` is not an image reference.", target.trim()),
        )
    })?;
    let Some(push_tag) = want_tag.filter(|_| !repo.contains('@')) else {
        return Err(Error::invalid("target", "Push to a tag, not a digest."));
    };
    let d = m.docker()?;
    let named = d.inspect_image(target.trim()).await.ok().and_then(|i| i.id);
    let source = d
        .inspect_image(image.trim())
        .await
        .map_err(|e| not_found(m, image.trim(), e))?
        .id;
    if named.is_none() || named != source {
        tag(m, image.trim(), target).await?;
    }
    let opts = bollard::query_parameters::PushImageOptionsBuilder::new()
        .tag(&push_tag)
        .build();
    let stream = d.push_image(&repo, Some(opts), creds);
    drive(m, stream, tx).await
}

/// Adds `reference` (repo[:tag]) to an image.
pub async fn tag(m: &Mirror, id: &str, reference: &str) -> Result<()> {
    let (repo, tag) = split_reference(reference).map_err(|_| {
        Error::invalid(
            "reference",
            format!("`{}` is not an image tag.", reference.trim()),
        )
    })?;
    if repo.contains('@') {
        return Err(Error::invalid("reference", "A tag cannot carry a digest."));
    }
    m.docker()?
        .tag_image(
            id,
            Some(TagImageOptions {
                repo: Some(repo),
                tag,
            }),
        )
        .await
        .map_err(|e| not_found(m, id, e))?;
    let _ = m.refresh_images().await;
    Ok(())
}

fn not_found(m: &Mirror, id: &str, e: bollard::errors::Error) -> Error {
    match m.err(e) {
        Error::EngineRefused { status: 404, .. } => {
            Error::NotFound(format!("No image `{id}` on this engine."))
        }
        other => other,
    }
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveOpts {
    #[serde(default, deserialize_with = "super::network_spec::flag")]
    pub force: bool,
    #[serde(default, deserialize_with = "super::network_spec::flag")]
    pub noprune: bool,
}

#[derive(Debug, Serialize, Default, utoipa::ToSchema)]
pub struct Removed {
    pub untagged: Vec<String>,
    pub deleted: Vec<String>,
}

pub async fn remove(m: &Mirror, id: &str, opts: &RemoveOpts) -> Result<Removed> {
    let items = m
        .docker()?
        .remove_image(
            id,
            Some(RemoveImageOptions {
                force: opts.force,
                noprune: opts.noprune,
                ..Default::default()
            }),
            None,
        )
        .await
        .map_err(|e| not_found(m, id, e))?;
    let _ = m.refresh_images().await;
    let mut out = Removed::default();
    for i in items {
        out.untagged.extend(i.untagged);
        out.deleted.extend(i.deleted);
    }
    Ok(out)
}

/// Images prune would remove: no container (in any state) uses them; dangling ones only unless
/// `all`; with the label. The bytes are those of layers no remaining image holds.
pub async fn prune_preview(m: &Mirror, all: bool, label: Option<&LabelFilter>) -> PrunePreview {
    let picked: Vec<(String, String, i64)> = m.read(|s| {
        let used: HashSet<&str> = s.containers.values().map(|c| c.image_id.as_str()).collect();
        let mut v: Vec<_> = s
            .images
            .values()
            .filter(|i| !used.contains(i.id.as_str()))
            .filter(|i| all || i.dangling())
            .filter(|i| label.is_none_or(|l| l.matches(&i.labels)))
            .map(|i| (i.id.clone(), i.display_name(), i.size))
            .collect();
        v.sort_by(|a, b| a.1.cmp(&b.1));
        v
    });
    let map = layers::map(m).await.ok();
    let items: Vec<PruneItem> = picked
        .iter()
        .map(|(id, name, _)| PruneItem {
            id: id.clone(),
            name: name.clone(),
            size: map.as_ref().and_then(|mp| {
                mp.images
                    .iter()
                    .find(|i| &i.id == id)
                    .map(|i| i.unique_size)
            }),
        })
        .collect();
    let ids: HashSet<&str> = picked.iter().map(|(id, _, _)| id.as_str()).collect();
    PrunePreview {
        bytes: map.map(|mp| mp.freed_by(&ids)),
        items,
        label: label.map(LabelFilter::as_text),
    }
}

pub async fn prune(m: &Mirror, all: bool, label: Option<&LabelFilter>) -> Result<PruneOutcome> {
    let mut filters = prune::filters(label).unwrap_or_default();
    filters.insert(
        "dangling".into(),
        vec![if all { "false" } else { "true" }.into()],
    );
    let r = m
        .docker()?
        .prune_images(Some(PruneImagesOptions {
            filters: Some(filters),
        }))
        .await
        .map_err(|e| m.err(e))?;
    let _ = m.refresh_images().await;
    Ok(PruneOutcome {
        removed: r
            .images_deleted
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| i.deleted)
            .collect(),
        bytes: r.space_reclaimed.unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        assert_eq!(
            split_reference("nginx").unwrap(),
            ("nginx".into(), Some("latest".into()))
        );
        assert_eq!(
            split_reference("nginx:1.27").unwrap(),
            ("nginx".into(), Some("1.27".into()))
        );
        assert_eq!(
            split_reference("reg.local:5000/team/app").unwrap(),
            ("reg.local:5000/team/app".into(), Some("latest".into()))
        );
        assert_eq!(
            split_reference("reg.local:5000/team/app:v2").unwrap(),
            ("reg.local:5000/team/app".into(), Some("v2".into()))
        );
        assert_eq!(
            split_reference("a@sha256:00").unwrap(),
            ("a@sha256:00".into(), None)
        );
        assert!(split_reference("  ").is_err());
        assert!(split_reference("a b").is_err());
    }

    #[test]
    fn archives_and_dockerfiles() {
        assert!(!is_archive(b"FROM busybox\n"));
        assert!(is_archive(&tar::archive(&[("Dockerfile", b"FROM x")])));
        assert!(is_archive(&[0x1f, 0x8b, 8, 0]));
    }
}
