//! The spec's 21 named face keypoints, and the five alignment points, taken from the 106 landmarks of `2d106det`.
//!
//! Which of the 106 points is which was read off the model's output on frontal photos: contour 0-32 (0 = chin),
//! the image-left eyebrow 43-51, the image-left eye ring 33-42 (38 its centre), the nose 72-86 (80 below the tip,
//! 86 the tip, 77 and 83 the wings), the mouth 52-71 (52 and 61 the corners, 60 and 62 the inner lips), the
//! image-right eye ring 87-96 (88 its centre) and eyebrow 97-105. As everywhere in faceserve, "left" is the image's
//! left, as in the spec's example (its `left_eye` has the smaller x).

/// Where a named keypoint comes from: one landmark, or the midpoint of two.
#[derive(Debug, Clone, Copy)]
enum Source {
    One(usize),
    Mid(usize, usize),
}

/// The spec's keypoint names, in the spec's order, and their landmarks.
const NAMED: [(&str, Source); 21] = [
    ("left_eye_brow_left", Source::One(43)),
    ("left_eye_brow_up", Source::One(49)),
    ("left_eye_brow_right", Source::Mid(46, 50)),
    ("right_eye_brow_left", Source::Mid(97, 102)),
    ("right_eye_brow_up", Source::One(104)),
    ("right_eye_brow_right", Source::One(101)),
    ("left_eye_left", Source::One(35)),
    ("left_eye", Source::One(38)),
    ("left_eye_right", Source::One(39)),
    ("right_eye_left", Source::One(89)),
    ("right_eye", Source::One(88)),
    ("right_eye_right", Source::One(93)),
    ("left_ear_bottom", Source::One(13)),
    ("nose_left", Source::One(77)),
    ("nose", Source::One(80)),
    ("nose_right", Source::One(83)),
    ("right_ear_bottom", Source::One(29)),
    ("mouth_left", Source::One(52)),
    ("mouth", Source::Mid(60, 62)),
    ("mouth_right", Source::One(61)),
    ("chin", Source::One(0)),
];

/// The five alignment points (eye centres, nose tip, mouth corners) in the detector's order.
const FIVE: [usize; 5] = [38, 88, 86, 52, 61];

/// The spec's keypoint names, in order.
pub fn names() -> impl Iterator<Item = &'static str> {
    NAMED.iter().map(|(name, _)| *name)
}

/// The 21 named keypoints (in [`names`] order) of 106 landmarks.
pub fn named_keypoints(landmarks: &[[f32; 2]]) -> Vec<(&'static str, [f32; 2])> {
    assert_eq!(landmarks.len(), super::landmarks::POINTS);
    NAMED
        .iter()
        .map(|&(name, source)| {
            let point = match source {
                Source::One(i) => landmarks[i],
                Source::Mid(a, b) => [
                    (landmarks[a][0] + landmarks[b][0]) / 2.0,
                    (landmarks[a][1] + landmarks[b][1]) / 2.0,
                ],
            };
            (name, point)
        })
        .collect()
}

/// The detector-style five points of 106 landmarks, for aligning a face given only by its box.
pub fn five_points(landmarks: &[[f32; 2]]) -> [[f32; 2]; 5] {
    assert_eq!(landmarks.len(), super::landmarks::POINTS);
    FIVE.map(|i| landmarks[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_one_distinct_names_in_the_spec_order() {
        let names: Vec<_> = names().collect();
        assert_eq!(names.len(), 21);
        assert_eq!(names[0], "left_eye_brow_left");
        assert_eq!(names[20], "chin");
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 21);
    }

    #[test]
    fn midpoints_average_two_landmarks() {
        let landmarks: Vec<[f32; 2]> = (0..106).map(|i| [i as f32, 0.0]).collect();
        let named = named_keypoints(&landmarks);
        assert_eq!(named[18], ("mouth", [61.0, 0.0]));
        assert_eq!(five_points(&landmarks)[1], [88.0, 0.0]);
    }
}
