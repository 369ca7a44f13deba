"""standing_axis on synthetic points: a bottle lying on its side (one view's half or all of it), and objects
that do not lie on their side."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.errors import GroundingError
from physworld_core.skills.upright.perception import StandingAxis, standing_axis

TABLE = 0.05  # table height: heights are measured above the plane, not above z = 0
BODY_RADIUS, BODY_LENGTH, NECK_RADIUS, LENGTH = 0.028, 0.10, 0.012, 0.16


def _bottle_radius(z: np.ndarray) -> np.ndarray:
    """Body, a conical shoulder from 10 to 13 cm, then the neck up to 16 cm."""
    shoulder = np.clip((z - BODY_LENGTH) / 0.03, 0.0, 1.0)
    return BODY_RADIUS + shoulder * (NECK_RADIUS - BODY_RADIUS)


def _lying_bottle(yaw: float, camera_azimuth: float | None, xy=(0.1, -0.05)) -> tuple[np.ndarray, np.ndarray]:
    """Surface points of a bottle lying with its top pointing at ``yaw``, and the true base→top axis.

    ``camera_azimuth`` None: the closed surface; else only the half facing a camera 50° above the table."""
    z, phi = np.meshgrid(np.linspace(0.0, LENGTH, 161), np.linspace(-np.pi, np.pi, 72, endpoint=False))
    z, phi = z.ravel(), phi.ravel()
    radius = _bottle_radius(z)
    axis = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    side = np.cross([0.0, 0.0, 1.0], axis)
    radial = np.cos(phi)[:, None] * side + np.sin(phi)[:, None] * np.array([0.0, 0.0, 1.0])
    base_centre = np.array([xy[0], xy[1], TABLE + BODY_RADIUS]) - axis * LENGTH / 2
    points = base_centre + z[:, None] * axis + radius[:, None] * radial
    if camera_azimuth is not None:
        elevation = np.deg2rad(50)
        towards_camera = np.array(
            [
                np.cos(camera_azimuth) * np.cos(elevation),
                np.sin(camera_azimuth) * np.cos(elevation),
                np.sin(elevation),
            ]
        )
        points = points[radial @ towards_camera > 0.05]
    return points[points[:, 2] > TABLE + 0.008], axis  # segmentation keeps what is clearly above the table


@pytest.mark.parametrize("yaw_deg", [0, 35, 90, 160, -120, -60])
@pytest.mark.parametrize("camera_azimuth_deg", [None, 0, 70, 200])
def test_the_base_end_is_the_wide_end_from_one_view_and_from_all_sides(yaw_deg, camera_azimuth_deg):
    azimuth = None if camera_azimuth_deg is None else np.deg2rad(camera_azimuth_deg)
    points, true_axis = _lying_bottle(np.deg2rad(yaw_deg), azimuth)
    found = standing_axis(points, np.array([0.0, 0.0, 1.0]), TABLE, name="bottle")
    assert found.axis @ true_axis > np.cos(np.deg2rad(3))  # base → top, not the other way round
    assert abs(found.axis[2]) < 1e-9  # along the table
    assert found.length == pytest.approx(LENGTH, abs=0.005)
    assert found.radius == pytest.approx(BODY_RADIUS, abs=0.002)
    np.testing.assert_allclose(found.centre, [0.1, -0.05, TABLE + BODY_RADIUS], atol=0.005)
    np.testing.assert_allclose(found.base_end, found.centre - found.axis * found.length / 2)
    assert set(found.to_dict()) == {"centre", "axis", "length", "radius", "base_end"}


def test_a_tilted_table_measures_heights_along_its_normal():
    points, true_axis = _lying_bottle(np.deg2rad(30), np.deg2rad(10))
    tilt = np.deg2rad(5)
    rotation = np.array([[1, 0, 0], [0, np.cos(tilt), -np.sin(tilt)], [0, np.sin(tilt), np.cos(tilt)]])
    up = rotation @ [0.0, 0.0, 1.0]
    found = standing_axis(points @ rotation.T, up, TABLE)  # the plane through z=TABLE, tilted with them
    assert found.axis @ (rotation @ true_axis) > np.cos(np.deg2rad(3))
    assert abs(found.axis @ up) < 1e-9


def test_a_lying_can_has_no_base_and_either_end_is_chosen_deterministically():
    z, phi = np.meshgrid(np.linspace(0, 0.12, 61), np.linspace(-np.pi, np.pi, 48, endpoint=False))
    can = np.stack([z.ravel() - 0.06, 0.03 * np.cos(phi.ravel()), 0.03 + 0.03 * np.sin(phi.ravel())], axis=1)
    first = standing_axis(can, np.array([0.0, 0.0, 1.0]))
    again = standing_axis(can[::-1], np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(first.axis, again.axis)
    assert abs(first.axis[0]) == pytest.approx(1.0)
    assert first.radius == pytest.approx(0.03, abs=0.001)


@pytest.mark.parametrize(
    ("footprint", "height", "message"),
    [
        (
            (0.06, 0.06),
            0.12,
            r"does not lie on its side.*footprint is [6-8]\.\d × [6-8]\.\d cm",
        ),  # a standing can/box
        ((0.08, 0.05), 0.15, r"does not lie on its side.*1[45]\.\d cm tall"),  # a tall box on its end
    ],
)
def test_an_object_that_does_not_lie_cannot_be_stood_up(footprint, height, message):
    rng = np.random.default_rng(0)
    points = rng.uniform([0, 0, 0.0], [footprint[0], footprint[1], height], size=(2000, 3))
    with pytest.raises(GroundingError, match=message):
        standing_axis(points, np.array([0.0, 0.0, 1.0]), name="blue box")


def test_too_few_points_are_refused():
    with pytest.raises(GroundingError, match="only 5 points"):
        standing_axis(np.zeros((5, 3)), np.array([0.0, 0.0, 1.0]))


def test_the_axis_is_validated():
    with pytest.raises(ValueError, match="unit vector"):
        StandingAxis(np.zeros(3), np.array([1.0, 1.0, 0.0]), 0.1, 0.02, np.zeros(3))


def test_upright_0065_with_the_neck_hidden_the_end_showing_a_flat_face_is_the_base():
    """The heights of the two ends tie (only the body is seen), but the camera sees the base's flat face:
    its points crowd that end (upright-0065: the neck lay behind the body)."""
    z, phi = np.meshgrid(np.linspace(0, 0.11, 56), np.linspace(0.0, np.pi, 24))
    body = np.stack([z.ravel(), 0.03 * np.cos(phi.ravel()), 0.03 + 0.03 * np.sin(phi.ravel())], axis=1)
    rho, theta = np.meshgrid(np.linspace(0.0, 0.03, 8), np.linspace(0.0, np.pi, 24))
    face = np.stack(
        [
            np.full(rho.size, 0.11),
            rho.ravel() * np.cos(theta.ravel()),
            0.03 + rho.ravel() * np.sin(theta.ravel()),
        ],
        axis=1,
    )
    for flip in (1.0, -1.0):  # the face at either end
        points = np.concatenate([body, face]) * [flip, 1.0, 1.0]
        found = standing_axis(points, np.array([0.0, 0.0, 1.0]))
        assert found.axis[0] == pytest.approx(-flip, abs=0.05)  # base → top points away from the face
