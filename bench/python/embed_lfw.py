#!/usr/bin/env python3
"""Embeds the LFW View 1 photos with the default recognizer, for the index benchmark's face-like generator.

A stand-in until `faceserve-bench embed-stats` produces the same files with the server's own Rust pipeline.
Each photo goes through SCRFD-500M (largest face nearest the centre), the standard ArcFace 5-point similarity
warp to 112x112, and w600k_mbf; the embeddings are L2-normalised.

Writes into OUT_DIR:
  embeddings.npy  float32 [N, 512], L2-normalised
  identities.npy  int32   [N], one integer per person (photos of one person share it)

Usage (any Python with numpy, onnxruntime and opencv-python-headless):
  python3 bench/python/embed_lfw.py --models ../shared/models --lfw ../shared/testdata/lfw_view1 --out data/embed-stats
"""

import argparse
import os
import sys

import cv2
import numpy as np
import onnxruntime as ort

# ArcFace's reference points for a 112x112 crop: eyes, nose, mouth corners.
ARCFACE_POINTS = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
DETECTOR_SIDE = 256  # LFW photos are 250x250; the detector wants a multiple of 32.
STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2


def detect(session, image_rgb):
    """Returns (score, box, 5x2 landmarks) of the best face: high score, close to the photo's centre."""
    h, w = image_rgb.shape[:2]
    canvas = np.zeros((DETECTOR_SIDE, DETECTOR_SIDE, 3), dtype=np.float32)
    canvas[:h, :w] = image_rgb
    blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None]
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"input.1": blob})))
    best = None
    for stride in STRIDES:
        side = DETECTOR_SIDE // stride
        ys, xs = np.mgrid[:side, :side]
        centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
        centres = np.repeat(centres, ANCHORS_PER_CELL, axis=0)
        scores = outputs[f"score_{stride}"][0, :, 0]
        boxes = outputs[f"bbox_{stride}"][0] * stride
        points = outputs[f"kps_{stride}"][0].reshape(-1, 5, 2) * stride
        for i in np.flatnonzero(scores > 0.4):
            c = centres[i]
            box = np.array([c[0] - boxes[i, 0], c[1] - boxes[i, 1], c[0] + boxes[i, 2], c[1] + boxes[i, 3]])
            off_centre = np.hypot((box[0] + box[2]) / 2 - w / 2, (box[1] + box[3]) / 2 - h / 2) / w
            rank = scores[i] - off_centre
            if best is None or rank > best[0]:
                best = (rank, scores[i], box, points[i] + c)
    return None if best is None else best[1:]


def similarity_transform(src, dst):
    """Least-squares rotation + uniform scale + translation taking src points onto dst (Umeyama)."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_c.var(0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="../shared/models")
    parser.add_argument("--lfw", default="../shared/testdata/lfw_view1")
    parser.add_argument("--out", default="data/embed-stats")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count() or 1
    options.log_severity_level = 3  # the recognizer declares batch 1 and warns on every batch
    providers = ["CPUExecutionProvider"]
    detector = ort.InferenceSession(os.path.join(args.models, "scrfd_500m_bnkps.onnx"), options, providers=providers)
    recognizer = ort.InferenceSession(os.path.join(args.models, "w600k_mbf.onnx"), options, providers=providers)

    images_dir = os.path.join(args.lfw, "images")
    people = sorted(os.listdir(images_dir))
    crops, identities, missed = [], [], 0
    for person_index, person in enumerate(people):
        for name in sorted(os.listdir(os.path.join(images_dir, person))):
            bgr = cv2.imread(os.path.join(images_dir, person, name))
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            found = detect(detector, rgb.astype(np.float32))
            if found is None:
                missed += 1
                continue
            _, _, points = found
            warp = similarity_transform(points.astype(np.float64), ARCFACE_POINTS)
            crops.append(cv2.warpAffine(rgb, warp, (112, 112), borderValue=0.0))
            identities.append(person_index)
        if person_index % 500 == 0:
            print(f"{person_index}/{len(people)} people, {len(crops)} faces", file=sys.stderr)

    embeddings = []
    for start in range(0, len(crops), args.batch):
        batch = np.stack(crops[start : start + args.batch]).astype(np.float32)
        blob = ((batch - 127.5) / 127.5).transpose(0, 3, 1, 2)
        embeddings.append(recognizer.run(None, {"input.1": blob})[0])
    embeddings = np.concatenate(embeddings).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)

    os.makedirs(args.out, exist_ok=True)
    np.save(os.path.join(args.out, "embeddings.npy"), embeddings)
    np.save(os.path.join(args.out, "identities.npy"), np.array(identities, dtype=np.int32))
    print(f"{len(embeddings)} embeddings of {len(set(identities))} people ({missed} photos without a face) "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
