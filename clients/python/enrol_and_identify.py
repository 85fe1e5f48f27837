#!/usr/bin/env python3
"""Enrol a folder of photos into a faceserve gallery, then identify one photo against it.

Each photo becomes one template, labelled with its person: the name of the sub-folder it is in (``people/amy/1.jpg``
is "amy") or, for photos directly in the folder, the file name without its extension. All photos go through one
``AddStream`` call (bulk enrolment: one answer per photo, in order; a bad photo gets its own error and the others
go on), then ``Identify`` finds the probe's best match.

    ./generate_stubs.sh                      # once: stubs from ../../proto into ./faceserve_stubs
    python enrol_and_identify.py --server 127.0.0.1:50051 people/ probe.jpg
    python enrol_and_identify.py --server faces.example.com:443 --ca ca.pem \\
        --app-id "$APP_ID" --app-key "$APP_KEY" people/ probe.jpg

The last line of the output is a JSON summary (enrolled, failed, match) for scripts.
"""

import argparse
import json
import os
import sys
from pathlib import Path

import grpc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, os.environ.get("FACESERVE_STUBS", str(HERE / "faceserve_stubs")))
try:
    from faceserve.v1 import common_pb2, face_pb2, face_pb2_grpc  # noqa: E402
except ImportError as e:  # pragma: no cover - a usage error, not a code path
    sys.exit(f"faceserve stubs not found ({e}): run ./generate_stubs.sh first")

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


def photos_of(folder: Path):
    """(person, path) for every JPEG/PNG under ``folder``, in a stable order."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in PHOTO_SUFFIXES:
            person = path.parent.name if path.parent != folder else path.stem
            yield person, path


def channel_for(args):
    if args.ca:
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(args.ca).read_bytes())
        return grpc.secure_channel(args.server, credentials)
    return grpc.insecure_channel(args.server)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="photos to enrol (one sub-folder per person, or loose files)")
    parser.add_argument("probe", type=Path, help="the photo to identify")
    parser.add_argument("--server", default="127.0.0.1:50051", help="gRPC address (default %(default)s)")
    parser.add_argument("--gallery", default="python-example", help="gallery name (default %(default)s)")
    parser.add_argument("--app-id", default=os.environ.get("FACESERVE_APP_ID"), help="APP-ID (servers with --auth)")
    parser.add_argument("--app-key", default=os.environ.get("FACESERVE_APP_KEY"), help="APP-KEY")
    parser.add_argument("--ca", help="PEM CA certificate: connect with TLS and verify the server against it")
    args = parser.parse_args()

    # The credentials travel as gRPC metadata on every call.
    metadata = []
    if args.app_id and args.app_key:
        metadata = [("app-id", args.app_id), ("app-key", args.app_key)]

    people = list(photos_of(args.folder))
    if not people:
        sys.exit(f"no .jpg/.png photos under {args.folder}")

    with channel_for(args) as channel:
        faces = face_pb2_grpc.FaceServiceStub(channel)

        def requests():
            for index, (person, path) in enumerate(people):
                yield face_pb2.AddStreamRequest(
                    request_id=str(index),
                    request=face_pb2.AddRequest(
                        image=common_pb2.Image(encoded=path.read_bytes()),
                        gallery=args.gallery,
                        metadata={"person": person, "file": path.name},
                    ),
                )

        enrolled, failed = 0, []
        try:
            for answer in faces.AddStream(requests(), metadata=metadata):
                person, path = people[int(answer.request_id)]
                if answer.HasField("ok"):
                    enrolled += 1
                    print(f"enrolled {path} as {person}: template {answer.ok.template_id}")
                else:
                    # Engine errors keep the spec's codes, e.g. 5 "can not detect face", 6 "more than one face".
                    failed.append({"file": str(path), "code": answer.error.code, "info": answer.error.info})
                    print(f"skipped  {path}: error {answer.error.code} {answer.error.info}")
            found = faces.Identify(
                face_pb2.IdentifyRequest(
                    image=common_pb2.Image(encoded=args.probe.read_bytes()),
                    gallery=args.gallery,
                    top_k=3,
                ),
                metadata=metadata,
            )
        except grpc.RpcError as e:
            # A whole-call failure: UNAUTHENTICATED (missing or wrong key), UNAVAILABLE (no server) ...
            sys.exit(f"faceserve: {e.code().name}: {e.details()}")

    match = None
    if found.matched:
        best = found.matches[0]
        match = {
            "person": best.metadata.get("person"),
            "template_id": best.template_id,
            "similarity": round(best.similarity, 4),
            "score": round(best.score, 6) if best.HasField("score") else None,
        }
        print(f"{args.probe}: {match['person']} (cosine {best.similarity:.3f}, threshold {found.threshold:.2f})")
    else:
        print(f"{args.probe}: no match (best cosine {found.best_similarity:.3f} < {found.threshold:.2f})")
    print(json.dumps({"enrolled": enrolled, "failed": failed, "match": match}))


if __name__ == "__main__":
    main()
