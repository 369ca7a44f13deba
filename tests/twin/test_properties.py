import pytest

from physworld_core.twin.properties import DENSITY_BY_NOUN, DensityPrior, PropertyPriors


def test_mass_is_volume_times_the_general_prior_for_an_unknown_category():
    priors = PropertyPriors()
    mass, (low, high) = priors.mass_for(1e-3, "red can")
    assert mass == pytest.approx(priors.density * 1e-3)
    assert (low, high) == pytest.approx((priors.density_range[0] * 1e-3, priors.density_range[1] * 1e-3))


def test_a_lid_gets_its_category_range_which_reaches_glass():
    """A solid glass lid (2500 kg/m³) lies outside the general range but inside the lid's."""
    priors = PropertyPriors()
    volume = 2e-4
    glass_lid_mass = 2500.0 * volume
    _, general = priors.mass_for(volume, "blue can")
    mass, lid_range = priors.mass_for(volume, "blue lid")
    assert not general[0] <= glass_lid_mass <= general[1]
    assert lid_range[0] <= glass_lid_mass <= lid_range[1]
    assert mass == pytest.approx(DENSITY_BY_NOUN["lid"].nominal * volume)


def test_bad_volumes_and_priors_are_refused():
    with pytest.raises(ValueError, match="volume"):
        PropertyPriors().mass_for(0.0, "lid")
    with pytest.raises(ValueError, match="low <= nominal <= high"):
        DensityPrior(100.0, 200.0, 300.0, "inverted")
