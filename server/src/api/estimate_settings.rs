//! The `[estimators]` settings: which model serves each estimator of the Image API, each model's queue, the
//! liveness threshold, and the command-line flags that override them.

use clap::Args;
use serde::{Deserialize, Serialize};

/// One estimator's model and its batcher queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EstimatorModelSettings {
    /// Manifest model name. Unset: the estimator's default model; "" switches the estimator off.
    pub model: Option<String>,
    pub max_batch: usize,
    /// How long a batch that is not full may wait for more requests (0 = run what is there).
    pub max_queue_delay_ms: u64,
    /// Requests that may wait; beyond it callers get RESOURCE_EXHAUSTED at once.
    pub queue_capacity: usize,
    /// Sessions (worker threads) for the model.
    pub workers: usize,
}

impl Default for EstimatorModelSettings {
    fn default() -> Self {
        Self {
            model: None,
            max_batch: 8,
            max_queue_delay_ms: 0,
            queue_capacity: 256,
            workers: 1,
        }
    }
}

impl EstimatorModelSettings {
    /// The model to use, `None` when the estimator is switched off.
    pub fn model_or<'a>(&'a self, default: &'a str) -> Option<&'a str> {
        match self.model.as_deref() {
            None => Some(default),
            Some("") => None,
            Some(name) => Some(name),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EstimatorSettings {
    /// Load every estimator model at start-up. Off: a model is loaded (and fetched, when it comes from a package
    /// registry) by the first request that needs it, so a server that only recognises faces never pays for them.
    pub preload: bool,
    /// Liveness verdict: REAL when the model's live probability is at least this.
    pub liveness_threshold: f32,
    /// Smallest confidence of a reported person.
    pub body_score_threshold: f32,
    pub age: EstimatorModelSettings,
    pub gender: EstimatorModelSettings,
    pub emotion: EstimatorModelSettings,
    pub liveness: EstimatorModelSettings,
    pub mask: EstimatorModelSettings,
    /// The 106-landmark model behind the named keypoints (and the five points of faces given by a box only).
    pub keypoints: EstimatorModelSettings,
    pub pose: EstimatorModelSettings,
    /// The face mesh model behind eye openness (its blendshape model comes with it).
    pub eyes: EstimatorModelSettings,
    pub body: EstimatorModelSettings,
    /// No deepfake model exists in the manifest; the slot is here so a decoder and model can be added.
    pub deepfake: EstimatorModelSettings,
}

impl Default for EstimatorSettings {
    fn default() -> Self {
        Self {
            preload: false,
            liveness_threshold: 0.5,
            body_score_threshold: 0.3,
            age: EstimatorModelSettings::default(),
            gender: EstimatorModelSettings::default(),
            emotion: EstimatorModelSettings::default(),
            liveness: EstimatorModelSettings::default(),
            mask: EstimatorModelSettings::default(),
            keypoints: EstimatorModelSettings::default(),
            pose: EstimatorModelSettings::default(),
            eyes: EstimatorModelSettings::default(),
            body: EstimatorModelSettings::default(),
            deepfake: EstimatorModelSettings::default(),
        }
    }
}

impl EstimatorSettings {
    /// Every estimator's settings with its name, for checks and logs.
    pub fn all(&self) -> [(&'static str, &EstimatorModelSettings); 10] {
        [
            ("age", &self.age),
            ("gender", &self.gender),
            ("emotion", &self.emotion),
            ("liveness", &self.liveness),
            ("mask", &self.mask),
            ("keypoints", &self.keypoints),
            ("pose", &self.pose),
            ("eyes", &self.eyes),
            ("body", &self.body),
            ("deepfake", &self.deepfake),
        ]
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, q) in self.all() {
            anyhow::ensure!(
                q.max_batch >= 1,
                "estimators.{name}.max_batch must be at least 1"
            );
            anyhow::ensure!(
                q.workers >= 1,
                "estimators.{name}.workers must be at least 1"
            );
            anyhow::ensure!(
                q.queue_capacity >= 1,
                "estimators.{name}.queue_capacity must be at least 1"
            );
        }
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.liveness_threshold),
            "estimators.liveness_threshold must be a probability in 0..1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.body_score_threshold),
            "estimators.body_score_threshold must be in 0..1"
        );
        Ok(())
    }
}

/// Flags and `FACESERVE_*` variables for the estimators; only what is given replaces the file.
#[derive(Debug, Clone, Default, Args)]
pub struct EstimatorOverrides {
    /// Load every estimator model at start-up instead of on first use.
    #[arg(long, env = "FACESERVE_PRELOAD_ESTIMATORS")]
    pub preload_estimators: bool,
    /// Age model ("" = off) [default: dlib_age_v1]
    #[arg(long, env = "FACESERVE_AGE_MODEL")]
    pub age_model: Option<String>,
    /// Gender model ("" = off) [default: dlib_gender_v1]
    #[arg(long, env = "FACESERVE_GENDER_MODEL")]
    pub gender_model: Option<String>,
    /// Emotion model ("" = off) [default: human_emotion]
    #[arg(long, env = "FACESERVE_EMOTION_MODEL")]
    pub emotion_model: Option<String>,
    /// Liveness model ("" = off) [default: AntiSpoofing_bin_1.5_128, evaluation licence only]
    #[arg(long, env = "FACESERVE_LIVENESS_MODEL")]
    pub liveness_model: Option<String>,
    /// Live probability at or above which a face is REAL [default: 0.5]
    #[arg(long, env = "FACESERVE_LIVENESS_THRESHOLD")]
    pub liveness_threshold: Option<f32>,
    /// Mask model ("" = off) [default: face_mask_mobilenetv2]
    #[arg(long, env = "FACESERVE_MASK_MODEL")]
    pub mask_model: Option<String>,
    /// Person detector ("" = off) [default: yolox_nano]
    #[arg(long, env = "FACESERVE_BODY_MODEL")]
    pub body_model: Option<String>,
}

impl EstimatorOverrides {
    pub fn apply(&self, s: &mut EstimatorSettings) {
        if self.preload_estimators {
            s.preload = true;
        }
        for (flag, target) in [
            (&self.age_model, &mut s.age),
            (&self.gender_model, &mut s.gender),
            (&self.emotion_model, &mut s.emotion),
            (&self.liveness_model, &mut s.liveness),
            (&self.mask_model, &mut s.mask),
            (&self.body_model, &mut s.body),
        ] {
            if flag.is_some() {
                target.model = flag.clone();
            }
        }
        if let Some(t) = self.liveness_threshold {
            s.liveness_threshold = t;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_means_default_and_empty_means_off() {
        let mut s = EstimatorSettings::default();
        assert_eq!(s.age.model_or("dlib_age_v1"), Some("dlib_age_v1"));
        EstimatorOverrides {
            age_model: Some(String::new()),
            gender_model: Some("human_faceres".into()),
            liveness_threshold: Some(0.8),
            ..Default::default()
        }
        .apply(&mut s);
        assert_eq!(s.age.model_or("dlib_age_v1"), None);
        assert_eq!(s.gender.model_or("dlib_gender_v1"), Some("human_faceres"));
        assert_eq!(s.liveness_threshold, 0.8);
        s.liveness_threshold = 2.0;
        assert!(s.validate().is_err());
    }

    #[test]
    fn a_table_without_model_keeps_the_default_model() {
        let s: EstimatorSettings = toml::from_str("[age]\nmax_batch = 4\n").unwrap();
        assert_eq!(s.age.max_batch, 4);
        assert_eq!(s.age.model_or("dlib_age_v1"), Some("dlib_age_v1"));
    }
}
