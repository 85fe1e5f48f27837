//! Printing an engine's figures as a Markdown table with a `key=value` line, and running one engine in a child
//! process of this benchmark.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::under_test::EngineReport;

/// Prints the build line and the table; returns the `key=value` pairs, keys prefixed by `label.`.
pub fn print_engine(label: &str, report: &EngineReport, threads: usize, threshold: f32) -> String {
    let build = &report.build;
    println!(
        "\n{label} ({}; {threads} threads): build {:.0} s = {:.0} inserts/s, {:.0} bytes/template resident, \
         save {:.2} s ({:.0} MiB), load {:.2} s",
        report.notes,
        build.build_s,
        build.inserts_per_s,
        build.bytes_per_template,
        build.save_s,
        build.save_bytes as f64 / (1 << 20) as f64,
        build.load_s
    );
    println!(
        "\n| engine | setting | recall@1 | recall@1 enrolled | recall@10 | recall ≥{threshold} | p50 ms | p99 ms | \
         p50 ms 1 core | queries/s ({threads} threads) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut pairs = format!(
        "{label}.inserts_per_s={:.0} {label}.bytes_per_template={:.0} {label}.save_s={:.2} {label}.load_s={:.2}",
        build.inserts_per_s, build.bytes_per_template, build.save_s, build.load_s
    );
    for row in &report.rows {
        println!(
            "| {label} | {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} | {:.0} |",
            row.setting,
            row.recall_at_1,
            row.recall_at_1_enrolled,
            row.recall_at_10,
            row.recall_above_threshold,
            row.p50_ms,
            row.p99_ms,
            row.p50_one_core_ms,
            row.queries_per_s
        );
        let slug: String = row
            .setting
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == ',')
            .collect::<String>()
            .replace(',', "_");
        pairs.push_str(&format!(
            " {label}.recall1_{slug}={:.4} {label}.recall1_enrolled_{slug}={:.4} {label}.recall10_{slug}={:.4} \
             {label}.recall_above_{slug}={:.4} {label}.p50_ms_{slug}={:.3} {label}.p99_ms_{slug}={:.3} \
             {label}.qps_{slug}={:.0}",
            row.recall_at_1,
            row.recall_at_1_enrolled,
            row.recall_at_10,
            row.recall_above_threshold,
            row.p50_ms,
            row.p99_ms,
            row.queries_per_s
        ));
    }
    pairs
}

/// Runs this benchmark again for the one engine `label`, with the other arguments as given; echoes its output and
/// returns its last line (the engine's `key=value` pairs).
pub fn run_child(label: &str) -> anyhow::Result<String> {
    let mut args: Vec<String> = Vec::new();
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        if arg == "--engines" {
            given.next();
        } else if !arg.starts_with("--engines=") {
            args.push(arg);
        }
    }
    args.extend(["--engines".into(), label.into(), "--child".into()]);
    let mut child = Command::new(std::env::current_exe()?)
        .args(&args)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut last = String::new();
    for line in BufReader::new(child.stdout.take().expect("piped stdout")).lines() {
        let line = line?;
        if !last.is_empty() {
            println!("{last}");
        }
        last = line;
    }
    let status = child.wait()?;
    anyhow::ensure!(status.success(), "measuring {label} failed: {status}");
    Ok(last)
}
