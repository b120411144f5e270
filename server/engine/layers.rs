//! The layer sharing map: which layers every image is made of, which images share them, and
//! what each image holds alone.
//!
//! A layer is named by its diff id (image inspect `RootFS.Layers`), but the same diff id at a
//! different depth is another layer in the engine's store: layers are keyed by their chain id
//! (the OCI digest of the diff ids below and including it), the way the engine counts
//! `SharedSize`. Sizes and instructions come from the image history: its entries that made a
//! layer, oldest first, pair with the diff ids.
//!
//! Inspect and history of an image never change (the id is a digest of them), so they are kept
//! per image id; the whole map is kept for the mirror's current image set, so that a page view
//! costs no engine call once it is computed, and the next one after images change asks only
//! about the new images.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use bollard::models::ImageHistoryResponseItem;
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::Mirror;
use crate::error::{Error, Result};

/// One layer of the store, as images reference it.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Layer {
    /// The diff id (digest of the layer's uncompressed tar).
    pub id: String,
    /// The chain id: the layer together with the ones below it; unique per stored layer.
    pub chain_id: String,
    /// Depth from the bottom (0 = base layer).
    pub position: usize,
    pub size: i64,
    /// Ids of the images that contain it.
    pub images: Vec<String>,
    /// The instruction that made it (history `CreatedBy`).
    pub created_by: String,
    pub created: i64,
}

impl Layer {
    pub fn shared(&self) -> bool {
        self.images.len() > 1
    }

    pub fn short_id(&self) -> String {
        super::views::short_id(&self.id)
    }

    /// A colour for the picture: the same layer has the same colour in every image.
    pub fn hue(&self) -> u32 {
        let h = self
            .chain_id
            .trim_start_matches("sha256:")
            .get(..6)
            .and_then(|s| u32::from_str_radix(s, 16).ok())
            .unwrap_or(0);
        h % 360
    }
}

/// One image: its layers bottom-up and how many of its bytes it holds alone.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ImageLayers {
    pub id: String,
    pub short_id: String,
    pub tags: Vec<String>,
    pub size: i64,
    /// Bytes in layers no other image contains.
    pub unique_size: i64,
    /// Bytes in layers at least one other image contains.
    pub shared_size: i64,
    /// Chain ids, bottom first.
    pub layers: Vec<String>,
    /// True when the history could not be paired with the layers one to one (sizes and
    /// instructions are then best effort).
    pub approximate: bool,
}

impl ImageLayers {
    pub fn display_name(&self) -> String {
        self.tags
            .first()
            .cloned()
            .unwrap_or_else(|| format!("<none> ({})", self.short_id))
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, utoipa::ToSchema)]
pub struct LayerMap {
    /// Every layer, bottom layers first, then by the images that contain them.
    pub layers: Vec<Layer>,
    /// Images ordered so that those sharing a base stand side by side.
    pub images: Vec<ImageLayers>,
    /// Bytes of all layers, each counted once: what the images take on disk.
    pub total_size: i64,
    /// Bytes in layers that two or more images share.
    pub shared_bytes: i64,
}

impl LayerMap {
    pub fn layer(&self, chain_id: &str) -> Option<&Layer> {
        self.layers.iter().find(|l| l.chain_id == chain_id)
    }

    /// Bytes that removing all of `ids` frees: layers no other image holds.
    pub fn freed_by(&self, ids: &HashSet<&str>) -> i64 {
        self.layers
            .iter()
            .filter(|l| !l.images.is_empty() && l.images.iter().all(|i| ids.contains(i.as_str())))
            .map(|l| l.size)
            .sum()
    }

    /// The largest image, to scale the picture.
    pub fn max_image_size(&self) -> i64 {
        self.images.iter().map(|i| i.size).max().unwrap_or(0).max(1)
    }
}

/// What one image is made of: one entry per diff id, bottom first.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub diff_id: String,
    pub size: i64,
    pub created_by: String,
    pub created: i64,
}

#[derive(Debug, Clone)]
struct ImageRaw {
    layers: Vec<LayerInfo>,
    approximate: bool,
}

/// Chain ids of a stack of diff ids, bottom first (OCI image spec).
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => {
                let digest = Sha256::digest(format!("{prev} {d}").as_bytes());
                format!("sha256:{}", hex::encode(digest))
            }
        };
        out.push(next);
    }
    out
}

/// Whether a history entry made a layer. The API's history has no `empty_layer` flag: an entry
/// with bytes did; a metadata instruction (`#(nop)` other than ADD/COPY) did not; anything else
/// (RUN, commit, import) did.
fn makes_layer(h: &ImageHistoryResponseItem) -> bool {
    if h.size > 0 {
        return true;
    }
    let c = h.created_by.as_str();
    match c.find("#(nop)") {
        Some(i) => {
            let rest = c[i + 6..].trim_start();
            rest.starts_with("ADD") || rest.starts_with("COPY")
        }
        None => {
            !c.starts_with("LABEL ")
                && !c.starts_with("ENV ")
                && !c.starts_with("CMD ")
                && !c.starts_with("ENTRYPOINT ")
                && !c.starts_with("EXPOSE ")
                && !c.starts_with("WORKDIR ")
                && !c.starts_with("USER ")
                && !c.starts_with("ARG ")
                && !c.starts_with("VOLUME ")
                && !c.starts_with("STOPSIGNAL ")
                && !c.starts_with("HEALTHCHECK ")
                && !c.starts_with("SHELL ")
                && !c.starts_with("ONBUILD ")
                && !c.starts_with("MAINTAINER ")
        }
    }
}

/// Pairs diff ids (bottom first) with the history entries (newest first, as the engine gives
/// them) that made layers. Returns the layers and whether the pairing was exact.
pub fn pair_history(
    diff_ids: &[String],
    history: &[ImageHistoryResponseItem],
) -> (Vec<LayerInfo>, bool) {
    let oldest_first: Vec<&ImageHistoryResponseItem> = history.iter().rev().collect();
    let mut made: Vec<&ImageHistoryResponseItem> = oldest_first
        .iter()
        .copied()
        .filter(|h| makes_layer(h))
        .collect();
    let mut exact = made.len() == diff_ids.len();
    if !exact {
        let sized: Vec<_> = oldest_first
            .iter()
            .copied()
            .filter(|h| h.size > 0)
            .collect();
        if sized.len() == diff_ids.len() {
            made = sized;
            exact = true;
        }
    }
    if !exact && made.len() > diff_ids.len() {
        // Keep the newest ones: the bottom of a history is the most likely to be squashed.
        made = made.split_off(made.len() - diff_ids.len());
    }
    let offset = diff_ids.len().saturating_sub(made.len());
    let layers = diff_ids
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = i.checked_sub(offset).and_then(|j| made.get(j));
            LayerInfo {
                diff_id: d.clone(),
                size: h.map(|h| h.size).unwrap_or(0),
                created_by: h.map(|h| h.created_by.clone()).unwrap_or_default(),
                created: h.map(|h| h.created).unwrap_or(0),
            }
        })
        .collect();
    (layers, exact)
}

/// An image as the map needs it: id, tags and its layers.
pub struct ImageInput {
    pub id: String,
    pub tags: Vec<String>,
    pub layers: Vec<LayerInfo>,
    pub approximate: bool,
}

/// Builds the map from every image's layers. Pure: the tests feed it fixtures.
pub fn build(images: Vec<ImageInput>) -> LayerMap {
    let mut layers: BTreeMap<String, Layer> = BTreeMap::new();
    let mut views = Vec::with_capacity(images.len());
    for img in &images {
        let diff_ids: Vec<String> = img.layers.iter().map(|l| l.diff_id.clone()).collect();
        let chains = chain_ids(&diff_ids);
        for (pos, (info, chain)) in img.layers.iter().zip(&chains).enumerate() {
            let entry = layers.entry(chain.clone()).or_insert_with(|| Layer {
                id: info.diff_id.clone(),
                chain_id: chain.clone(),
                position: pos,
                size: info.size,
                images: Vec::new(),
                created_by: info.created_by.clone(),
                created: info.created,
            });
            if !entry.images.contains(&img.id) {
                entry.images.push(img.id.clone());
            }
            // Prefer an exact pairing's figures when images disagree.
            if entry.created_by.is_empty() && !info.created_by.is_empty() {
                entry.created_by = info.created_by.clone();
            }
        }
        views.push((img, chains));
    }
    let mut out_images: Vec<ImageLayers> = views
        .into_iter()
        .map(|(img, chains)| {
            let (mut unique, mut shared, mut size) = (0, 0, 0);
            for c in &chains {
                if let Some(l) = layers.get(c) {
                    size += l.size;
                    if l.shared() {
                        shared += l.size;
                    } else {
                        unique += l.size;
                    }
                }
            }
            ImageLayers {
                short_id: super::views::short_id(&img.id),
                id: img.id.clone(),
                tags: img.tags.clone(),
                size,
                unique_size: unique,
                shared_size: shared,
                layers: chains,
                approximate: img.approximate,
            }
        })
        .collect();
    // Side by side when they share a base: order by the chain ids bottom-up.
    out_images.sort_by(|a, b| a.layers.cmp(&b.layers).then(a.id.cmp(&b.id)));
    let order: HashMap<&str, usize> = out_images
        .iter()
        .enumerate()
        .map(|(i, img)| (img.id.as_str(), i))
        .collect();
    let mut layers: Vec<Layer> = layers.into_values().collect();
    for l in &mut layers {
        l.images.sort_by_key(|i| order.get(i.as_str()).copied());
    }
    layers.sort_by_key(|l| {
        (
            l.position,
            l.images
                .first()
                .and_then(|i| order.get(i.as_str()).copied()),
        )
    });
    let total_size = layers.iter().map(|l| l.size).sum();
    let shared_bytes = layers.iter().filter(|l| l.shared()).map(|l| l.size).sum();
    LayerMap {
        layers,
        images: out_images,
        total_size,
        shared_bytes,
    }
}

type Key = Vec<(String, Vec<String>)>;

/// The map for the mirror's current image set, and every image's layers seen so far.
#[derive(Default)]
pub struct LayerCache {
    slot: Mutex<Option<(Key, Arc<LayerMap>)>>,
    per_image: std::sync::Mutex<HashMap<String, Arc<ImageRaw>>>,
}

impl LayerCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The map if it is computed for the current image set (never asks the engine).
    pub fn current(&self, m: &Mirror) -> Option<Arc<LayerMap>> {
        let key = key_of(m);
        let slot = self.slot.try_lock().ok()?;
        slot.as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, map)| map.clone())
    }
}

fn key_of(m: &Mirror) -> Key {
    m.read(|s| {
        s.images
            .values()
            .map(|i| (i.id.clone(), i.tags.clone()))
            .collect()
    })
}

/// The layer map of the mirror's images: from the cache when the image set is unchanged,
/// otherwise computed, asking the engine only about images not seen before.
pub async fn map(m: &Mirror) -> Result<Arc<LayerMap>> {
    let cache = &m.layers;
    let key = key_of(m);
    let mut slot = cache.slot.lock().await;
    if let Some((k, map)) = slot.as_ref()
        && *k == key
    {
        return Ok(map.clone());
    }
    let missing: Vec<String> = {
        let known = cache.per_image.lock().unwrap_or_else(|p| p.into_inner());
        key.iter()
            .filter(|(id, _)| !known.contains_key(id))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let fetched: Vec<Result<Option<(String, ImageRaw)>>> = futures_util::stream::iter(missing)
        .map(|id| async move { fetch(m, &id).await.map(|r| r.map(|raw| (id, raw))) })
        .buffer_unordered(4)
        .collect()
        .await;
    let mut known = cache.per_image.lock().unwrap_or_else(|p| p.into_inner());
    for f in fetched {
        if let Some((id, raw)) = f? {
            known.insert(id, Arc::new(raw));
        }
    }
    // Forget images that are gone.
    let ids: HashSet<&str> = key.iter().map(|(id, _)| id.as_str()).collect();
    known.retain(|id, _| ids.contains(id.as_str()));
    let inputs = key
        .iter()
        .filter_map(|(id, tags)| {
            known.get(id).map(|raw| ImageInput {
                id: id.clone(),
                tags: tags.clone(),
                layers: raw.layers.clone(),
                approximate: raw.approximate,
            })
        })
        .collect();
    drop(known);
    let map = Arc::new(build(inputs));
    *slot = Some((key, map.clone()));
    Ok(map)
}

/// Inspect and history of one image; None when it vanished meanwhile.
async fn fetch(m: &Mirror, id: &str) -> Result<Option<ImageRaw>> {
    let d = m.docker()?;
    let (inspect, history) = match tokio::try_join!(d.inspect_image(id), d.image_history(id)) {
        Ok(x) => x,
        Err(e) => {
            return match m.err(e) {
                Error::EngineRefused { status: 404, .. } => Ok(None),
                other => Err(other),
            };
        }
    };
    let diff_ids = inspect.root_fs.and_then(|r| r.layers).unwrap_or_default();
    let (layers, exact) = pair_history(&diff_ids, &history);
    Ok(Some(ImageRaw {
        layers,
        approximate: !exact,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(created_by: &str, size: i64) -> ImageHistoryResponseItem {
        ImageHistoryResponseItem {
            id: "<missing>".into(),
            created: 0,
            created_by: created_by.into(),
            tags: vec![],
            size,
            comment: String::new(),
        }
    }

    fn d(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let ids = chain_ids(&[d(1), d(2)]);
        assert_eq!(ids[0], d(1));
        let want = hex::encode(Sha256::digest(format!("{} {}", d(1), d(2))));
        assert_eq!(ids[1], format!("sha256:{want}"));
    }

    #[test]
    fn history_pairs_with_layer_making_entries() {
        // Newest first, as the engine answers.
        let history = vec![
            h("/bin/sh -c #(nop)  CMD [\"sh\"]", 0),
            h("/bin/sh -c touch /empty", 0),
            h("/bin/sh -c #(nop)  LABEL a=b", 0),
            h("/bin/sh -c #(nop) COPY file:abc in / ", 120),
            h("", 5000),
        ];
        let (layers, exact) = pair_history(&[d(1), d(2), d(3)], &history);
        assert!(exact);
        assert_eq!(layers[0].size, 5000);
        assert_eq!(layers[1].size, 120);
        assert!(layers[1].created_by.contains("COPY"));
        assert_eq!(layers[2].size, 0);
        assert!(layers[2].created_by.contains("touch"));
    }

    #[test]
    fn unpairable_history_is_marked_approximate() {
        let history = vec![h("a", 10)];
        let (layers, exact) = pair_history(&[d(1), d(2)], &history);
        assert!(!exact);
        assert_eq!(layers.len(), 2);
        assert_eq!(layers[1].size, 10);
        assert_eq!(layers[0].size, 0);
    }

    fn img(id: &str, layers: &[(u8, i64)]) -> ImageInput {
        ImageInput {
            id: id.into(),
            tags: vec![format!("{id}:latest")],
            layers: layers
                .iter()
                .map(|(n, s)| LayerInfo {
                    diff_id: d(*n),
                    size: *s,
                    created_by: format!("step {n}"),
                    created: 0,
                })
                .collect(),
            approximate: false,
        }
    }

    #[test]
    fn shared_base_and_unrelated_images() {
        let map = build(vec![
            img("a", &[(1, 100), (2, 10), (3, 7)]),
            img("b", &[(1, 100), (2, 10), (4, 5)]),
            img("c", &[(9, 50)]),
            // Same diff id as a's second layer, but on another base: another layer.
            img("e", &[(8, 1), (2, 10)]),
        ]);
        let get = |id: &str| map.images.iter().find(|i| i.id == id).unwrap();
        assert_eq!((get("a").unique_size, get("a").shared_size), (7, 110));
        assert_eq!((get("b").unique_size, get("b").shared_size), (5, 110));
        assert_eq!((get("c").unique_size, get("c").shared_size), (50, 0));
        assert_eq!((get("e").unique_size, get("e").shared_size), (11, 0));
        assert_eq!(map.layers.len(), 7);
        assert_eq!(map.total_size, 100 + 10 + 7 + 5 + 50 + 1 + 10);
        assert_eq!(map.shared_bytes, 110);
        // a and b stand side by side.
        let pos = |id: &str| map.images.iter().position(|i| i.id == id).unwrap();
        assert_eq!(pos("a").abs_diff(pos("b")), 1);
        let freed = map.freed_by(&HashSet::from(["a"]));
        assert_eq!(freed, 7);
        let freed = map.freed_by(&HashSet::from(["a", "b"]));
        assert_eq!(freed, 100 + 10 + 7 + 5);
    }
}
