"""Declared schemas of the lake: one Delta table per asset.

Every table is declared here once, with its Arrow schema and its row key, so that writers are validated
against the declaration (not against whatever the first writer happened to produce) and readers can rely on
column names, types and nullability. Every table carries ``task_id`` (the partition column and the first key
column) and ``created_at`` (stamped by :class:`physworld_core.lake.Lake` at write time when a row does not
bring its own).

Every column carries a description and, where it has one, a unit (Arrow field metadata, see
:func:`column_doc`): tables created from these schemas store them as Delta field metadata. Columns are
non-nullable unless declared otherwise: a missing value is an error at write time, not a surprise for the
consumer three stages later. JSON payloads (plans, checks, metrics, specs) are stored as
strings so that their shape can evolve without a Delta schema migration; large binaries live in the blob
store and rows hold only their URI and SHA-256.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa

from physworld_core.errors import SceneError

#: The column every table is partitioned by and every key starts with.
PARTITION_COLUMN = "task_id"

#: Write timestamp, added to every table; filled by the lake when a row does not set it.
CREATED_AT_COLUMN = "created_at"
CREATED_AT_TYPE = pa.timestamp("us", tz="UTC")

#: Task ids end up in Delta predicates, object-store paths (hive partitions) and Dagster partition keys, so
#: they are restricted: 1-128 letters, digits, '-' or '_', starting with a letter or digit (a leading '-'
#: reads as a command-line option; ``fullmatch``, as ``$`` would let a trailing newline through).
TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")

_TABLE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")

#: Arrow field-metadata keys of a declared column's description and unit (e.g. "m", "s", "px").
DESCRIPTION_KEY = "description"
UNIT_KEY = "unit"


@dataclass(frozen=True)
class TableSpec:
    """One lake table: its name, declared Arrow schema and row key.

    Args:
        name: Table name; also the directory name under the lake root (lower-case snake case).
        schema: The declared Arrow schema, including ``task_id`` and ``created_at``. Field nullability is
            enforced at write time.
        keys: Columns that identify a row; starts with ``task_id``. No two rows in a write may share a key,
            and key columns may not be null.
        added: Columns declared after the table was first released, in the order they were added. They
            come last (after ``created_at``) and are nullable, so a table created before them is upgraded
            in place: writers add them (a Delta ``add_columns`` commit, which appends), readers see nulls
            for rows written earlier.
    """

    name: str
    schema: pa.Schema
    keys: tuple[str, ...]
    added: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _TABLE_NAME_PATTERN.match(self.name):
            raise ValueError(f"table name {self.name!r} must be lower-case snake case ([a-z][a-z0-9_]*)")
        if not isinstance(self.schema, pa.Schema):
            raise TypeError(f"table {self.name!r}: schema must be a pyarrow.Schema, got {type(self.schema)}")
        names = self.schema.names
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name!r}: duplicate column names in {names}")
        for required in (PARTITION_COLUMN, CREATED_AT_COLUMN):
            if required not in names:
                raise ValueError(f"table {self.name!r}: schema must contain a {required!r} column")
        if self.schema.field(PARTITION_COLUMN).type != pa.string():
            raise ValueError(f"table {self.name!r}: {PARTITION_COLUMN!r} must be a string column")
        if self.schema.field(CREATED_AT_COLUMN).type != CREATED_AT_TYPE:
            raise ValueError(f"table {self.name!r}: {CREATED_AT_COLUMN!r} must be {CREATED_AT_TYPE}")
        if not isinstance(self.keys, tuple) or not self.keys:
            raise ValueError(f"table {self.name!r}: keys must be a non-empty tuple, got {self.keys!r}")
        if self.keys[0] != PARTITION_COLUMN:
            raise ValueError(
                f"table {self.name!r}: keys must start with {PARTITION_COLUMN!r}, got {self.keys}"
            )
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"table {self.name!r}: duplicate key columns in {self.keys}")
        for key in self.keys:
            if key not in names:
                raise ValueError(f"table {self.name!r}: key column {key!r} is not in the schema {names}")
            if self.schema.field(key).nullable:
                raise ValueError(f"table {self.name!r}: key column {key!r} must be declared non-nullable")
        if tuple(names[len(names) - len(self.added) :]) != self.added:
            raise ValueError(f"table {self.name!r}: added columns {self.added} must be the last columns")
        for column in self.added:
            if not self.schema.field(column).nullable:
                raise ValueError(f"table {self.name!r}: added column {column!r} must be nullable")

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in declared order."""
        return tuple(self.schema.names)


def _col(
    name: str, type_: pa.DataType, description: str, *, unit: str | None = None, nullable: bool = False
) -> pa.Field:
    """A declared column. Its description and unit travel with the schema as Arrow field metadata, so the
    Delta table created from it, the Dagster catalog and any reader of the schema see them."""
    metadata = {DESCRIPTION_KEY: description} | ({UNIT_KEY: unit} if unit else {})
    return pa.field(name, type_, nullable=nullable, metadata=metadata)


def column_doc(column: pa.Field) -> tuple[str, str | None]:
    """The declared description and unit (None for a unitless column) of a column of ``TABLES``."""
    metadata = column.metadata or {}
    unit = metadata.get(UNIT_KEY.encode())
    return metadata.get(DESCRIPTION_KEY.encode(), b"").decode(), unit.decode() if unit else None


def _table(
    name: str, keys: tuple[str, ...], *fields: pa.Field, added: tuple[pa.Field, ...] = ()
) -> TableSpec:
    """Declare a table: ``task_id`` first, then ``fields``, then ``created_at``, then the ``added`` columns
    (declared after the table's first release; see :class:`TableSpec`)."""
    schema = pa.schema(
        [
            _col(PARTITION_COLUMN, pa.string(), "the task (Dagster partition) this row belongs to"),
            *fields,
            _col(CREATED_AT_COLUMN, CREATED_AT_TYPE, "when the row was written (UTC)"),
            *added,
        ]
    )
    return TableSpec(name=name, schema=schema, keys=keys, added=tuple(f.name for f in added))


_STR = pa.string()
_I32 = pa.int32()
_I64 = pa.int64()
_F64 = pa.float64()
_BOOL = pa.bool_()

_SPECS = (
    _table(
        "tasks",
        ("task_id",),
        _col(
            "source",
            _STR,
            "where the scene comes from: benchmark:<family>:<seed>, maniskill:<env id>:<seed> or a scene package path",
        ),
        _col("prompt", _STR, "the instruction the pipeline carries out, e.g. 'put the red can in the bin'"),
        _col(
            "family",
            _STR,
            "benchmark task family (bin, push, ...); null for stock ManiSkill envs and user captures",
            nullable=True,
        ),
        _col("seed", _I64, "seed of the benchmark world or stock env; null for user captures", nullable=True),
    ),
    _table(
        "scenes",
        ("task_id",),
        _col("rgb_uri", _STR, "blob URI of the input colour image (PNG, H x W x 3)"),
        _col("rgb_sha256", _STR, "SHA-256 of the colour image blob"),
        _col("depth_uri", _STR, "blob URI of the input depth image (uint16 PNG, millimetres)"),
        _col("depth_sha256", _STR, "SHA-256 of the depth image blob"),
        _col(
            "camera_json",
            _STR,
            "camera intrinsics (fx, fy, cx, cy in px) and optional camera-to-world extrinsics, as JSON",
        ),
        _col("prompt", _STR, "the task's instruction, as read at ingest"),
        _col("source", _STR, "the task's source, as read at ingest"),
        _col("width", _I32, "image width", unit="px"),
        _col("height", _I32, "image height", unit="px"),
    ),
    _table(
        "perceptions",
        ("task_id",),
        _col("scene_sha256", _STR, "SHA-256 of the scene's images, camera and prompt it was perceived from"),
        _col("skill", _STR, "the skill the prompt asks for (place, push, upright, pour, sweep, ...)"),
        _col("target", _STR, "what perception calls the object to move, e.g. 'red cylinder'"),
        _col("goal", _STR, "what it calls the goal object; null when the goal is the table", nullable=True),
        _col("num_objects", _I32, "objects (and flat markings) found on the table"),
        _col("plane_rms_m", _F64, "rms distance of the table's points from the fitted plane", unit="m"),
        _col("tilt_deg", _F64, "how far the fitted table is from level", unit="deg"),
        _col("levelled", _BOOL, "whether the scene was also perceived with its table levelled (it tilts)"),
        _col("perception_uri", _STR, "blob URI of the stored perception (.npz: masks, points, skill's view)"),
        _col("perception_sha256", _STR, "SHA-256 of the perception blob"),
        _col("summary_json", _STR, "plane, objects, instruction, grounding and the skill's view, as JSON"),
        _col("seconds", _F64, "perception wall time", unit="s"),
    ),
    _table(
        "videos",
        ("task_id", "sample"),
        _col("sample", _I32, "index of the generated sample for this task, from 0"),
        _col("backend", _STR, "video backend that generated it (procedural, wan, cogvideox, ltx)"),
        _col("seed", _I64, "generation seed of this sample"),
        _col("fps", _F64, "frame rate", unit="frames/s"),
        _col("num_frames", _I32, "number of frames", unit="frames"),
        _col("width", _I32, "frame width", unit="px"),
        _col("height", _I32, "frame height", unit="px"),
        _col("video_uri", _STR, "blob URI of the mp4"),
        _col("video_sha256", _STR, "SHA-256 of the mp4 blob"),
        _col("plan_json", _STR, "what the backend was asked to show (object, path, timing), as JSON"),
        _col("checks_json", _STR, "each video check by name -> passed (true/false), plus 'passed', as JSON"),
        _col(
            "passed",
            _BOOL,
            "whether every video check passed (frames, no blank frame, the named object moves)",
        ),
        _col("seconds", _F64, "generation wall time", unit="s"),
    ),
    _table(
        "video_scores",
        ("task_id", "sample"),
        _col("sample", _I32, "the video sample scored (videos.sample)"),
        _col("reconstructed", _BOOL, "whether the sample could be reconstructed at all"),
        _col(
            "feasibility",
            _F64,
            "physical feasibility of the reconstructed motion in the twin, 0 (impossible) to 1",
        ),
        _col(
            "max_gap_m",
            _F64,
            "largest gap between the tracked object and where physics lets it be; null if not reconstructed",
            unit="m",
            nullable=True,
        ),
        _col(
            "max_penetration_m",
            _F64,
            "deepest interpenetration along the motion; null if not reconstructed",
            unit="m",
            nullable=True,
        ),
        _col(
            "peak_accel",
            _F64,
            "largest acceleration of the tracked object; null if not reconstructed",
            unit="m/s²",
            nullable=True,
        ),
        _col(
            "tracking_iou",
            _F64,
            "mean IoU of the tracked object's mask over the frames, 0-1; null if not reconstructed",
            nullable=True,
        ),
        _col(
            "reasons_json",
            _STR,
            "why the score is lowered (or why reconstruction failed), a JSON list of sentences",
        ),
        _col(
            "selected", _BOOL, "whether this sample is the one reconstructed into the twin (best feasibility)"
        ),
    ),
    _table(
        "reconstructions",
        ("task_id",),
        _col("sample", _I32, "the video sample reconstructed (videos.sample)"),
        _col("target", _STR, "label of the object the task moves"),
        _col("container", _STR, "label of the goal object or region"),
        _col("plane_json", _STR, "support plane in world coordinates: unit normal and offset (m), as JSON"),
        _col(
            "objects_json",
            _STR,
            "every reconstructed object: name, role, label, mesh blob URI, 4x4 world pose (m), colour, as JSON",
        ),
        _col(
            "trajectory_json",
            _STR,
            "the target's 6-DoF trajectory over the video (times in s, poses in m), as JSON",
        ),
        _col(
            "metrics_json",
            _STR,
            "reconstruction diagnostics: plane fit, tracking, depth calibration, feasibility, as JSON",
        ),
        _col("seconds", _F64, "reconstruction wall time", unit="s"),
        # Figures readers filter and check on, out of metrics_json (null in rows written before them).
        added=(
            _col("feasibility", _F64, "physics feasibility score of the chosen video, 0-1", nullable=True),
            _col(
                "plane_rms_m",
                _F64,
                "rms distance of table points to the fitted plane",
                unit="m",
                nullable=True,
            ),
            _col(
                "tracking_mean_iou", _F64, "mean IoU of the tracked target's silhouette, 0-1", nullable=True
            ),
            _col(
                "visible_fraction", _F64, "fraction of frames where the target was seen, 0-1", nullable=True
            ),
        ),
    ),
    _table(
        "twins",
        ("task_id",),
        _col(
            "spec_json",
            _STR,
            "the twin's ManiSkill scene spec (objects, meshes, masses in kg, frictions), as JSON",
        ),
        _col("spec_uri", _STR, "blob URI of the same spec"),
        _col(
            "settle_json",
            _STR,
            "result of letting the twin settle: max penetration and drift (m), reasons, as JSON",
        ),
        _col("passed", _BOOL, "whether nothing interpenetrates and every object rests after settling"),
        _col("seconds", _F64, "twin build and settle wall time", unit="s"),
        added=(
            _col(
                "max_penetration_m", _F64, "deepest interpenetration after settling", unit="m", nullable=True
            ),
            _col("max_drift_m", _F64, "largest drift of an object while settling", unit="m", nullable=True),
        ),
    ),
    _table(
        "policies",
        ("task_id", "method"),
        _col(
            "method",
            _STR,
            "how the policy was made: planner_only, physworld, visual_imitation, scratch_rl, oracle_twin",
        ),
        _col("plan_json", _STR, "the task plan the policy follows (skill, grasp, waypoints in m), as JSON"),
        _col(
            "checkpoint_uri",
            _STR,
            "blob URI of the safetensors checkpoint; null for methods without learned weights",
            nullable=True,
        ),
        _col("checkpoint_sha256", _STR, "SHA-256 of the checkpoint blob; null without one", nullable=True),
        _col("env_steps", _I64, "environment steps spent learning", unit="steps"),
        _col(
            "twin_success", _F64, "success rate of the policy's evaluation episodes in the nominal twin, 0-1"
        ),
        _col(
            "curve_json",
            _STR,
            "learning curve: env steps, episode success rate and mean return per PPO update, as JSON",
        ),
        _col("seconds", _F64, "learning wall time", unit="s"),
        # What a learned method deploys: "residual" (its checkpoint) or "planner" (the gate kept the planner
        # because the residual did no better in the nominal twin); null for methods with nothing to choose.
        added=(
            _col(
                "deployed",
                _STR,
                "what a learned method deploys: residual (its checkpoint) or planner (the gate kept the planner); null for methods with nothing to choose",
                nullable=True,
            ),
        ),
    ),
    _table(
        "evaluations",
        ("task_id", "method", "trial"),
        _col("method", _STR, "the method executed (policies.method)"),
        _col("trial", _I32, "trial index, from 0"),
        _col("success", _BOOL, "whether the world's own success test passed"),
        _col(
            "failure",
            _STR,
            "failure class when it did not: grasp, reconstruction, tracking or execution; null on success",
            nullable=True,
        ),
        _col("env_seed", _I64, "seed of the ground-truth world episode"),
        _col("steps", _I32, "control steps executed", unit="steps"),
        _col(
            "final_distance",
            _F64,
            "horizontal distance from the object to the goal centre at the end",
            unit="m",
        ),
        _col("seconds", _F64, "trial wall time", unit="s"),
    ),
    _table(
        "rollouts",
        ("task_id", "method", "trial"),
        _col("method", _STR, "the method executed (policies.method)"),
        _col("trial", _I32, "trial index (evaluations.trial)"),
        _col("family", _STR, "benchmark task family; null for stock envs and user captures", nullable=True),
        _col("prompt", _STR, "the task's instruction (the episode's language annotation)"),
        _col("success", _BOOL, "whether the world's own success test passed"),
        _col("failure", _STR, "failure class when it did not; null on success", nullable=True),
        _col("frames", _I32, "recorded control steps", unit="frames"),
        _col("fps", _F64, "control rate of the recording", unit="frames/s"),
        _col("data_uri", _STR, "blob URI of the npz with per-step states and actions"),
        _col("data_sha256", _STR, "SHA-256 of the npz blob"),
        _col(
            "video_uri", _STR, "blob URI of the camera mp4; null when no camera was recorded", nullable=True
        ),
        _col("video_sha256", _STR, "SHA-256 of the mp4 blob; null without one", nullable=True),
        _col(
            "camera_json",
            _STR,
            "the recording camera (intrinsics in px, extrinsics), as JSON; null without a camera",
            nullable=True,
        ),
        _col(
            "lineage_json",
            _STR,
            "what the rollout came from: video sample, policy checkpoint SHA-256, as JSON",
        ),
        added=(
            _col(
                "video_sample", _I32, "the generated video sample the policy was learned from", nullable=True
            ),
            _col(
                "policy_checkpoint_sha256",
                _STR,
                "SHA-256 of the policy checkpoint executed; null when a planner ran",
                nullable=True,
            ),
        ),
    ),
    _table(
        "task_status",
        ("task_id",),
        _col("run_id", _STR, "the Dagster run this status comes from"),
        _col("status", _STR, "how the task's latest run ended: success or failure"),
        _col(
            "failure_class",
            _STR,
            "why it failed, for the next nightly run: input (bad scene or prompt: not retried until the task "
            "changes), storage (the lake did not answer: retried), worker (the run's process died: retried) or "
            "internal (anything else: retried once); null on success",
            nullable=True,
        ),
        _col("failed_step", _STR, "the step that failed; null on success or when no step did", nullable=True),
        _col("reason", _STR, "the failure's message, one line; null on success", nullable=True),
        _col("failures", _I32, "failures in a row, this one included; 0 after a success", unit="runs"),
    ),
)

#: Registry of every lake table, by name. Add a table by declaring it above, not by mutating this dict.
TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _SPECS}


def validate_task_id(task_id: object) -> str:
    """Return ``task_id`` if it matches :data:`TASK_ID_PATTERN`, else raise :class:`SceneError`.

    The one check of a task id, for the scene layer (a package, the inbox, the CLI) and the lake alike:
    ids are interpolated into Delta predicates and become partition directory names, so anything outside
    this alphabet is refused rather than escaped. ``SceneError`` is a ``ValueError``: the lake turns it into
    a ``LakeError`` naming the table.
    """
    if not isinstance(task_id, str) or not TASK_ID_PATTERN.fullmatch(task_id):
        raise SceneError(
            f"task_id {task_id!r} is not allowed: use 1-128 letters, digits, '-' or '_', starting with a "
            "letter or digit (no paths like '../x')"
        )
    return task_id
