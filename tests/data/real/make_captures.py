"""Rebuild the real RGB-D captures in this folder from their public source repositories.

Not run by the tests: it documents, as code, exactly how every stored file was made (README.md says the same
in words). Each source repository is read from a bare git clone at a pinned commit with ``git show``, so the
output does not depend on a work tree. Usage::

    python tests/data/real/make_captures.py --pcl-data PCL_DATA.git --ycbv YCBV_VIS.git --cleargrasp CG.git

where the three arguments are git directories of PointCloudLibrary/data, xbliuhnu/6DoF-Pose-Visualization and
Shreeyak/cleargrasp. Nothing is resized or cropped; the conversions are lossless except where README.md says
otherwise (ClearGrasp's half-float depth rounded to millimetres).
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

OUT = Path(__file__).resolve().parent

PCL_DATA_COMMIT = "5c26bdd0591ba150b91858b5c9fe5e91cb39ae86"
YCBV_VIS_COMMIT = "f1ac3a0740e1f9d5547356dd74a2d7aee3ca57f4"
CLEARGRASP_COMMIT = "0688647e49380139e440bacbe8562132bb2afbd7"

# YCB-Video class index (1-based, the order of the dataset's classes.txt) -> YCB object id.
YCBV_CLASSES = (
    "002_master_chef_can", "003_cracker_box", "004_sugar_box", "005_tomato_soup_can", "006_mustard_bottle",
    "007_tuna_fish_can", "008_pudding_box", "009_gelatin_box", "010_potted_meat_can", "011_banana",
    "019_pitcher_base", "021_bleach_cleanser", "024_bowl", "025_mug", "035_power_drill", "036_wood_block",
    "037_scissors", "040_large_marker", "051_large_clamp", "052_extra_large_clamp", "061_foam_brick",
)  # fmt: skip


def git_show(git_dir: Path, commit: str, path: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir), "show", f"{commit}:{path}"], check=True, capture_output=True
    ).stdout


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def write_capture(name: str, files: dict[str, bytes], meta: dict) -> None:
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


# --- PCD (binary_compressed) reading: PCL's LZF-compressed, field-major layout -------------------------------


def lzf_decompress(data: bytes, out_len: int) -> bytes:
    """LibLZF decompression (the codec PCL uses for ``DATA binary_compressed``)."""
    out = bytearray(out_len)
    ip = op = 0
    while ip < len(data):
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:  # literal run of ctrl + 1 bytes
            out[op : op + ctrl + 1] = data[ip : ip + ctrl + 1]
            ip += ctrl + 1
            op += ctrl + 1
            continue
        length = ctrl >> 5
        ref = op - ((ctrl & 0x1F) << 8) - 1
        if length == 7:
            length += data[ip]
            ip += 1
        ref -= data[ip]
        ip += 1
        length += 2
        if ref + length <= op:  # back-reference to bytes already written
            out[op : op + length] = out[ref : ref + length]
            op += length
        else:  # overlapping back-reference: repeats a short pattern, copy byte by byte
            for _ in range(length):
                out[op] = out[ref]
                op += 1
                ref += 1
    if op != out_len:
        raise ValueError(f"LZF stream decoded to {op} bytes, header says {out_len}")
    return bytes(out)


def read_organized_pcd(raw: bytes) -> dict[str, np.ndarray]:
    header: dict[str, list[str]] = {}
    pos = 0
    while "DATA" not in header:
        end = raw.index(b"\n", pos)
        line = raw[pos:end].decode().strip()
        pos = end + 1
        if line and not line.startswith("#"):
            key, *values = line.split()
            header[key] = values
    if header["DATA"] != ["binary_compressed"]:
        raise ValueError(f"expected DATA binary_compressed, got {header['DATA']}")
    width, height = int(header["WIDTH"][0]), int(header["HEIGHT"][0])
    compressed, uncompressed = struct.unpack("<II", raw[pos : pos + 8])
    buffer = lzf_decompress(raw[pos + 8 : pos + 8 + compressed], uncompressed)
    fields: dict[str, np.ndarray] = {}
    offset = 0
    for name, size, kind in zip(header["FIELDS"], header["SIZE"], header["TYPE"]):
        dtype = {"U": "<u4", "F": "<f4", "I": "<i4"}[kind]
        assert int(size) == 4
        fields[name] = np.frombuffer(buffer, dtype=dtype, count=width * height, offset=offset).reshape(
            height, width
        )
        offset += 4 * width * height
    return fields


# --- the captures --------------------------------------------------------------------------------------------


def make_mosd(git_dir: Path, scene: str, name: str, object_names: dict[int, str], extra: dict) -> None:
    path = f"segmentation/mOSD/test/{scene}.pcd"
    cloud = read_organized_pcd(git_show(git_dir, PCL_DATA_COMMIT, path))
    height, width = cloud["z"].shape
    z = cloud["z"]
    valid = np.isfinite(z) & (z > 0)
    # The cloud is organised: pixel (u, v) holds the back-projection of the Kinect depth at (u, v). Recover the
    # pinhole intrinsics by least squares on u = fx * x / z + cx and v = fy * y / z + cy; the residual is ~0.
    rows, cols = np.nonzero(valid)
    fx, cx = np.linalg.lstsq(
        np.stack([cloud["x"][valid] / z[valid], np.ones(valid.sum())], 1), cols, rcond=None
    )[0]
    fy, cy = np.linalg.lstsq(
        np.stack([cloud["y"][valid] / z[valid], np.ones(valid.sum())], 1), rows, rcond=None
    )[0]
    depth_mm = np.where(valid, np.round(np.where(valid, z, 0) * 1000.0), 0).astype(np.uint16)
    rgba = cloud["rgba"]
    rgb = np.stack([(rgba >> 16) & 255, (rgba >> 8) & 255, rgba & 255], -1).astype(np.uint8)
    label = cloud["label"].astype(np.int64)
    # mOSD: 0 = NaN point, 1..9 = table parts, 10k..10k+9 = parts of object k-1 (k >= 2). Merge parts.
    instances = np.where(label >= 20, label // 10 - 1, 0).astype(np.uint8)
    table = ((label >= 1) & (label <= 9)).astype(np.uint8) * 255
    ids = sorted(int(i) for i in np.unique(instances) if i)
    if ids != sorted(object_names):
        raise ValueError(f"{scene}: instance ids {ids} but names given for {sorted(object_names)}")
    meta = {
        "name": name,
        "camera": {
            "model": "Microsoft Kinect (v1) / ASUS Xtion class structured-light sensor, 640x480",
            "fx": round(float(fx), 4),
            "fy": round(float(fy), 4),
            "cx": round(float(cx), 4),
            "cy": round(float(cy), 4),
            "width": width,
            "height": height,
        },
        "files": {
            "rgb": "rgb.png",
            "depth": "depth.png",
            "instances": "instances.png",
            "support": "table.png",
        },
        "depth_scale_m": 0.001,
        "objects": [{"id": i, "name": object_names[i], "pose_cam": None} for i in ids],
        "source": {
            "repository": "https://github.com/PointCloudLibrary/data",
            "commit": PCL_DATA_COMMIT,
            "paths": [path],
            "dataset": "mOSD (Alexandrov's modified Object Segmentation Database, after Richtsfeld et al. OSD)",
        },
        **extra,
    }
    write_capture(
        name,
        {
            "rgb.png": png_bytes(rgb),
            "depth.png": png_bytes(depth_mm),
            "instances.png": png_bytes(instances),
            "table.png": png_bytes(table),
        },
        meta,
    )


def make_ycbv(git_dir: Path, frame: str, name: str, object_names: dict[str, str], extra: dict) -> None:
    import scipy.io  # only this converter needs it

    base = f"data/{frame}"
    meta_mat = scipy.io.loadmat(io.BytesIO(git_show(git_dir, YCBV_VIS_COMMIT, f"{base}-meta.mat")))
    rgb_png = git_show(git_dir, YCBV_VIS_COMMIT, f"{base}-color.png")
    depth_png = git_show(git_dir, YCBV_VIS_COMMIT, f"{base}-depth.png")
    label = np.array(Image.open(io.BytesIO(git_show(git_dir, YCBV_VIS_COMMIT, f"{base}-label.png"))))
    K = meta_mat["intrinsic_matrix"]
    classes = [int(c) for c in meta_mat["cls_indexes"].ravel()]
    instances = np.zeros(label.shape, np.uint8)
    objects = []
    for instance_id, class_index in enumerate(classes, start=1):
        instances[label == class_index] = instance_id
        pose = np.eye(4)
        pose[:3, :] = meta_mat["poses"][:, :, instance_id - 1]
        ycb_id = YCBV_CLASSES[class_index - 1]
        objects.append(
            {
                "id": instance_id,
                "name": object_names[ycb_id],
                "source_label": ycb_id,
                "pose_cam": [[round(float(x), 7) for x in row] for row in pose],
            }
        )
    height, width = label.shape
    meta = {
        "name": name,
        "camera": {
            "model": "ASUS Xtion Pro Live (YCB-Video camera 1), 640x480",
            "fx": float(K[0, 0]),
            "fy": float(K[1, 1]),
            "cx": float(K[0, 2]),
            "cy": float(K[1, 2]),
            "width": width,
            "height": height,
        },
        "files": {"rgb": "rgb.png", "depth": "depth.png", "instances": "instances.png"},
        "depth_scale_m": 1.0 / float(meta_mat["factor_depth"][0, 0]),
        "objects": objects,
        "source": {
            "repository": "https://github.com/xbliuhnu/6DoF-Pose-Visualization",
            "commit": YCBV_VIS_COMMIT,
            "paths": [f"{base}-{s}" for s in ("color.png", "depth.png", "label.png", "meta.mat")],
            "dataset": "YCB-Video (Xiang et al., PoseCNN, RSS 2018), real 'data/' frames",
        },
        **extra,
    }
    write_capture(
        name, {"rgb.png": rgb_png, "depth.png": depth_png, "instances.png": png_bytes(instances)}, meta
    )


def make_cleargrasp(git_dir: Path, frame: str, name: str, object_names: dict[int, str], extra: dict) -> None:
    import os

    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")  # must be set before cv2 is imported
    import cv2  # EXR reading; only this converter needs it

    base = f"data/sample_dataset/real-val/d435/{frame}"

    def exr_depth_mm(suffix: str) -> np.ndarray:
        raw = np.frombuffer(git_show(git_dir, CLEARGRASP_COMMIT, f"{base}-{suffix}"), np.uint8)
        depth = cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)[..., 0].astype(np.float64)
        depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0)
        return np.round(depth * 1000.0).astype(np.uint16)

    sensor_mm = exr_depth_mm("transparent-depth-img.exr")
    reference_mm = exr_depth_mm("opaque-depth-img.exr")
    rgb_jpg = git_show(git_dir, CLEARGRASP_COMMIT, f"{base}-transparent-rgb-img.jpg")
    mask = np.array(Image.open(io.BytesIO(git_show(git_dir, CLEARGRASP_COMMIT, f"{base}-mask.png")))) > 0
    count, components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    # Number the components left to right by their centroid column, so ids are stable and names can follow.
    order = sorted(range(1, count), key=lambda k: float(np.nonzero(components == k)[1].mean()))
    instances = np.zeros(mask.shape, np.uint8)
    for new_id, k in enumerate(order, start=1):
        instances[components == k] = new_id
    if sorted(object_names) != list(range(1, count)):
        raise ValueError(f"{frame}: {count - 1} mask components but names for {sorted(object_names)}")
    intrinsics = git_show(
        git_dir, CLEARGRASP_COMMIT, "data/sample_dataset/real-val/d435/camera_intrinsics.yaml"
    )
    values = {}
    for line in intrinsics.decode().splitlines():
        key, _, rest = line.partition(":")
        if key.strip() in ("xres", "yres", "fx", "fy", "cx", "cy"):
            values[key.strip()] = float(rest.split("#")[0])
    meta = {
        "name": name,
        "camera": {
            "model": "Intel RealSense D435 (active stereo), 1280x720",
            "fx": values["fx"],
            "fy": values["fy"],
            "cx": values["cx"],
            "cy": values["cy"],
            "width": int(values["xres"]),
            "height": int(values["yres"]),
        },
        "files": {
            "rgb": "rgb.jpg",
            "depth": "depth.png",
            "instances": "instances.png",
            "depth_reference": "depth_reference.png",
        },
        "depth_scale_m": 0.001,
        "objects": [{"id": i, "name": object_names[i], "pose_cam": None} for i in sorted(object_names)],
        "source": {
            "repository": "https://github.com/Shreeyak/cleargrasp",
            "commit": CLEARGRASP_COMMIT,
            "paths": [
                f"{base}-{s}"
                for s in (
                    "transparent-rgb-img.jpg",
                    "transparent-depth-img.exr",
                    "opaque-depth-img.exr",
                    "mask.png",
                )
            ]
            + ["data/sample_dataset/real-val/d435/camera_intrinsics.yaml"],
            "dataset": "ClearGrasp real validation set (Sajjan et al., ICRA 2020)",
        },
        **extra,
    }
    write_capture(
        name,
        {
            "rgb.jpg": rgb_jpg,
            "depth.png": png_bytes(sensor_mm),
            "depth_reference.png": png_bytes(reference_mm),
            "instances.png": png_bytes(instances),
        },
        meta,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pcl-data", type=Path, required=True)
    parser.add_argument("--ycbv", type=Path, required=True)
    parser.add_argument("--cleargrasp", type=Path, required=True)
    args = parser.parse_args()
    captures = json.loads((OUT / "captures.json").read_text())
    for spec in captures:
        kind = spec.pop("kind")
        if kind == "mosd":
            names = {int(k): v for k, v in spec.pop("object_names").items()}
            make_mosd(args.pcl_data, spec.pop("scene"), spec.pop("name"), names, spec)
        elif kind == "ycbv":
            make_ycbv(args.ycbv, spec.pop("frame"), spec.pop("name"), spec.pop("object_names"), spec)
        elif kind == "cleargrasp":
            names = {int(k): v for k, v in spec.pop("object_names").items()}
            make_cleargrasp(args.cleargrasp, spec.pop("frame"), spec.pop("name"), names, spec)
        else:
            raise ValueError(f"unknown capture kind {kind!r}")


if __name__ == "__main__":
    main()
