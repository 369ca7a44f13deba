"""The twin as a ManiSkill environment, built from a :class:`TwinSpec` whose mesh URIs are local paths.

Domain randomization: with ``randomize_physics=True`` every scene (re)configuration draws masses and
frictions from the spec's uncertainty ranges; pass ``reconfiguration_freq=k`` to redraw every k resets.
"""

from __future__ import annotations

import json

import numpy as np
import sapien
import torch
import trimesh
from mani_skill.utils.registration import register_env
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat

from physworld_core.errors import TwinError
from physworld_core.scene import CameraSpec
from physworld_core.sim.base_env import TabletopEnv, require_collision_shapes
from physworld_core.twin.spec import GoalRegion, PhysicsDraw, TwinObject, TwinSpec

ENV_ID = "PhysWorld-Twin-v0"
TABLE_HALF = (0.7, 0.8, 0.05)
TABLE_CENTER_XY = (-0.1, 0.0)


def _mesh_volume(path: str) -> float:
    mesh = trimesh.load(path, force="mesh", process=True)
    volume = float(abs(mesh.volume)) if mesh.is_volume else float(mesh.convex_hull.volume)
    if not np.isfinite(volume) or volume <= 0:
        raise TwinError(f"collision mesh {path} has no volume")
    return volume


def _object_volume(obj: TwinObject) -> float:
    volume = sum(_mesh_volume(p) for p in obj.collision_meshes)
    volume += sum(8 * h[0] * h[1] * h[2] for _, h in obj.collision_boxes)
    return volume


def collision_points(obj: TwinObject) -> np.ndarray:
    """Vertices of an object's collision geometry (convex parts and box corners), in its frame."""
    points = [np.asarray(trimesh.load(p, force="mesh", process=False).vertices) for p in obj.collision_meshes]
    points += [np.asarray(c) + np.asarray(h) * s for c, h in obj.collision_boxes for s in (-1, 1)]
    return np.vstack(points)


@register_env(ENV_ID, max_episode_steps=200)
class TwinEnv(TabletopEnv):
    """**Task Description:** move the reconstructed target along its object-centric trajectory into the goal
    region, in a scene rebuilt from one RGB-D frame and a generated video.

    **Randomizations:** masses and frictions within the estimated uncertainty ranges (when enabled).

    **Success Conditions:** the target's centre is inside the goal region (a container's interior below its rim,
    a flat marking with the object resting on the table, or the top of another body with the object resting on
    it) and the gripper has let go.
    """

    def __init__(
        self, *args, twin_spec: TwinSpec, randomize_physics: bool = False, dr_seed: int = 0, **kwargs
    ):
        self.twin_spec = twin_spec
        self.randomize_physics = randomize_physics
        self._dr_rng = np.random.default_rng(dr_seed)
        self._volumes = {o.name: _object_volume(o) for o in twin_spec.objects}
        self._target_points = collision_points(twin_spec.target)
        self.physics = PhysicsDraw.nominal(twin_spec)
        kwargs.setdefault("scene_camera", None)
        if kwargs["scene_camera"] is None:
            kwargs["scene_camera"] = CameraSpec.from_dict(json.loads(twin_spec.camera_json), "twin camera")
        super().__init__(*args, **kwargs)

    def _build_objects(self) -> None:
        spec = self.twin_spec
        if self.randomize_physics:
            self.physics = PhysicsDraw.sample(spec, self._dr_rng)
        table = self.scene.create_actor_builder()
        top = spec.table_height
        half = TABLE_HALF
        pose = sapien.Pose(p=[TABLE_CENTER_XY[0], TABLE_CENTER_XY[1], top - half[2]])
        table.add_box_collision(pose=pose, half_size=half)
        table.add_box_visual(
            pose=pose, half_size=half, material=sapien.render.RenderMaterial(base_color=list(spec.table_rgba))
        )
        table.initial_pose = sapien.Pose()
        self.table = table.build_static(name="table")
        self.actors = {}
        for obj in spec.objects:
            self.actors[obj.name] = self._build_object(obj)
        self.target_object = self.actors[spec.target.name]
        if spec.goal.rgba is not None:  # a flat marking: drawn, no body
            self._build_marking(spec.goal)

    def _build_marking(self, goal) -> None:
        """The flat goal marking, drawn on the table (visual only: a marking has no body)."""
        builder = self.scene.create_actor_builder()
        material = sapien.render.RenderMaterial(base_color=list(goal.rgba or (0.8, 0.1, 0.1, 1.0)))
        if goal.shape == "disc":
            builder.add_cylinder_visual(
                pose=sapien.Pose(q=[0.7071068, 0.0, 0.7071068, 0.0]),  # the cylinder axis (x) turned to z
                radius=goal.half_extents[0],
                half_length=0.0005,
                material=material,
            )
        else:
            builder.add_box_visual(half_size=[*goal.half_extents, 0.0005], material=material)
        builder.initial_pose = sapien.Pose(
            p=[goal.center[0], goal.center[1], self.twin_spec.table_height + 0.0006],
            q=euler2quat(0, 0, goal.yaw),
        )
        self.marking = builder.build_kinematic(name="goal_marking")

    def _build_object(self, obj: TwinObject):
        builder = self.scene.create_actor_builder()
        friction = self.physics.friction[obj.name]
        material = sapien.physx.PhysxMaterial(
            static_friction=friction, dynamic_friction=friction, restitution=0.0
        )
        density = self.physics.mass[obj.name] / self._volumes[obj.name]
        for path in obj.collision_meshes:
            builder.add_convex_collision_from_file(path, material=material, density=density)
        for centre, half in obj.collision_boxes:
            builder.add_box_collision(
                pose=sapien.Pose(p=list(centre)), half_size=list(half), material=material, density=density
            )
        builder.add_visual_from_file(
            obj.visual_mesh, material=sapien.render.RenderMaterial(base_color=list(obj.rgba))
        )
        builder.initial_pose = sapien.Pose(p=list(obj.pose[:3]), q=list(obj.pose[3:]))
        actor = builder.build_kinematic(name=obj.name) if obj.fixed else builder.build(name=obj.name)
        expected = len(obj.collision_meshes) + len(obj.collision_boxes)
        require_collision_shapes(actor, f"twin object {obj.name}", expected, error=TwinError)
        return actor

    def _place_objects(self, env_idx: torch.Tensor) -> None:
        for obj in self.twin_spec.objects:
            actor = self.actors[obj.name]
            actor.set_pose(
                Pose.create_from_pq(
                    torch.tensor([obj.pose[:3]], dtype=torch.float32),
                    torch.tensor([obj.pose[3:]], dtype=torch.float32),
                )
            )
            if not obj.fixed:
                actor.set_linear_velocity(torch.zeros((1, 3)))
                actor.set_angular_velocity(torch.zeros((1, 3)))

    def target_points_local(self) -> np.ndarray:
        return self._target_points

    def evaluate(self):
        """Scored as the goal's kind says (:meth:`~physworld_core.twin.goals.GoalKind.score`)."""
        success, inside, grasped = self.twin_spec.goal.goal_kind.score(self, self.twin_spec.goal)
        return {
            "success": torch.tensor([bool(success)]),
            "inside": torch.tensor([inside]),
            "grasped": torch.tensor([bool(grasped)]),
        }

    def grasping(self) -> bool:
        """Whether the gripper holds the target now."""
        return bool(self.agent.is_grasping(self.target_object)[0])

    def goal_shift(self, goal: GoalRegion) -> np.ndarray | None:
        """How far the body a goal rests on (``on``) has moved since the spec was made; ``None`` when the goal
        rests on nothing that moves."""
        if goal.on is None:
            return None
        rest = next(o for o in self.twin_spec.objects if o.name == goal.on).pose[:3]
        return self.actors[goal.on].pose.p[0].cpu().numpy() - np.asarray(rest)

    def contents_inside(self) -> np.ndarray:
        """For a goal scored on the contents (poured, swept): which of them lie in the goal (centre inside it,
        below its rim)."""
        goal = self.twin_spec.goal
        inside = []
        for obj in self.twin_spec.contents:
            p = self.actors[obj.name].pose.p[0].cpu().numpy().astype(np.float64)
            inside.append(goal.contains(p, margin=0.0))
        return np.asarray(inside, dtype=bool)
