//! The ROC as a CSV table and as an SVG plot (true-accept rate against the false-accept rate on a log axis, the way
//! face verification results are compared), written by hand: the plot is a few lines and a polyline.

use std::fmt::Write;

use super::metrics::RocPoint;

pub fn csv(points: &[RocPoint]) -> String {
    let mut out = String::from("threshold,far,tar\n");
    for p in points {
        let _ = writeln!(out, "{},{},{}", p.threshold, p.far, p.tar);
    }
    out
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An SVG of the ROC. The FAR axis spans the decades from the smallest non-zero FAR the set resolves
/// (1 / impostor pairs) to 1; points at FAR 0 sit on its left edge.
pub fn svg(points: &[RocPoint], impostors: usize, title: &str) -> String {
    let min_decade = -((impostors.max(10) as f64).log10().ceil());
    let x = |far: f64| {
        let decade = if far > 0.0 {
            far.log10().max(min_decade)
        } else {
            min_decade
        };
        LEFT + (decade - min_decade) / -min_decade * (WIDTH - LEFT - RIGHT)
    };
    let y = |tar: f64| TOP + (1.0 - tar) * (HEIGHT - TOP - BOTTOM);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    // Decade grid lines on the FAR axis, tenths on the TAR axis.
    for d in (min_decade as i32)..=0 {
        let gx = x(10f64.powi(d));
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{TOP}" x2="{gx:.1}" y2="{:.1}" stroke="#ddd"/><text x="{gx:.1}" y="{:.1}" text-anchor="middle">1e{d}</text>"##,
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 18.0
        );
    }
    for tenth in 0..=10 {
        let tar = f64::from(tenth) / 10.0;
        let gy = y(tar);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{gy:.1}" x2="{:.1}" y2="{gy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{tar:.1}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            gy + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">false-accept rate</text>"#,
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">true-accept rate</text>"#,
        (TOP + HEIGHT - BOTTOM) / 2.0,
        (TOP + HEIGHT - BOTTOM) / 2.0
    );
    // A step curve: each threshold adds its accepted pairs vertically (genuine) then horizontally (impostors).
    let mut path = Vec::with_capacity(points.len() * 2);
    let mut previous: Option<&RocPoint> = None;
    for p in points {
        if let Some(q) = previous {
            path.push(format!("{:.1},{:.1}", x(q.far), y(p.tar)));
        }
        path.push(format!("{:.1},{:.1}", x(p.far), y(p.tar)));
        previous = Some(p);
    }
    let _ = writeln!(
        s,
        r##"<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{}"/>"##,
        path.join(" ")
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_svg_has_a_curve_with_a_point_per_step_and_decades_down_to_the_resolution() {
        let points = [
            RocPoint {
                threshold: f64::INFINITY,
                far: 0.0,
                tar: 0.0,
            },
            RocPoint {
                threshold: 0.5,
                far: 0.0,
                tar: 0.9,
            },
            RocPoint {
                threshold: 0.1,
                far: 0.01,
                tar: 1.0,
            },
        ];
        let svg = svg(&points, 500, "a < b");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("a &lt; b"));
        assert!(svg.contains(">1e-3<") && svg.contains(">1e0<") && !svg.contains(">1e-4<"));
        let polyline = svg.split("points=\"").nth(1).unwrap();
        assert_eq!(polyline.split('"').next().unwrap().split(' ').count(), 5);
        assert!(csv(&points).starts_with("threshold,far,tar\ninf,0,0\n"));
    }
}
