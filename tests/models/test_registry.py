"""Tests of the generator registry and the default training."""

import pytest

from hea_zoo.models import (
    CAE,
    CVAE,
    GENERATORS,
    WCGAN,
    ConditionalGenerator,
    get_generator_class,
    train_default_generator,
)


def test_registry():
    assert GENERATORS == {"cae": CAE, "cvae": CVAE, "wcgan": WCGAN}
    assert get_generator_class("CVAE") is CVAE
    assert all(issubclass(cls, ConditionalGenerator) for cls in GENERATORS.values())


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"'gan'.*\['cae', 'cvae', 'wcgan'\]"):
        get_generator_class("gan")


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_train_default_generator(name, dataset):
    model = train_default_generator(name, dataset, epochs=1, seed=0)
    assert isinstance(model, GENERATORS[name])
    assert model.is_trained
    assert model.elements == dataset.elements
    assert model.condition_names == dataset.property_names
    assert model.condition_units == dataset.property_units
    assert model.training_seconds > 0
