"""Tests of the generator registry and the default trainings."""

import pytest

from hea_zoo.models import (
    CAE,
    CVAE,
    CFlow,
    GENERATORS,
    WCGAN,
    ConditionalGenerator,
    get_generator_class,
    train_default_generator,
    train_default_surrogate,
)


def test_registry():
    assert GENERATORS == {"cae": CAE, "cvae": CVAE, "wcgan": WCGAN, "flow": CFlow}
    assert get_generator_class("CVAE") is CVAE
    assert all(issubclass(cls, ConditionalGenerator) for cls in GENERATORS.values())


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"'gan'.*\['cae', 'cvae', 'flow', 'wcgan'\]"):
        get_generator_class("gan")


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_train_default_generator(name, dataset):
    model = train_default_generator(name, dataset, epochs=1, seed=0)
    assert isinstance(model, GENERATORS[name])
    assert model.is_trained and model.is_adapted
    assert model.elements == dataset.elements
    assert model.condition_names == dataset.property_names
    assert model.condition_units == dataset.property_units
    assert model.data_fingerprint == dataset.source_fingerprint
    assert model.training_seconds > 0


@pytest.mark.parametrize("epochs", [0, -3, 2.5, True])
def test_default_trainings_refuse_fewer_than_one_epoch(epochs, dataset):
    for name in GENERATORS:
        with pytest.raises(ValueError, match=f"epochs.*Received: epochs={epochs!r}"):
            train_default_generator(name, dataset, epochs=epochs)
    with pytest.raises(ValueError, match=f"epochs.*Received: epochs={epochs!r}"):
        train_default_surrogate(dataset, epochs=epochs)
