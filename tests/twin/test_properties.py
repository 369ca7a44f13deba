import pytest

from physworld_core.twin.properties import DENSITY_BY_NOUN, DensityPrior, PropertyPriors


def test_mass_is_volume_times_the_general_prior_for_an_unknown_category():
    priors = PropertyPriors()
    mass, (low, high) = priors.mass_for(1e-3, "can")
    assert mass == pytest.approx(priors.density * 1e-3)
    assert (low, high) == pytest.approx((priors.density_range[0] * 1e-3, priors.density_range[1] * 1e-3))


def test_a_lid_gets_its_category_range_which_reaches_glass():
    """A solid glass lid (2500 kg/m³) lies outside the general range but inside the lid's."""
    priors = PropertyPriors()
    volume = 2e-4
    glass_lid_mass = 2500.0 * volume
    _, general = priors.mass_for(volume, "can")
    mass, lid_range = priors.mass_for(volume, "pot lid")
    assert not general[0] <= glass_lid_mass <= general[1]
    assert lid_range[0] <= glass_lid_mass <= lid_range[1]
    assert mass == pytest.approx(DENSITY_BY_NOUN["lid"].nominal * volume)


def test_bad_volumes_and_priors_are_refused():
    with pytest.raises(ValueError, match="volume"):
        PropertyPriors().mass_for(0.0, "lid")
    with pytest.raises(ValueError, match="low <= nominal <= high"):
        DensityPrior(100.0, 200.0, 300.0, "inverted")


def test_the_twin_takes_the_targets_density_from_what_the_prompt_calls_it(bin_reconstruction, bin_scene):
    import dataclasses

    from physworld_core.twin.build import build_twin

    def target_range(noun):
        recon = dataclasses.replace(
            bin_reconstruction, metrics={**bin_reconstruction.metrics, "object_noun": noun}
        )
        spec = build_twin(recon, bin_scene.camera.to_json(), (0.6, 0.4, 0.3)).spec
        return spec.target.mass_range, [o.mass_range for o in spec.objects if o.role == "obstacle"]

    (can_low, can_high), can_obstacles = target_range("can")
    (lid_low, lid_high), lid_obstacles = target_range("pot lid")
    assert target_range("cover")[0] == (lid_low, lid_high)  # what the lid worlds also call a lid
    assert can_high / can_low == pytest.approx(1200 / 120)
    assert lid_high / lid_low == pytest.approx(2700 / 250)
    assert lid_obstacles == can_obstacles  # only the target is named by the prompt
