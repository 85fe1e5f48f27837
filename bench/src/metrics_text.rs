//! Reading the few counters the benchmarks need from a Prometheus text exposition.

use std::collections::HashMap;

/// Counter values by `name{labels}` as they appear in the exposition.
pub struct ModelCounters(HashMap<String, f64>);

impl ModelCounters {
    pub fn parse(text: &str) -> Self {
        let values = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (key, value) = l.rsplit_once(' ')?;
                Some((key.to_string(), value.parse().ok()?))
            })
            .collect();
        Self(values)
    }

    fn get(&self, metric: &str, model: &str) -> f64 {
        self.0
            .get(&format!("{metric}{{model=\"{model}\"}}"))
            .copied()
            .unwrap_or(0.0)
    }

    /// Requests per execution of `model` between two scrapes (Triton's average batch size).
    pub fn average_batch(before: &Self, after: &Self, model: &str) -> f64 {
        let items = after.get("faceserve_inference_items_total", model)
            - before.get("faceserve_inference_items_total", model);
        let runs = after.get("faceserve_inference_executions_total", model)
            - before.get("faceserve_inference_executions_total", model);
        if runs > 0.0 { items / runs } else { f64::NAN }
    }
}

/// Fetches and parses `url` (plain HTTP).
pub async fn scrape(url: &str) -> anyhow::Result<ModelCounters> {
    let url = url.to_string();
    let text = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        Ok(ureq::get(&url).call()?.body_mut().read_to_string()?)
    })
    .await??;
    Ok(ModelCounters::parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_batch_is_items_over_executions() {
        let before = ModelCounters::parse(
            "# HELP x\nfaceserve_inference_items_total{model=\"recognizer\"} 10\nfaceserve_inference_executions_total{model=\"recognizer\"} 10\n",
        );
        let after = ModelCounters::parse(
            "faceserve_inference_items_total{model=\"recognizer\"} 50\nfaceserve_inference_executions_total{model=\"recognizer\"} 20\n",
        );
        assert_eq!(
            ModelCounters::average_batch(&before, &after, "recognizer"),
            4.0
        );
        assert!(ModelCounters::average_batch(&before, &after, "detector").is_nan());
    }
}
