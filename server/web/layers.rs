//! `/layers`: the layer sharing map, as a picture (one stacked bar per image, bottom layer at
//! the bottom, each layer in its own colour wherever it appears) and as tables.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};

use super::{Chrome, render};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::engine::layers::{self, Layer, LayerMap};
use crate::error::Result;
use crate::http::scope::Ep;

pub fn router() -> Router<AppState> {
    Router::new().route("/layers", get(page))
}

/// One block of a bar in the picture.
pub struct Block<'a> {
    pub layer: &'a Layer,
    pub px: u32,
}

#[derive(Template)]
#[template(path = "layers.html")]
struct Page {
    chrome: Chrome,
    map: Arc<LayerMap>,
    names: HashMap<String, String>,
}

impl Page {
    /// The blocks of one image's bar, top layer first (the bar is drawn top down).
    fn blocks(&self, img: &layers::ImageLayers) -> Vec<Block<'_>> {
        let max = self.map.max_image_size() as f64;
        img.layers
            .iter()
            .rev()
            .filter_map(|c| self.map.layer(c))
            .map(|layer| Block {
                layer,
                // Square-root scale: a 1 KB layer on a 100 MB base stays visible.
                px: 3 + (260.0 * (layer.size.max(0) as f64 / max).sqrt()) as u32,
            })
            .collect()
    }

    fn name(&self, id: &str) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| crate::engine::views::short_id(id))
    }
}

async fn page(ep: Ep, Extension(user): Extension<CurrentUser>) -> Result<Response> {
    let map = layers::map(&ep).await?;
    let names = map
        .images
        .iter()
        .map(|i| (i.id.clone(), i.display_name()))
        .collect();
    render(&Page {
        chrome: Chrome::new(&user, &ep, "layers"),
        map,
        names,
    })
}
