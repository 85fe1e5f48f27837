//! Helpers shared by the engine tests: deterministic unit vectors and engines in temporary directories.
#![allow(dead_code)]

pub mod proxy;
pub mod stores;

use std::collections::BTreeMap;
use std::path::Path;

use faceserve_index::{EngineConfig, FaceGeometry, GalleryEngine, NewTemplate};
use uuid::Uuid;

pub const DIM: usize = 64;
pub const MODEL: &str = "test_recognizer";

/// xorshift64*: reproducible without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    pub fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f64> = (0..dim).map(|_| self.normal()).collect();
        normalize(&v)
    }

    /// A unit vector at roughly cosine `1 - spread` to `centre`: samples of one "identity".
    pub fn near(&mut self, centre: &[f32], spread: f64) -> Vec<f32> {
        let noise = self.unit_vector(centre.len());
        let v: Vec<f64> = centre
            .iter()
            .zip(&noise)
            .map(|(c, n)| *c as f64 * (1.0 - spread) + *n as f64 * spread)
            .collect();
        normalize(&v)
    }
}

pub fn normalize(v: &[f64]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| (x / norm) as f32).collect()
}

pub fn config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::new(dir, MODEL, DIM);
    config.index.maintenance_interval = None;
    config
}

pub fn open(dir: &Path) -> GalleryEngine {
    GalleryEngine::open(config(dir)).expect("engine opens")
}

pub fn template(app: &str, gallery: &str, embedding: Vec<f32>) -> NewTemplate {
    NewTemplate {
        app: app.to_string(),
        gallery: gallery.to_string(),
        id: None,
        embedding,
        face: FaceGeometry {
            bbox: [10.0, 20.0, 100.0, 120.0],
            landmarks: [
                [30.0, 40.0],
                [70.0, 40.0],
                [50.0, 60.0],
                [35.0, 80.0],
                [65.0, 80.0],
            ],
            score: 0.93,
        },
        metadata: BTreeMap::from([("name".to_string(), "someone".to_string())]),
        replace: false,
    }
}

pub fn with_id(mut template: NewTemplate, id: Uuid) -> NewTemplate {
    template.id = Some(id);
    template
}

/// Cosine similarities of `query` to every (id, vector), best first, computed in f64.
pub fn naive_ranking(vectors: &[(Uuid, Vec<f32>)], query: &[f32]) -> Vec<(Uuid, f64)> {
    let mut ranked: Vec<(Uuid, f64)> = vectors
        .iter()
        .map(|(id, v)| {
            (
                *id,
                v.iter()
                    .zip(query)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum(),
            )
        })
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

/// A face-like gallery: `identities` centres with `per_identity` samples each (samples of one identity at cosine
/// ~0.6 to each other, different identities near 0), and one fresh sample per identity as a query.
pub struct FaceLike {
    pub gallery: Vec<Vec<f32>>,
    pub queries: Vec<Vec<f32>>,
}

pub fn face_like(seed: u64, dim: usize, identities: usize, per_identity: usize) -> FaceLike {
    let mut rng = Rng::new(seed);
    let mut gallery = Vec::with_capacity(identities * per_identity);
    let mut queries = Vec::with_capacity(identities);
    for _ in 0..identities {
        let centre = rng.unit_vector(dim);
        for _ in 0..per_identity {
            gallery.push(rng.near(&centre, 0.45));
        }
        queries.push(rng.near(&centre, 0.45));
    }
    FaceLike { gallery, queries }
}
