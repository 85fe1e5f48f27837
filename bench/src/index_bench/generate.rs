//! Benchmark vectors: face-like (identities drawn from the measured spectra, several photos each) or isotropic
//! (uniform on the sphere, the worst case for HNSW), saved as .npy so every library searches the same ones.

use std::path::Path;

use rayon::prelude::*;

use super::stats::{EmbeddingStats, PairCosines};
use crate::npy;

/// A small deterministic generator (SplitMix64) with Gaussian draws; one per identity keeps parallel
/// generation reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mut rng = Rng(seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normals(&mut self, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| {
                let (u, v) = (self.uniform(), self.uniform());
                (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
            })
            .collect()
    }
}

pub struct Dataset {
    pub dim: usize,
    /// Row-major, unit rows.
    pub gallery: Vec<f32>,
    pub gallery_identities: Vec<i32>,
    pub queries: Vec<f32>,
    /// The query's identity; identities not in the gallery are strangers.
    pub query_identities: Vec<i32>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.gallery.len() / self.dim
    }

    pub fn query_count(&self) -> usize {
        self.queries.len() / self.dim
    }

    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        npy::write_f32_matrix(&dir.join("gallery.npy"), &self.gallery, self.dim)?;
        npy::write_i32_vector(
            &dir.join("gallery_identities.npy"),
            &self.gallery_identities,
        )?;
        npy::write_f32_matrix(&dir.join("queries.npy"), &self.queries, self.dim)?;
        npy::write_i32_vector(&dir.join("query_identities.npy"), &self.query_identities)?;
        Ok(())
    }

    pub fn load(dir: &Path) -> anyhow::Result<Dataset> {
        let (gallery, _, dim) = npy::read_f32_matrix(&dir.join("gallery.npy"))?;
        let (queries, _, query_dim) = npy::read_f32_matrix(&dir.join("queries.npy"))?;
        anyhow::ensure!(
            query_dim == dim,
            "queries have dimension {query_dim}, gallery {dim}"
        );
        Ok(Dataset {
            dim,
            gallery,
            gallery_identities: npy::read_i32_vector(&dir.join("gallery_identities.npy"))?,
            queries,
            query_identities: npy::read_i32_vector(&dir.join("query_identities.npy"))?,
        })
    }

    /// Cosines among the first `limit` gallery vectors.
    pub fn cosines(&self, limit: usize) -> PairCosines {
        let rows = self.len().min(limit);
        PairCosines::measure(
            &self.gallery[..rows * self.dim],
            self.dim,
            &self.gallery_identities[..rows],
        )
    }
}

/// Settings of the face-like generator.
pub struct FaceLike {
    pub templates: usize,
    pub per_identity: usize,
    pub queries: usize,
    /// Share of queries that are new photos of enrolled identities; the rest are strangers.
    pub enrolled_share: f64,
    /// Multiplies the within-identity spread (1 = as measured).
    pub within_scale: f64,
    pub seed: u64,
}

pub fn face_like(stats: &EmbeddingStats, settings: &FaceLike) -> Dataset {
    let dim = stats.dim;
    let identities = settings.templates.div_ceil(settings.per_identity);
    let enrolled_queries = (settings.queries as f64 * settings.enrolled_share).round() as usize;
    // A photo: its identity's centre plus within-identity spread, normalised like a recognizer's output.
    let photo = |centre: &[f64], rng: &mut Rng| -> Vec<f32> {
        let mut v = centre.to_vec();
        stats
            .within
            .add_sample(&rng.normals(dim), settings.within_scale, &mut v);
        normalise(&v)
    };
    let centre = |rng: &mut Rng| -> Vec<f64> {
        let mut c = stats.mean.clone();
        stats.centres.add_sample(&rng.normals(dim), 1.0, &mut c);
        c
    };
    let gallery: Vec<Vec<f32>> = (0..identities)
        .into_par_iter()
        .map(|identity| {
            let mut rng = Rng::new(settings.seed, identity as u64);
            let c = centre(&mut rng);
            let photos = settings
                .per_identity
                .min(settings.templates - identity * settings.per_identity);
            (0..photos).flat_map(|_| photo(&c, &mut rng)).collect()
        })
        .collect();
    let queries: Vec<(i32, Vec<f32>)> = (0..settings.queries)
        .into_par_iter()
        .map(|q| {
            if q < enrolled_queries {
                // Spread the probes over the gallery; regenerate the identity's centre from its stream.
                let identity = q * identities / enrolled_queries.max(1);
                let mut rng = Rng::new(settings.seed, identity as u64);
                let c = centre(&mut rng);
                let mut probe_rng = Rng::new(settings.seed ^ 0xA5A5, q as u64);
                (identity as i32, photo(&c, &mut probe_rng))
            } else {
                let stranger = identities + q;
                let mut rng = Rng::new(settings.seed, stranger as u64);
                let c = centre(&mut rng);
                (stranger as i32, photo(&c, &mut rng))
            }
        })
        .collect();
    Dataset {
        dim,
        gallery: gallery.concat(),
        gallery_identities: (0..settings.templates)
            .map(|i| (i / settings.per_identity) as i32)
            .collect(),
        query_identities: queries.iter().map(|(id, _)| *id).collect(),
        queries: queries.into_iter().flat_map(|(_, v)| v).collect(),
    }
}

/// Uniform unit vectors; every vector is its own identity.
pub fn isotropic(dim: usize, templates: usize, queries: usize, seed: u64) -> Dataset {
    let draw = |stream: u64| normalise(&Rng::new(seed, stream).normals(dim));
    let gallery: Vec<Vec<f32>> = (0..templates as u64).into_par_iter().map(draw).collect();
    let query_vectors: Vec<Vec<f32>> = (0..queries as u64)
        .into_par_iter()
        .map(|q| draw(templates as u64 + q))
        .collect();
    Dataset {
        dim,
        gallery: gallery.concat(),
        gallery_identities: (0..templates as i32).collect(),
        queries: query_vectors.concat(),
        query_identities: (templates as i32..(templates + queries) as i32).collect(),
    }
}

fn normalise(v: &[f64]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| (x / norm) as f32).collect()
}
