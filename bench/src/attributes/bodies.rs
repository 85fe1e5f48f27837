//! `--task bodies`: persons found per photo against a count of the people in it: the labelled face counts of
//! `compreface_samples`, the people of the five BBT group photos (counted by eye, [`BBT_PEOPLE`]), and on the crowd
//! photos (no labels) the faces the server's detector finds. No set labels person boxes, so false boxes are
//! estimated: a person box that holds no detected face's centre is counted as `faceless` (a false box, or a person
//! seen from behind or too small for the face detector), and a face inside no person box as `missed`.

use std::path::Path;

use faceserve_proto::v1 as pb;
use pb::Estimator as E;

use super::Faces;
use super::client::{Answer, Client};
use super::sets::{csv_rows, images_in};

/// The people visible in each BBT group photo of `faceapi_js_images/examples/images`, counted by eye (bbt2: two
/// in front, four behind them).
const BBT_PEOPLE: [(&str, usize); 5] = [
    ("bbt1.jpg", 4),
    ("bbt2.jpg", 6),
    ("bbt3.jpg", 5),
    ("bbt4.jpg", 6),
    ("bbt5.jpg", 5),
];

/// Totals over a set of photos.
#[derive(Default)]
struct Tally {
    photos: usize,
    people: usize,
    persons: usize,
    exact: usize,
    faces: usize,
    faceless: usize,
    missed: usize,
}

impl Tally {
    /// Adds one photo's answer; `people` is its count of people when known.
    fn add(&mut self, name: &str, answer: &Answer, people: Option<usize>) {
        let Ok(a) = answer else {
            println!("{name}: {:?}", answer.as_ref().err());
            return;
        };
        let centre = |f: &pb::FaceObject| {
            let b = f.face.as_ref().map(|f| f.bbox.clone()).unwrap_or_default();
            (b.len() == 4).then(|| ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0))
        };
        let centres: Vec<(f32, f32)> = a.faces.iter().filter_map(centre).collect();
        let inside = |b: &pb::BodyObject, (x, y): (f32, f32)| {
            b.bbox.len() == 4
                && b.bbox[0] <= x
                && x <= b.bbox[2]
                && b.bbox[1] <= y
                && y <= b.bbox[3]
        };
        let faceless = a
            .bodies
            .iter()
            .filter(|b| !centres.iter().any(|&c| inside(b, c)))
            .count();
        let missed = centres
            .iter()
            .filter(|&&c| !a.bodies.iter().any(|b| inside(b, c)))
            .count();
        let found = a.bodies.len();
        let count = people.map(|p| format!(", {p} people")).unwrap_or_default();
        println!(
            "{name}: {found} persons ({faceless} without a face), {} faces detected ({missed} in no person box){count}",
            centres.len()
        );
        self.photos += 1;
        self.persons += found;
        self.faces += centres.len();
        self.faceless += faceless;
        self.missed += missed;
        if let Some(p) = people {
            self.people += p;
            self.exact += usize::from(found == p);
        }
    }

    fn line(&self, set: &str) -> String {
        format!(
            " {set}_photos={} {set}_people={} {set}_persons={} {set}_exact={} {set}_faces={} {set}_faceless={} \
             {set}_missed={}",
            self.photos,
            self.people,
            self.persons,
            self.exact,
            self.faces,
            self.faceless,
            self.missed
        )
    }
}

pub async fn bodies(client: &Client, data: &Path) -> anyhow::Result<()> {
    let wanted = [E::BodyDetection, E::FaceDetection];
    let mut line = String::from("bodies");

    let compreface = data.join("compreface_samples");
    let rows = csv_rows(&compreface.join("annotations.csv"))?;
    let paths: Vec<_> = rows.iter().map(|r| compreface.join(&r[0])).collect();
    let answers = client
        .estimate(&paths, &wanted, Some(Faces::Detect))
        .await?;
    let mut tally = Tally::default();
    for (row, answer) in rows.iter().zip(&answers) {
        tally.add(&row[0], answer, Some(row[1].parse()?));
    }
    line += &tally.line("compreface");

    let group = data.join("faceapi_js_images/examples/images");
    let paths: Vec<_> = BBT_PEOPLE.iter().map(|(f, _)| group.join(f)).collect();
    let answers = client
        .estimate(&paths, &wanted, Some(Faces::Detect))
        .await?;
    let mut tally = Tally::default();
    for ((file, people), answer) in BBT_PEOPLE.iter().zip(&answers) {
        tally.add(file, answer, Some(*people));
    }
    line += &tally.line("bbt");

    let crowd = images_in(&data.join("ultraface_crowd_imgs/imgs"))?;
    let answers = client
        .estimate(&crowd, &wanted, Some(Faces::Detect))
        .await?;
    let mut tally = Tally::default();
    for (path, answer) in crowd.iter().zip(&answers) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        tally.add(&name, answer, None);
    }
    line += &tally.line("crowd");
    println!("{line}");
    Ok(())
}
