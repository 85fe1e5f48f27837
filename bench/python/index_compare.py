#!/usr/bin/env python3
"""Runs the vectors of `faceserve-bench index` through hnswlib and FAISS (HNSWFlat) for a side-by-side table.

The Rust benchmark writes <data>/<kind>-<templates>/{gallery,queries,truth_ids,truth_similarities}.npy; this
script measures each library on exactly those vectors with the same figures: build rate, resident memory per
template, dump (save) and load time, recall@1 / @10 / of true top-10 entries at or above the threshold against
the exact answers, single-query p50/p99 latency on one thread, and queries/s on all cores.

Setup (a venv of its own; nothing here is needed by faceserve itself):
  python3 -m venv .venv-index-compare
  .venv-index-compare/bin/pip install numpy hnswlib faiss-cpu
  .venv-index-compare/bin/python bench/python/index_compare.py --vectors data/index-bench/face-like-100000

Ends with one line of key=value pairs per library.
"""

import argparse
import os
import tempfile
import time

import numpy as np

THROUGHPUT_RUN_S = 2.0


def resident_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def scores(answers, truth_ids, truth_sims, threshold, enrolled):
    hits = np.array([len(a) > 0 and a[0] == t[0] for a, t in zip(answers, truth_ids)])
    at1 = hits.mean()
    at1_enrolled = hits[enrolled].mean() if enrolled.any() else float("nan")
    at10 = np.mean([len(set(a[:10]) & set(t[:10])) / 10 for a, t in zip(answers, truth_ids)])
    above = []
    for a, t, s in zip(answers, truth_ids, truth_sims):
        wanted = set(t[s >= threshold])
        if wanted:
            above.append(len(wanted & set(a[:10])) / len(wanted))
    return at1, at1_enrolled, at10, (np.mean(above) if above else 1.0)


def latencies(search_one, queries):
    times, answers = [], []
    for q in queries:
        started = time.perf_counter()
        answers.append(search_one(q))
        times.append((time.perf_counter() - started) * 1e3)
    return np.array(times), answers


def throughput(search_batch, queries):
    started, answered = time.perf_counter(), 0
    while time.perf_counter() - started < THROUGHPUT_RUN_S:
        search_batch(queries)
        answered += len(queries)
    return answered / (time.perf_counter() - started)


def measure(name, build, save_load, set_ef, search_one, search_batch, data, efs, threshold):
    gallery, queries, truth_ids, truth_sims, enrolled = data
    rss = resident_bytes()
    started = time.perf_counter()
    index = build(gallery)
    build_s = time.perf_counter() - started
    per_template = (resident_bytes() - rss) / len(gallery)
    dump_s, load_s, dump_bytes = save_load(index)
    rows = []
    for ef in efs:
        set_ef(index, ef)
        times, answers = latencies(lambda q: search_one(index, q), queries)
        at1, at1_enrolled, at10, above = scores(answers, truth_ids, truth_sims, threshold, enrolled)
        qps = throughput(lambda qs: search_batch(index, qs), queries)
        rows.append((ef, at1, at1_enrolled, at10, above, np.percentile(times, 50), np.percentile(times, 99), qps))
        print(f"  {name} ef {ef}: recall@1 {at1:.4f}, p50 {rows[-1][4]:.3f} ms, {qps:.0f} queries/s", flush=True)
    print(f"\n{name}: build {build_s:.0f} s = {len(gallery) / build_s:.0f} inserts/s, {per_template:.0f} bytes/template "
          f"resident, dump {dump_s:.1f} s ({dump_bytes / 2**20:.0f} MiB), load {load_s:.1f} s")
    print(f"\n| ef | recall@1 | recall@1 enrolled | recall@10 | recall ≥{threshold} | p50 ms | p99 ms | queries/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for ef, at1, at1e, at10, above, p50, p99, qps in rows:
        print(f"| {ef} | {at1:.4f} | {at1e:.4f} | {at10:.4f} | {above:.4f} | {p50:.3f} | {p99:.3f} | {qps:.0f} |")
    summary = (f"library={name} templates={len(gallery)} inserts_per_s={len(gallery) / build_s:.0f} "
               f"bytes_per_template={per_template:.0f} dump_s={dump_s:.2f} load_s={load_s:.2f}")
    for ef, at1, at1e, at10, above, p50, p99, qps in rows:
        summary += (f" recall1_ef{ef}={at1:.4f} recall1_enrolled_ef{ef}={at1e:.4f} recall10_ef{ef}={at10:.4f} p50_ms_ef{ef}={p50:.3f}"
                    f" p99_ms_ef{ef}={p99:.3f} qps_ef{ef}={qps:.0f}")
    print(summary, flush=True)
    del index


def run_hnswlib(data, m, ef_construction, efs, threshold, threads):
    import hnswlib

    def build(gallery):
        index = hnswlib.Index(space="ip", dim=gallery.shape[1])
        index.init_index(max_elements=len(gallery), M=m, ef_construction=ef_construction)
        index.set_num_threads(threads)
        index.add_items(gallery, np.arange(len(gallery)))
        return index

    def save_load(index):
        with tempfile.TemporaryDirectory(dir=".") as tmp:
            path = os.path.join(tmp, "index.bin")
            started = time.perf_counter()
            index.save_index(path)
            dump_s = time.perf_counter() - started
            size = os.path.getsize(path)
            started = time.perf_counter()
            loaded = hnswlib.Index(space="ip", dim=index.dim)
            loaded.load_index(path)
            load_s = time.perf_counter() - started
            del loaded
        return dump_s, load_s, size

    def set_ef(index, ef):
        index.set_ef(ef)

    def search_one(index, q):
        index.set_num_threads(1)
        return index.knn_query(q[None], k=10)[0][0]

    def search_batch(index, qs):
        index.set_num_threads(threads)
        index.knn_query(qs, k=10)

    measure(f"hnswlib-M{m}", build, save_load, set_ef, search_one, search_batch, data, efs, threshold)


def run_faiss(data, m, ef_construction, efs, threshold, threads):
    import faiss

    def build(gallery):
        faiss.omp_set_num_threads(threads)
        index = faiss.IndexHNSWFlat(gallery.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.add(gallery)
        return index

    def save_load(index):
        with tempfile.TemporaryDirectory(dir=".") as tmp:
            path = os.path.join(tmp, "index.faiss")
            started = time.perf_counter()
            faiss.write_index(index, path)
            dump_s = time.perf_counter() - started
            size = os.path.getsize(path)
            started = time.perf_counter()
            loaded = faiss.read_index(path)
            load_s = time.perf_counter() - started
            del loaded
        return dump_s, load_s, size

    def set_ef(index, ef):
        index.hnsw.efSearch = ef

    def search_one(index, q):
        faiss.omp_set_num_threads(1)
        return index.search(q[None], 10)[1][0]

    def search_batch(index, qs):
        faiss.omp_set_num_threads(threads)
        index.search(qs, 10)

    measure(f"faiss-HNSWFlat-M{m}", build, save_load, set_ef, search_one, search_batch, data, efs, threshold)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vectors", required=True, help="a <kind>-<templates> folder written by faceserve-bench index")
    parser.add_argument("--libraries", default="hnswlib,faiss")
    parser.add_argument("--m", default="16", help="comma-separated M values")
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef", default="16,32,64,128,256")
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()

    gallery = np.load(os.path.join(args.vectors, "gallery.npy"))
    queries = np.load(os.path.join(args.vectors, "queries.npy"))
    truth_sims = np.load(os.path.join(args.vectors, "truth_similarities.npy"))
    truth_ids = np.load(os.path.join(args.vectors, "truth_ids.npy")).reshape(truth_sims.shape)
    enrolled = np.isin(np.load(os.path.join(args.vectors, "query_identities.npy")),
                       np.load(os.path.join(args.vectors, "gallery_identities.npy")))
    data = (gallery, queries, truth_ids, truth_sims, enrolled)
    efs = [int(e) for e in args.ef.split(",")]
    print(f"{args.vectors}: {gallery.shape[0]} x {gallery.shape[1]}, {len(queries)} queries, {args.threads} threads")
    for m in [int(m) for m in args.m.split(",")]:
        for library in args.libraries.split(","):
            runner = {"hnswlib": run_hnswlib, "faiss": run_faiss}[library]
            runner(data, m, args.ef_construction, efs, args.threshold, args.threads)


if __name__ == "__main__":
    main()
